package org

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"unicode"

	"github.com/posture-auditor/posture-auditor/pkg/resource"
	"github.com/posture-auditor/posture-auditor/pkg/trigger"
)

const keyARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

func TestParseMessageAccepts(t *testing.T) {
	for _, body := range []string{
		`{"account":"111122223333","region":"eu-west-1","trigger":"schedule","run":"schedule 2025-01-01T00:00:00Z"}`,
		`{"account":"111122223333","region":"all","trigger":"on-demand","checks":["kms.rotation"],"dryRun":true}`,
		`{"account":"111122223333","region":"eu-west-1","trigger":"event","targets":[{"ref":{"kind":"kms-key","partition":"aws","account":"111122223333","region":"eu-west-1","id":"` + keyARN + `","arn":"` + keyARN + `"},"dependents":true}]}`,
		// A global kind is read in the home region, the message's region.
		`{"account":"111122223333","region":"us-east-1","trigger":"event","targets":[{"ref":{"kind":"cloudfront-distribution","partition":"aws","account":"111122223333","id":"arn:aws:cloudfront::111122223333:distribution/E1"}}]}`,
	} {
		m, err := ParseMessage([]byte(body))
		if err != nil {
			t.Errorf("%s: %v", body, err)
			continue
		}
		// What is accepted survives a round trip unchanged.
		again, err := m.Body()
		if err != nil {
			t.Fatal(err)
		}
		m2, err := ParseMessage([]byte(again))
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Errorf("round trip of %s: %+v, %v", body, m2, err)
		}
	}
}

