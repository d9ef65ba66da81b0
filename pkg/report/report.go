// Package report renders a run's summary for people: a plain-text report
// (text/tabwriter, no colours) that puts what needs attention first. The
// scopes that could not be read, then the FAILED findings by severity, the
// findings without a verdict, the counts, what Security Hub was told per
// region, and the notices; for a re-check, what became of each resource.
// It is pure: the same summary always renders the same text.
package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/publish"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
)

// Widths, in characters, beyond which a cell is shortened with "...".
// ARNs and resource IDs keep their end (the part that names the resource);
// messages and reasons keep their start.
const (
	maxResource      = 80
	maxScopeResource = 60
	maxMessage       = 100
	maxReason        = 200
)

// MaxNotAvailableRows bounds the NOT_AVAILABLE list; the count is always
// complete and -format json lists every row.
const MaxNotAvailableRows = 20

// severities is the order of the FAILED groups; any other label follows.
var severities = []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL"}

// Table writes s as a report for people to w.
func Table(w io.Writer, s *runner.Summary) error {
	if s == nil {
		return errors.New("report: no summary")
	}
	var b bytes.Buffer
	header(&b, s)
	failedScopes(&b, s)
	if len(s.Resources) > 0 {
		resources(&b, s)
	}
	failedFindings(&b, s)
	notAvailable(&b, s)
	counts(&b, s)
	lifecycle(&b, s)
	notices(&b, s)
	_, err := w.Write(trimLines(b.Bytes()))
	return err
}

func header(b *bytes.Buffer, s *runner.Summary) {
	account := s.Account
	if account == "" {
		account = "(unknown)"
	}
	trigger := string(s.Trigger)
	if trigger == "" {
		trigger = "run"
	}
	fmt.Fprintf(b, "posture-auditor %s run of account %s: %s in %s\n", trigger, account,
		plural(len(s.Checks), "check"), list(s.Regions))
	if s.DryRun {
		fmt.Fprintln(b, "DRY RUN: nothing was imported into or archived in Security Hub; SECURITY HUB below is what would have been done.")
	}
}

func failedScopes(b *bytes.Buffer, s *runner.Summary) {
	if len(s.FailedScopes) == 0 {
		fmt.Fprintln(b, "\nFAILED SCOPES: none")
		return
	}
	scopes := append([]runner.Scope(nil), s.FailedScopes...)
	sort.SliceStable(scopes, func(i, j int) bool {
		if scopes[i].Region != scopes[j].Region {
			return scopes[i].Region < scopes[j].Region
		}
		return scopes[i].CheckID < scopes[j].CheckID
	})
	fmt.Fprintf(b, "\nFAILED SCOPES: %d (collection did not complete: their findings may be NOT_AVAILABLE, and nothing in them was archived)\n", len(scopes))
	t := newTable(b, "REGION", "CHECK", "OPERATION", "ERROR CODE", "RESOURCE", "MESSAGE")
	for _, sc := range scopes {
		if len(sc.Errors) == 0 {
			t.row(sc.Region, sc.CheckID, "-", "-", "-", "collection did not complete")
			continue
		}
		for _, e := range sc.Errors {
			op := string(e.Service) + ":" + e.Operation
			if e.Service == "" {
				op = e.Operation
			}
			t.row(sc.Region, sc.CheckID, op, e.Code, tail(e.Resource, maxScopeResource), head(e.Message, maxMessage))
		}
		if sc.ErrorsOmitted > 0 {
			t.row(sc.Region, sc.CheckID, "...", "", "", fmt.Sprintf("and %s not listed", plural(sc.ErrorsOmitted, "more error")))
		}
	}
	t.flush()
}

func resources(b *bytes.Buffer, s *runner.Summary) {
	by := map[runner.Outcome]int{}
	for _, r := range s.Resources {
		by[r.Outcome]++
	}
	var parts []string
	for _, o := range []runner.Outcome{runner.Rechecked, runner.Gone, runner.Failed, runner.Skipped} {
		if by[o] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", by[o], o))
		}
	}
	fmt.Fprintf(b, "\nRESOURCES: %d (%s)\n", len(s.Resources), strings.Join(parts, ", "))
	t := newTable(b, "OUTCOME", "KIND", "RESOURCE", "REGION", "REASON")
	// In the order of the request; a key's dependents follow it.
	for _, r := range s.Resources {
		ref := r.Resource
		name := ref.ARN
		if name == "" {
			name = ref.ID
		}
		region := ref.Region
		if region == "" {
			region = "global"
		}
		var reason []string
		if r.Reason != "" {
			reason = append(reason, r.Reason)
		}
		if r.Transient {
			reason = append(reason, "a retry may succeed")
		}
		if r.Via != "" {
			reason = append(reason, "protected by "+via(r.Via))
		}
		t.row(orDash(string(r.Outcome)), string(ref.Kind), tail(name, maxResource), region, head(strings.Join(reason, "; "), maxReason))
	}
	t.flush()
}

