// Package suppression holds no code. Its test keeps three things in step:
// deploy/suppression-rule.yaml, the automation rule docs/suppression.md gives
// for the CLI, and the findings asff.Map makes for tagged resources. Security
// Hub's automation rules cannot run here (moto has none), so the test matches
// the rule's criteria against the findings itself, as Security Hub would.
package suppression