func TestParseMessageRefuses(t *testing.T) {
	target := func(account, region string) string {
		return `{"ref":{"kind":"kms-key","partition":"aws","account":"` + account + `","region":"` + region + `","id":"k","arn":"k"}}`
	}
	many := make([]string, MaxTargets+1)
	for i := range many {
		many[i] = target("111122223333", "eu-west-1")
	}
	for _, tc := range []struct{ body, want string }{
		{``, "malformed organization message"},
		{`not json`, "malformed organization message"},
		{`[]`, "malformed organization message"},
		{`{"account":"111122223333","region":"eu-west-1","trigger":"schedule"} {}`, "trailing data"},
		{`{"account":"111122223333","region":"eu-west-1","trigger":"schedule","Regions":["x"]}`, "unknown field"},
		{`{"ACCount":"111122223333","region":"eu-west-1","trigger":"schedule"}`, `unknown field "ACCount"`},
		{`{"account":"11112222333","region":"eu-west-1","trigger":"schedule"}`, `account "11112222333" is not a 12-digit account ID`},
		{`{"account":"11112222333a","region":"eu-west-1","trigger":"schedule"}`, "12-digit"},
		{`{"account":111122223333,"region":"eu-west-1","trigger":"schedule"}`, "malformed organization message"},
		{`{"region":"eu-west-1","trigger":"schedule"}`, `account ""`},
		{`{"account":"111122223333","region":"mars","trigger":"schedule"}`, `malformed region "mars"`},
		{`{"account":"111122223333","region":"EU-WEST-1","trigger":"schedule"}`, "malformed region"},
		{`{"account":"111122223333","trigger":"schedule"}`, `malformed region ""`},
		{`{"account":"111122223333","region":"eu-west-1","trigger":"sweep"}`, `trigger "sweep" is not one of`},
		{`{"account":"111122223333","region":"eu-west-1"}`, `trigger ""`},
		{`{"account":"111122223333","region":"eu-west-1","trigger":"schedule","checks":["kms.nope"]}`, `unknown check ID "kms.nope"`},
		{`{"account":"111122223333","region":"eu-west-1","trigger":"event"}`, "needs targets"},
		{`{"account":"111122223333","region":"all","trigger":"event","targets":[` + target("111122223333", "eu-west-1") + `]}`, "for sweeps only"},
		{`{"account":"111122223333","region":"all","trigger":"schedule","enabled":true}`, "said of one region"},
		{`{"account":"111122223333","region":"eu-west-1","trigger":"schedule","targets":[` + target("111122223333", "eu-west-1") + `]}`, `targets are for trigger "event"`},
		{`{"account":"111122223333","region":"eu-west-1","trigger":"event","dryRun":true,"targets":[` + target("111122223333", "eu-west-1") + `]}`, "never a dry run"},
		{`{"account":"111122223333","region":"eu-west-1","trigger":"event","targets":[` + target("444455556666", "eu-west-1") + `]}`, `belongs to account "444455556666"`},
		{`{"account":"111122223333","region":"eu-west-1","trigger":"event","targets":[` + target("111122223333", "us-east-1") + `]}`, `in region "us-east-1"`},
		// The ARN is what is read: its account is the message's too.
		{`{"account":"111122223333","region":"eu-west-1","trigger":"event","targets":[{"ref":{"kind":"kms-key","partition":"aws","account":"111122223333","region":"eu-west-1","id":"` + strings.Replace(keyARN, "111122223333", "444455556666", 1) + `","arn":"` + strings.Replace(keyARN, "111122223333", "444455556666", 1) + `"}}]}`, `names account "444455556666"`},
		{`{"account":"111122223333","region":"eu-west-1","trigger":"event","targets":[{"ref":{"kind":"kms-key","partition":"aws","account":"111122223333","region":"eu-west-1","id":"` + keyARN + `","arn":"` + strings.Replace(keyARN, "111122223333", "444455556666", 1) + `"}}]}`, `names account "444455556666"`},
		{`{"account":"111122223333","region":"eu-west-1","trigger":"event","targets":[{"ref":{"kind":"kms-thing","partition":"aws","account":"111122223333","region":"eu-west-1","id":"k"}}]}`, `unknown kind "kms-thing"`},
		{`{"account":"111122223333","region":"eu-west-1","trigger":"event","targets":[{"ref":{"kind":"kms-key","account":"111122223333","region":"eu-west-1","id":"k"}}]}`, "no partition"},
		{`{"account":"111122223333","region":"eu-west-1","trigger":"event","targets":[{"ref":{"kind":"kms-key","partition":"aws","account":"111122223333","region":"eu-west-1"}}]}`, "no identifier"},
		{`{"account":"111122223333","region":"eu-west-1","trigger":"event","targets":[` + strings.Join(many, ",") + `]}`, "at most 100"},
	} {
		_, err := ParseMessage([]byte(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.120s: error %v, want it to mention %q", tc.body, err, tc.want)
		}
	}
}

func TestGroupAndDeduplication(t *testing.T) {
	m := Message{Account: "111122223333", Region: "eu-west-1", Trigger: trigger.Schedule, Run: "schedule 2025-01-01T00:00:00Z"}
	if g := m.GroupID(); g != "111122223333/eu-west-1" {
		t.Errorf("group %q", g)
	}
	b1, _ := m.Body()
	other := m
	other.Run = "schedule 2025-01-01T06:00:00Z"
	b2, _ := other.Body()
	if DeduplicationID(b1) != DeduplicationID(b1) || DeduplicationID(b1) == DeduplicationID(b2) {
		t.Error("the same body must deduplicate, another run must not")
	}
	if n := len(DeduplicationID(b1)); n == 0 || n > 128 {
		t.Errorf("deduplication ID of %d characters (SQS allows 1 to 128)", n)
	}
}

func TestParsePlanRequest(t *testing.T) {
	req, err := ParsePlanRequest([]byte(`{"detail-type":"Scheduled Event","source":"aws.scheduler","time":"2025-01-01T06:00:00Z"}`), "req-1")
	if err != nil || req.Trigger != trigger.Schedule || req.Run != "schedule 2025-01-01T06:00:00Z" {
		t.Errorf("scheduled: %+v %v", req, err)
	}
	req, err = ParsePlanRequest([]byte(`{"accounts":["111122223333"," 111122223333"],"regions":["eu-west-1"],"checks":["kms.rotation"],"dryRun":true}`), "req-2")
	if err == nil {
		t.Errorf("an account ID with a space was accepted: %+v", req)
	}
	req, err = ParsePlanRequest([]byte(`{"accounts":["111122223333","111122223333"],"regions":["all"],"dryRun":true}`), "req-2")
	if err != nil || req.Trigger != trigger.OnDemand || !reflect.DeepEqual(req.Accounts, []string{"111122223333"}) || !req.DryRun || req.Run != "on-demand req-2" || req.Regions[0] != AllRegions {
		t.Errorf("on-demand: %+v %v", req, err)
	}
	if req, err := ParsePlanRequest([]byte(`{"detail-type":"Scheduled Event"}`), "req-4"); err != nil || req.Run != "schedule req-4" {
		t.Errorf("scheduled event without a time: %+v %v", req, err)
	}
	if req, err := ParsePlanRequest(nil, "req-3"); err != nil || req.Trigger != trigger.OnDemand {
		t.Errorf("empty event: %+v %v", req, err)
	}
	for _, bad := range []string{
		`{"detail-type":"Object Created"}`, `{"dryrun":true}`, `{"accounts":[]}`, `{"accounts":["1234"]}`,
		`{"regions":["all","eu-west-1"]}`, `{"regions":["eu-west"]}`, `{"checks":["nope"]}`, `"x"`, `{"accounts":"111122223333"}`,
	} {
		if req, err := ParsePlanRequest([]byte(bad), "r"); err == nil {
			t.Errorf("%s accepted: %+v", bad, req)
		}
	}
}

func TestParseAccountList(t *testing.T) {
	got, err := ParseAccountList(" 111122223333, 444455556666,,111122223333 ")
	if err != nil || !reflect.DeepEqual(got, []string{"111122223333", "444455556666"}) {
		t.Errorf("%v %v", got, err)
	}
	if got, err := ParseAccountList(""); err != nil || len(got) != 0 {
		t.Errorf("empty: %v %v", got, err)
	}
	for _, bad := range []string{"1111-2222-3333", "111122223333;444455556666", "11112222333", "arn:aws:iam::111122223333:root"} {
		if _, err := ParseAccountList(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzParseMessage: any body is either refused with an error or accepted
// as a message that survives a round trip, whose group is a valid SQS
// message group ID, and whose targets are all of its account.
func FuzzParseMessage(f *testing.F) {
	f.Add(`{"account":"111122223333","region":"eu-west-1","trigger":"schedule"}`)
	f.Add(`{"account":"111122223333","region":"all","trigger":"on-demand","checks":["kms.rotation"],"dryRun":true,"run":"x"}`)
	f.Add(`{"account":"111122223333","region":"eu-west-1","trigger":"event","targets":[{"ref":{"kind":"kms-key","partition":"aws","account":"111122223333","region":"eu-west-1","id":"k"}}]}`)
	f.Add(`{"account":"111122223333","region":"eu-west-1","trigger":"event","targets":[{"ref":{"kind":"kms-key"}}]}`)
	f.Add(`{"account":"111122223333","region":"eu-west-1","trigger":"schedule","enabled":true,"checks":["cloudfront.viewer-tls"],"run":"r"}`)
	f.Add(`{"account":"111122223333","region":"all","trigger":"schedule","enabled":true}`)
	f.Fuzz(func(t *testing.T, body string) {
		m, err := ParseMessage([]byte(body))
		if err != nil {
			if m.Account != "" || m.Region != "" || len(m.Targets) > 0 {
				t.Fatalf("refused message returned content: %+v", m)
			}
			return
		}
		if !resource.ValidAccount(m.Account) {
			t.Fatalf("accepted account %q", m.Account)
		}
		g := m.GroupID()
		if len(g) > 128 {
			t.Fatalf("group %q longer than 128", g)
		}
		for _, r := range g {
			if r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsPunct(r) || unicode.IsSymbol(r)) {
				t.Fatalf("group %q has %q, which SQS refuses", g, r)
			}
		}
		if m.Enabled && m.Region == AllRegions {
			t.Fatalf("accepted \"enabled\" for %q", AllRegions)
		}
		for _, tg := range m.Targets {
			if tg.Ref.Account != m.Account {
				t.Fatalf("target of account %q in a message of %q", tg.Ref.Account, m.Account)
			}
		}
		again, err := m.Body()
		if err != nil {
			t.Fatal(err)
		}
		m2, err := ParseMessage([]byte(again))
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip: %+v -> %+v, %v", m, m2, err)
		}
	})
}

// TestSampleEvents: events/organization's samples are what the functions
// accept, with the group and deduplication ID the queue would give them.
func TestSampleEvents(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile("../../events/organization/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if req, err := ParsePlanRequest(read("planner-scheduled.json"), "x"); err != nil || req.Trigger != trigger.Schedule || req.Run != "schedule 2026-11-27T06:00:00Z" {
		t.Errorf("planner-scheduled.json: %+v %v", req, err)
	}
	if req, err := ParsePlanRequest(read("planner-on-demand.json"), "x"); err != nil || req.Trigger != trigger.OnDemand {
		t.Errorf("planner-on-demand.json: %+v %v", req, err)
	}
	if _, err := ParseMessage(read("worker-message.json")); err != nil {
		t.Errorf("worker-message.json: %v", err)
	}
	var batch struct {
		Records []struct {
			Body       string            `json:"body"`
			Attributes map[string]string `json:"attributes"`
		} `json:"Records"`
	}
	if err := json.Unmarshal(read("worker-sqs-batch.json"), &batch); err != nil || len(batch.Records) == 0 {
		t.Fatalf("worker-sqs-batch.json: %v", err)
	}
	for _, r := range batch.Records {
		m, err := ParseMessage([]byte(r.Body))
		if err != nil {
			t.Errorf("worker-sqs-batch.json: %v", err)
			continue
		}
		if r.Attributes["MessageGroupId"] != m.GroupID() || r.Attributes["MessageDeduplicationId"] != DeduplicationID(r.Body) {
			t.Errorf("worker-sqs-batch.json attributes %v, want group %s", r.Attributes, m.GroupID())
		}
	}
}