// via names the target a dependent was re-checked for, from its Key
// (kind|account|region|id).
func via(key string) string {
	p := strings.Split(key, "|")
	if len(p) != 4 {
		return key
	}
	return p[0] + " " + tail(p[3], maxResource)
}

func failedFindings(b *bytes.Buffer, s *runner.Summary) {
	fs := filter(s.Findings, check.Failed)
	if len(fs) == 0 {
		fmt.Fprintln(b, "\nFAILED: none")
		return
	}
	sort.SliceStable(fs, func(i, j int) bool {
		if ri, rj := severityRank(fs[i].Severity), severityRank(fs[j].Severity); ri != rj {
			return ri < rj
		}
		if fs[i].Severity != fs[j].Severity {
			return fs[i].Severity < fs[j].Severity
		}
		return findingLess(fs[i], fs[j])
	})
	var groups []string
	for i := 0; i < len(fs); {
		j := i
		for j < len(fs) && fs[j].Severity == fs[i].Severity {
			j++
		}
		groups = append(groups, fmt.Sprintf("%s %d", orDash(fs[i].Severity), j-i))
		i = j
	}
	fmt.Fprintf(b, "\nFAILED: %s (%s)\n", plural(len(fs), "finding"), strings.Join(groups, ", "))
	t := newTable(b, "SEVERITY", "CHECK", "RESOURCE", "REGION", "ACTION", "REASON")
	for _, f := range fs {
		t.row(orDash(f.Severity), f.CheckID, tail(name(f), maxResource), f.Region, orDash(string(f.Action)), head(f.Reason, maxReason))
	}
	t.flush()
}

func notAvailable(b *bytes.Buffer, s *runner.Summary) {
	fs := filter(s.Findings, check.NotAvailable)
	if len(fs) == 0 {
		fmt.Fprintln(b, "\nNOT_AVAILABLE: none")
		return
	}
	sort.SliceStable(fs, func(i, j int) bool { return findingLess(fs[i], fs[j]) })
	fmt.Fprintf(b, "\nNOT_AVAILABLE: %s (no verdict: what the check needs could not be read)\n", plural(len(fs), "finding"))
	t := newTable(b, "CHECK", "RESOURCE", "REGION", "REASON")
	for i, f := range fs {
		if i == MaxNotAvailableRows {
			break
		}
		t.row(f.CheckID, tail(name(f), maxResource), f.Region, head(f.Reason, maxMessage))
	}
	t.flush()
	if n := len(fs) - MaxNotAvailableRows; n > 0 {
		fmt.Fprintf(b, "... and %d more (-format json lists them all)\n", n)
	}
}

