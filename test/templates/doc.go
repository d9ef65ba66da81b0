// Package templates tests the deployment templates (template.yaml and
// deploy/*.yaml) as data: the forwarder's event patterns are the home
// stack's, patterns fit EventBridge's quota, the functions' policies and
// environments agree, and the queue wiring holds together. cfn-lint (make
// lint) checks them against CloudFormation's schemas.
package templates