func counts(b *bytes.Buffer, s *runner.Summary) {
	ids := map[string]bool{}
	for _, id := range s.Checks {
		ids[id] = true
	}
	for id := range s.Counts {
		ids[id] = true
	}
	if len(ids) == 0 {
		fmt.Fprintln(b, "\nCOUNTS: no check ran")
		return
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	statuses := []check.Status{check.Failed, check.NotAvailable, check.Passed}
	fmt.Fprintln(b, "\nCOUNTS BY CHECK AND STATUS")
	t := newTable(b, "CHECK", string(check.Failed), string(check.NotAvailable), string(check.Passed))
	total := make([]int, len(statuses))
	for _, id := range sorted {
		cells := []string{id}
		for i, st := range statuses {
			n := s.Counts[id][st]
			total[i] += n
			cells = append(cells, fmt.Sprint(n))
		}
		t.row(cells...)
	}
	cells := []string{"total"}
	for _, n := range total {
		cells = append(cells, fmt.Sprint(n))
	}
	t.row(cells...)
	t.flush()
	if s.FindingsOmitted > 0 {
		fmt.Fprintf(b, "(%s left out of this summary's rows are counted here)\n", plural(s.FindingsOmitted, "finding"))
	}
}

func lifecycle(b *bytes.Buffer, s *runner.Summary) {
	reports := append(append([]publish.Report(nil), s.Published...), s.WouldPublish...)
	title := "SECURITY HUB"
	if s.DryRun {
		title += " (dry run: what would have been done)"
	}
	if len(reports) == 0 {
		fmt.Fprintln(b, "\n"+title+": nothing published")
		return
	}
	fmt.Fprintln(b, "\n"+title)
	t := newTable(b, "REGION", "NEW", "UPDATED", "RESOLVED", "REACTIVATED", "ARCHIVED", "UNCHANGED", "IMPORTED", "FAILED", "NOTE")
	for _, r := range reports {
		var note []string
		if r.SecurityHubNotEnabled {
			note = append(note, "Security Hub not enabled")
		} else if r.Error != "" {
			note = append(note, "refused: "+orDash(r.ErrorCode))
		}
		if r.Kept > 0 {
			note = append(note, fmt.Sprintf("%d kept", r.Kept))
		}
		if r.KeptFailed > 0 {
			note = append(note, fmt.Sprintf("%d kept FAILED", r.KeptFailed))
		}
		t.row(r.Region, fmt.Sprint(r.New), fmt.Sprint(r.Updated), fmt.Sprint(r.Resolved), fmt.Sprint(r.Reactivated),
			fmt.Sprint(r.Archived), fmt.Sprint(r.Unchanged), fmt.Sprint(r.Imported), fmt.Sprint(r.NotImported()),
			strings.Join(note, ", "))
	}
	if len(reports) > 1 {
		l := s.Lifecycle
		t.row("total", fmt.Sprint(l.New), fmt.Sprint(l.Updated), fmt.Sprint(l.Resolved), fmt.Sprint(l.Reactivated),
			fmt.Sprint(l.Archived), fmt.Sprint(l.Unchanged), fmt.Sprint(l.Imported), fmt.Sprint(l.Failed), "")
	}
	t.flush()
}

func notices(b *bytes.Buffer, s *runner.Summary) {
	if len(s.Notices) == 0 {
		fmt.Fprintln(b, "\nNOTICES: none")
		return
	}
	fmt.Fprintln(b, "\nNOTICES")
	for _, n := range s.Notices {
		fmt.Fprintln(b, "- "+clean(n))
	}
}

// table is a tabwriter over the report's buffer.
type table struct{ w *tabwriter.Writer }

func newTable(b *bytes.Buffer, headers ...string) table {
	t := table{tabwriter.NewWriter(b, 0, 8, 2, ' ', 0)}
	t.row(headers...)
	return t
}

func (t table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = clean(c)
	}
	fmt.Fprintln(t.w, strings.Join(cells, "\t"))
}

// flush cannot fail: the writer is a bytes.Buffer.
func (t table) flush() { _ = t.w.Flush() }

func filter(fs []runner.FindingSummary, st check.Status) []runner.FindingSummary {
	var out []runner.FindingSummary
	for _, f := range fs {
		if f.Status == st {
			out = append(out, f)
		}
	}
	return out
}

func findingLess(a, b runner.FindingSummary) bool {
	if a.CheckID != b.CheckID {
		return a.CheckID < b.CheckID
	}
	if a.Region != b.Region {
		return a.Region < b.Region
	}
	if name(a) != name(b) {
		return name(a) < name(b)
	}
	return a.FindingID < b.FindingID
}

func severityRank(label string) int {
	for i, s := range severities {
		if label == s {
			return i
		}
	}
	if label == "" {
		return len(severities) + 1
	}
	return len(severities)
}

func name(f runner.FindingSummary) string {
	if f.ResourceName != "" {
		return f.ResourceName
	}
	return f.ResourceARN
}

// clean keeps a cell on one line and in its column: AWS messages may hold
// tabs and newlines.
func clean(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	return strings.Join(strings.FieldsFunc(s, isControl), " ")
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// head shortens s to at most n characters, keeping its start.
func head(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-3]) + "..."
}

// tail shortens s to at most n characters, keeping its end.
func tail(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return orDash(s)
	}
	return "..." + string(r[len(r)-(n-3):])
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func list(ss []string) string {
	if len(ss) == 0 {
		return "no region"
	}
	return strings.Join(ss, ", ")
}

// trimLines drops the padding tabwriter leaves after an empty last cell.
func trimLines(p []byte) []byte {
	lines := bytes.Split(p, []byte("\n"))
	for i, l := range lines {
		lines[i] = bytes.TrimRight(l, " ")
	}
	return bytes.Join(lines, []byte("\n"))
}
