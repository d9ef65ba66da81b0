package cloudtrailcollect_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/collect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/cloudtrailcollect"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
	"github.com/posture-auditor/posture-auditor/test/motoserver"
	"github.com/posture-auditor/posture-auditor/test/wirefake"
)

func TestMain(m *testing.M) { motoserver.TestMain(m) }

const keyARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"

// seedTrails creates two trails homed in us-east-1 and two in eu-west-1,
// one multi-region trail in each.
func seedTrails(t *testing.T, moto *motoserver.Server) {
	t.Helper()
	ctx := context.Background()
	for _, r := range []string{"us-east-1", "eu-west-1"} {
		cfg, err := moto.Config(ctx, r, nil)
		if err != nil {
			t.Fatal(err)
		}
		in := &s3.CreateBucketInput{Bucket: aws.String("trails-" + r)}
		if r != "us-east-1" {
			in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(r)}
		}
		if _, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).CreateBucket(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	trail := func(region, name string, multi bool, key string, selectors *cloudtrail.PutEventSelectorsInput, logging bool) {
		cfg, _ := moto.Config(ctx, region, nil)
		c := cloudtrail.NewFromConfig(cfg)
		in := &cloudtrail.CreateTrailInput{Name: aws.String(name), S3BucketName: aws.String("trails-" + region), IsMultiRegionTrail: aws.Bool(multi), EnableLogFileValidation: aws.Bool(multi)}
		if key != "" {
			in.KmsKeyId = aws.String(key)
		}
		if _, err := c.CreateTrail(ctx, in); err != nil {
			t.Fatal(err)
		}
		if selectors != nil {
			selectors.TrailName = aws.String(name)
			if _, err := c.PutEventSelectors(ctx, selectors); err != nil {
				t.Fatal(err)
			}
		}
		if logging {
			if _, err := c.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String(name)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	trail("us-east-1", "home-multi", true, keyARN, &cloudtrail.PutEventSelectorsInput{EventSelectors: []cttypes.EventSelector{
		{ReadWriteType: cttypes.ReadWriteTypeAll, IncludeManagementEvents: aws.Bool(true)},
	}}, true)
	trail("us-east-1", "home-single", false, "", nil, true)
	trail("eu-west-1", "away-multi", true, "", &cloudtrail.PutEventSelectorsInput{AdvancedEventSelectors: []cttypes.AdvancedEventSelector{{
		Name: aws.String("reads"), FieldSelectors: []cttypes.AdvancedFieldSelector{
			{Field: aws.String("eventCategory"), Equals: []string{"Management"}},
			{Field: aws.String("readOnly"), Equals: []string{"true"}},
		},
	}}}, false)
	trail("eu-west-1", "away-single", false, "", nil, false)
}

// TestCollectAgainstMoto: the per-region collector reads the region's own
// trails with one DescribeTrails and records the KMS key of the encrypted
// one; the account collector sees both multi-region trails from us-east-1
// and reads their status and selectors in each trail's home region.
func TestCollectAgainstMoto(t *testing.T) {
	moto := motoserver.Fresh(t)
	seedTrails(t, moto)
	ctx := context.Background()
	counter := awsconfig.NewCallCounter()
	cfg, err := moto.Config(ctx, "us-east-1", counter)
	if err != nil {
		t.Fatal(err)
	}
	snap := snapshot.New(motoserver.Account, "aws", "us-east-1")
	cloudtrailcollect.Collector{}.Collect(ctx, cfg, snap, collect.Scope{})
	if !snap.Complete(snapshot.CloudTrail) {
		t.Fatalf("not complete: %v", snap.Errors)
	}
	names := map[string]*snapshot.CloudTrailTrail{}
	for _, tr := range snap.CloudTrail.Trails {
		names[tr.Name] = tr
	}
	if len(names) != 2 || names["home-multi"] == nil || names["home-single"] == nil {
		t.Fatalf("trails homed in us-east-1: %v", names)
	}
	if m := names["home-multi"]; !m.MultiRegion.Known || !m.MultiRegion.Value || !m.LogFileValidation.Known || !m.LogFileValidation.Value || m.KMSKeyID != keyARN || m.HomeRegion != "us-east-1" ||
		m.ARN != "arn:aws:cloudtrail:us-east-1:123456789012:trail/home-multi" || m.S3BucketName != "trails-us-east-1" || m.Logging.Known {
		t.Errorf("home-multi: %+v", m)
	}
	if s := names["home-single"]; !s.MultiRegion.Known || s.MultiRegion.Value || !s.LogFileValidation.Known || s.LogFileValidation.Value || s.KMSKeyID != "" {
		t.Errorf("home-single: %+v", s)
	}
	uses := snap.KeyUses()
	if len(uses) != 1 || uses[0].KeyRef != keyARN || uses[0].ResourceType != "AwsCloudTrailTrail" || uses[0].DefaultAlias != "" {
		t.Errorf("key uses: %+v (an SSE-S3 trail uses no key)", uses)
	}
	if got := counter.Count("CloudTrail", "DescribeTrails"); got != 1 || counter.Total() != 1 {
		t.Errorf("per-region collection made %+v, want one DescribeTrails", counter.Snapshot())
	}

	counter = awsconfig.NewCallCounter()
	cfg, _ = moto.Config(ctx, "us-east-1", counter)
	cloudtrailcollect.AccountCollector{}.Collect(ctx, cfg, snap, collect.Scope{})
	if !snap.Complete(snapshot.CloudTrailAccount) || !snap.CloudTrail.MultiRegionTrails.Known {
		t.Fatalf("account view not complete: %v", snap.Errors)
	}
	multi := map[string]*snapshot.CloudTrailTrail{}
	for _, tr := range snap.CloudTrail.MultiRegionTrails.Value {
		multi[tr.Name] = tr
	}
	if len(multi) != 2 {
		t.Fatalf("multi-region trails: %v", multi)
	}
	if h := multi["home-multi"]; !h.Logging.Known || !h.Logging.Value || !h.ManagementEvents.Known || !h.ManagementEvents.Value.All() {
		t.Errorf("home-multi: logging %+v events %+v", h.Logging, h.ManagementEvents)
	}
	a := multi["away-multi"]
	if a.HomeRegion != "eu-west-1" || !a.Logging.Known || a.Logging.Value || !a.ManagementEvents.Known ||
		!reflect.DeepEqual(a.ManagementEvents.Value, snapshot.ManagementEventCoverage{Read: true}) {
		t.Errorf("away-multi: home %s logging %+v events %+v", a.HomeRegion, a.Logging, a.ManagementEvents)
	}
	for op, want := range map[string]int{"DescribeTrails": 1, "GetTrailStatus": 2, "GetEventSelectors": 2} {
		if got := counter.Count("CloudTrail", op); got != want {
			t.Errorf("%s called %d times, want %d", op, got, want)
		}
	}
	if len(snap.KeyUses()) != 1 {
		t.Error("the account view must not record key uses again")
	}

	// One trail by name.
	one := snapshot.New(motoserver.Account, "aws", "us-east-1")
	cloudtrailcollect.Collector{}.Collect(ctx, cfg, one, collect.Scope{ResourceIDs: []string{"home-single"}})
	if len(one.CloudTrail.Trails) != 1 || one.CloudTrail.Trails[0].Name != "home-single" {
		t.Errorf("scoped: %+v", one.CloudTrail.Trails)
	}
}

const account = "111122223333"

// fakeCloudTrail answers for a management-account organization trail, the
// account's own multi-region trail and a single-region trail; status is
// denied for the organization trail.
func fakeCloudTrail(describeErr *wirefake.Error) *wirefake.Server {
	trails := []map[string]any{
		{"Name": "org", "TrailARN": "arn:aws:cloudtrail:eu-west-1:999999999999:trail/org", "HomeRegion": "eu-west-1", "IsMultiRegionTrail": true, "IsOrganizationTrail": true,
			"LogFileValidationEnabled": true},
		{"Name": "main", "TrailARN": "arn:aws:cloudtrail:us-east-1:" + account + ":trail/main", "HomeRegion": "us-east-1", "IsMultiRegionTrail": true,
			"LogFileValidationEnabled": true, "KmsKeyId": "arn:aws:kms:us-east-1:" + account + ":key/k", "HasCustomEventSelectors": true},
		{"Name": "local", "TrailARN": "arn:aws:cloudtrail:us-east-1:" + account + ":trail/local", "HomeRegion": "us-east-1", "IsMultiRegionTrail": false,
			"LogFileValidationEnabled": false},
	}
	return wirefake.NewJSON(func(op string, in map[string]any) (any, *wirefake.Error) {
		switch op {
		case "DescribeTrails":
			if describeErr != nil {
				return nil, describeErr
			}
			if in["includeShadowTrails"] == false {
				var own []map[string]any
				for _, t := range trails {
					if t["HomeRegion"] == "us-east-1" && strings.Contains(t["TrailARN"].(string), account) {
						own = append(own, t)
					}
				}
				return map[string]any{"trailList": own}, nil
			}
			return map[string]any{"trailList": trails}, nil
		case "GetTrailStatus":
			if strings.Contains(in["Name"].(string), "999999999999") {
				return nil, wirefake.AccessDenied("cloudtrail:GetTrailStatus")
			}
			return map[string]any{"IsLogging": true}, nil
		case "GetEventSelectors":
			return map[string]any{"TrailARN": in["TrailName"], "EventSelectors": []any{map[string]any{"ReadWriteType": "All", "IncludeManagementEvents": true}}}, nil
		}
		return nil, &wirefake.Error{Code: "UnknownOperationException", Message: op}
	})
}

func fakeConfig(t *testing.T, url string, counter *awsconfig.CallCounter) aws.Config {
	return wirefake.Config(t, url, "us-east-1", counter)
}

// TestAccountViewKeepsDeniedStatusUnknown: an organization trail whose
// status is denied stays a candidate with an unknown status and the reason.
func TestAccountViewKeepsDeniedStatusUnknown(t *testing.T) {
	fake := fakeCloudTrail(nil)
	defer fake.Close()
	counter := awsconfig.NewCallCounter()
	snap := snapshot.New(account, "aws", "us-east-1")
	cloudtrailcollect.AccountCollector{}.Collect(context.Background(), fakeConfig(t, fake.URL, counter), snap, collect.Scope{})
	trails := snap.CloudTrail.MultiRegionTrails
	if !trails.Known || len(trails.Value) != 2 {
		t.Fatalf("multi-region trails: %+v", trails)
	}
	org := trails.Value[0]
	if org.Name != "org" || !org.Organization || org.Logging.Known {
		t.Fatalf("org trail: %+v", org)
	}
	if want := "GetTrailStatus failed: AccessDeniedException: User is not authorized to perform: cloudtrail:GetTrailStatus"; org.Logging.Reason != want {
		t.Errorf("reason %q, want %q", org.Logging.Reason, want)
	}
	if !org.ManagementEvents.Known || !org.ManagementEvents.Value.All() {
		t.Errorf("org selectors: %+v", org.ManagementEvents)
	}
	if errs := snap.Errors[snapshot.CloudTrailAccount]; len(errs) != 1 || errs[0].Operation != "GetTrailStatus" || errs[0].Resource != org.ARN {
		t.Errorf("errors: %+v", errs)
	}
	if counter.Count("CloudTrail", "GetTrailStatus") != 2 || counter.Count("CloudTrail", "GetEventSelectors") != 2 {
		t.Errorf("calls: %+v (the single-region trail needs neither)", counter.Snapshot())
	}
}

// TestOwnTrailsSkipOtherAccounts: the per-region collection keeps the
// account's own trails homed in the region, and records only their keys.
func TestOwnTrailsSkipOtherAccounts(t *testing.T) {
	fake := fakeCloudTrail(nil)
	defer fake.Close()
	snap := snapshot.New(account, "aws", "us-east-1")
	cloudtrailcollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, nil), snap, collect.Scope{})
	if len(snap.CloudTrail.Trails) != 2 || snap.CloudTrail.Trails[0].Name != "main" || !snap.CloudTrail.Trails[0].HasCustomEventSelectors {
		t.Fatalf("trails: %+v", snap.CloudTrail.Trails)
	}
	if len(snap.KeyUses()) != 1 || fake.Calls("GetTrailStatus") != 0 {
		t.Errorf("key uses %+v, status calls %d", snap.KeyUses(), fake.Calls("GetTrailStatus"))
	}
}

// TestDescribeDenied: the failed list is recorded; the per-region view has
// no trails and the account view is unknown with the reason.
func TestDescribeDenied(t *testing.T) {
	fake := fakeCloudTrail(wirefake.AccessDenied("cloudtrail:DescribeTrails"))
	defer fake.Close()
	cfg := fakeConfig(t, fake.URL, nil)
	snap := snapshot.New(account, "aws", "us-east-1")
	cloudtrailcollect.Collector{}.Collect(context.Background(), cfg, snap, collect.Scope{})
	cloudtrailcollect.AccountCollector{}.Collect(context.Background(), cfg, snap, collect.Scope{})
	if len(snap.CloudTrail.Trails) != 0 || snap.CloudTrail.MultiRegionTrails.Known {
		t.Fatalf("after a denied DescribeTrails: %+v %+v", snap.CloudTrail.Trails, snap.CloudTrail.MultiRegionTrails)
	}
	if !strings.HasPrefix(snap.CloudTrail.MultiRegionTrails.Reason, "DescribeTrails failed: AccessDeniedException") {
		t.Errorf("reason: %q", snap.CloudTrail.MultiRegionTrails.Reason)
	}
	for _, svc := range []snapshot.Service{snapshot.CloudTrail, snapshot.CloudTrailAccount} {
		if errs := snap.Errors[svc]; len(errs) != 1 || errs[0].Operation != "DescribeTrails" || snap.Complete(svc) {
			t.Errorf("%s errors: %+v", svc, errs)
		}
	}
}

func TestCoverage(t *testing.T) {
	f := func(field string, eq, neq []string) cttypes.AdvancedFieldSelector {
		return cttypes.AdvancedFieldSelector{Field: aws.String(field), Equals: eq, NotEquals: neq}
	}
	mgmt := f("eventCategory", []string{"Management"}, nil)
	all := snapshot.ManagementEventCoverage{Read: true, Write: true}
	tests := []struct {
		name     string
		classic  []cttypes.EventSelector
		advanced []cttypes.AdvancedEventSelector
		want     snapshot.ManagementEventCoverage
	}{
		{"classic all", []cttypes.EventSelector{{ReadWriteType: "All", IncludeManagementEvents: aws.Bool(true)}}, nil, all},
		{"classic default include", []cttypes.EventSelector{{ReadWriteType: "All"}}, nil, all},
		{"classic management excluded", []cttypes.EventSelector{{ReadWriteType: "All", IncludeManagementEvents: aws.Bool(false)}}, nil, snapshot.ManagementEventCoverage{}},
		{"classic write only", []cttypes.EventSelector{{ReadWriteType: "WriteOnly", IncludeManagementEvents: aws.Bool(true)}}, nil, snapshot.ManagementEventCoverage{Write: true}},
		{"classic read plus write", []cttypes.EventSelector{{ReadWriteType: "ReadOnly"}, {ReadWriteType: "WriteOnly"}}, nil, all},
		// The AWS Config rule behind CloudTrail.1 (multi-region-cloudtrail-
		// enabled) is NON_COMPLIANT when management event sources are
		// excluded: such a trail does not record all management events.
		{"classic excluding KMS", []cttypes.EventSelector{{ReadWriteType: "All", ExcludeManagementEventSources: []string{"kms.amazonaws.com"}}}, nil,
			snapshot.ManagementEventCoverage{Read: true, Write: true, Excluded: []string{"kms.amazonaws.com"}}},
		{"classic excluding RDS Data API and KMS", []cttypes.EventSelector{{ReadWriteType: "All", ExcludeManagementEventSources: []string{"rdsdata.amazonaws.com", "kms.amazonaws.com"}}}, nil,
			snapshot.ManagementEventCoverage{Read: true, Write: true, Excluded: []string{"kms.amazonaws.com", "rdsdata.amazonaws.com"}}},
		{"classic exclusion made up by another selector", []cttypes.EventSelector{
			{ReadWriteType: "All", ExcludeManagementEventSources: []string{"kms.amazonaws.com"}}, {ReadWriteType: "All"},
		}, nil, all},
		{"classic KMS reads excluded by the only read selector", []cttypes.EventSelector{
			{ReadWriteType: "ReadOnly", ExcludeManagementEventSources: []string{"kms.amazonaws.com"}}, {ReadWriteType: "WriteOnly"},
		}, nil, snapshot.ManagementEventCoverage{Read: true, Write: true, Excluded: []string{"kms.amazonaws.com"}}},
		{"classic empty exclusion list", []cttypes.EventSelector{{ReadWriteType: "All", ExcludeManagementEventSources: []string{}}}, nil, all},
		{"advanced excluding KMS", nil, []cttypes.AdvancedEventSelector{{FieldSelectors: []cttypes.AdvancedFieldSelector{mgmt, f("eventSource", nil, []string{"kms.amazonaws.com"})}}},
			snapshot.ManagementEventCoverage{Read: true, Write: true, Excluded: []string{"kms.amazonaws.com"}}},
		{"advanced excluding RDS Data API, reads only", nil, []cttypes.AdvancedEventSelector{{FieldSelectors: []cttypes.AdvancedFieldSelector{
			mgmt, f("readOnly", []string{"true"}, nil), f("eventSource", nil, []string{"rdsdata.amazonaws.com"}),
		}}}, snapshot.ManagementEventCoverage{Read: true, Excluded: []string{"rdsdata.amazonaws.com"}}},
		{"advanced exclusion made up by a KMS-only selector", nil, []cttypes.AdvancedEventSelector{
			{FieldSelectors: []cttypes.AdvancedFieldSelector{mgmt, f("eventSource", nil, []string{"kms.amazonaws.com"})}},
			{FieldSelectors: []cttypes.AdvancedFieldSelector{mgmt, f("eventSource", []string{"kms.amazonaws.com"}, nil)}},
		}, all},
		{"advanced one source only", nil, []cttypes.AdvancedEventSelector{{FieldSelectors: []cttypes.AdvancedFieldSelector{mgmt, f("eventSource", []string{"kms.amazonaws.com"}, nil)}}},
			snapshot.ManagementEventCoverage{}},
		{"advanced exclusion on data events only does not matter", nil, []cttypes.AdvancedEventSelector{
			{FieldSelectors: []cttypes.AdvancedFieldSelector{mgmt}},
			{FieldSelectors: []cttypes.AdvancedFieldSelector{f("eventCategory", []string{"Data"}, nil), f("eventSource", nil, []string{"kms.amazonaws.com"})}},
		}, all},
		{"advanced management", nil, []cttypes.AdvancedEventSelector{{FieldSelectors: []cttypes.AdvancedFieldSelector{mgmt}}}, all},
		{"advanced reads only", nil, []cttypes.AdvancedEventSelector{{FieldSelectors: []cttypes.AdvancedFieldSelector{mgmt, f("readOnly", []string{"true"}, nil)}}}, snapshot.ManagementEventCoverage{Read: true}},
		{"advanced not read-only", nil, []cttypes.AdvancedEventSelector{{FieldSelectors: []cttypes.AdvancedFieldSelector{mgmt, f("readOnly", nil, []string{"true"})}}}, snapshot.ManagementEventCoverage{Write: true}},
		{"advanced reads and writes in two selectors", nil, []cttypes.AdvancedEventSelector{
			{FieldSelectors: []cttypes.AdvancedFieldSelector{mgmt, f("readOnly", []string{"true"}, nil)}},
			{FieldSelectors: []cttypes.AdvancedFieldSelector{mgmt, f("readOnly", []string{"false"}, nil)}},
		}, all},
		{"advanced data events only", nil, []cttypes.AdvancedEventSelector{{FieldSelectors: []cttypes.AdvancedFieldSelector{f("eventCategory", []string{"Data"}, nil), f("resources.type", []string{"AWS::S3::Object"}, nil)}}}, snapshot.ManagementEventCoverage{}},
		{"no selectors", nil, nil, snapshot.ManagementEventCoverage{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cloudtrailcollect.Coverage(tt.classic, tt.advanced); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestMissingDescribeFieldsAreUnknownAndRecorded: DescribeTrails without
// LogFileValidationEnabled or IsMultiRegionTrail (AWS always sends both)
// leaves them unknown, never false, and records the gap, so the scope is
// incomplete; a trail of unknown kind stays in the account view, unread,
// and a GetTrailStatus without IsLogging is recorded the same way.
func TestMissingDescribeFieldsAreUnknownAndRecorded(t *testing.T) {
	fake := wirefake.NewJSON(func(op string, in map[string]any) (any, *wirefake.Error) {
		switch op {
		case "DescribeTrails":
			return map[string]any{"trailList": []any{
				map[string]any{"Name": "bare", "TrailARN": "arn:aws:cloudtrail:us-east-1:" + account + ":trail/bare", "HomeRegion": "us-east-1"},
				map[string]any{"Name": "multi", "TrailARN": "arn:aws:cloudtrail:us-east-1:" + account + ":trail/multi", "HomeRegion": "us-east-1",
					"IsMultiRegionTrail": true, "LogFileValidationEnabled": true},
			}}, nil
		case "GetTrailStatus":
			return map[string]any{}, nil
		case "GetEventSelectors":
			return map[string]any{"EventSelectors": []any{map[string]any{"ReadWriteType": "All"}}}, nil
		}
		return nil, &wirefake.Error{Code: "UnknownOperationException", Message: op}
	})
	defer fake.Close()
	counter := awsconfig.NewCallCounter()
	cfg := fakeConfig(t, fake.URL, counter)
	snap := snapshot.New(account, "aws", "us-east-1")
	cloudtrailcollect.Collector{}.Collect(context.Background(), cfg, snap, collect.Scope{})
	cloudtrailcollect.AccountCollector{}.Collect(context.Background(), cfg, snap, collect.Scope{})

	bare := snap.CloudTrail.Trails[0]
	if bare.Name != "bare" || bare.LogFileValidation.Known || bare.LogFileValidation.Reason != "DescribeTrails returned no LogFileValidationEnabled" || bare.MultiRegion.Known {
		t.Errorf("per-region view of a trail without the fields: %+v", bare)
	}
	if errs := snap.Errors[snapshot.CloudTrail]; len(errs) != 1 || errs[0].Operation != "DescribeTrails" || errs[0].Resource != bare.ARN || errs[0].Code != collect.IncompleteResponse {
		t.Errorf("per-region errors: %+v", errs)
	}
	trails := snap.CloudTrail.MultiRegionTrails
	if !trails.Known || len(trails.Value) != 2 {
		t.Fatalf("account view: %+v (a trail of unknown kind must be kept)", trails)
	}
	byName := map[string]*snapshot.CloudTrailTrail{}
	for _, tr := range trails.Value {
		byName[tr.Name] = tr
	}
	if b := byName["bare"]; b.Logging.Known || b.Logging.Reason != "whether it is multi-region is unknown: DescribeTrails returned no IsMultiRegionTrail" || b.ManagementEvents.Known {
		t.Errorf("account view of a trail of unknown kind: %+v", b)
	}
	if m := byName["multi"]; m.Logging.Known || m.Logging.Reason != "GetTrailStatus returned no IsLogging" || !m.ManagementEvents.Known {
		t.Errorf("account view of a trail without IsLogging: %+v", m)
	}
	errs := snap.Errors[snapshot.CloudTrailAccount]
	got := map[string]string{}
	for _, e := range errs {
		if e.Code != collect.IncompleteResponse {
			t.Errorf("error code: %+v", e)
		}
		got[e.Operation] = e.Resource
	}
	if len(errs) != 2 || got["DescribeTrails"] != byName["bare"].ARN || got["GetTrailStatus"] != byName["multi"].ARN {
		t.Errorf("account errors: %+v", errs)
	}
	if snap.Complete(snapshot.CloudTrail) || snap.Complete(snapshot.CloudTrailAccount) {
		t.Error("missing fields must make both scopes incomplete")
	}
	// The trail of unknown kind is not read: only the multi-region one is.
	if counter.Count("CloudTrail", "GetTrailStatus") != 1 || counter.Count("CloudTrail", "GetEventSelectors") != 1 {
		t.Errorf("calls: %+v", counter.Snapshot())
	}
}

// TestCollectNamedAbsentAgainstMoto: a named trail (by name or ARN) that
// DescribeTrails does not return is marked absent as named, with no error;
// one that exists is read and not marked; a trail ARN of another region is
// not asked about here, and alone costs no call.
func TestCollectNamedAbsentAgainstMoto(t *testing.T) {
	moto := motoserver.Fresh(t)
	seedTrails(t, moto)
	ctx := context.Background()
	counter := awsconfig.NewCallCounter()
	cfg, err := moto.Config(ctx, "us-east-1", counter)
	if err != nil {
		t.Fatal(err)
	}
	goneARN := "arn:aws:cloudtrail:us-east-1:123456789012:trail/gone"
	awayARN := "arn:aws:cloudtrail:eu-west-1:123456789012:trail/away-multi"
	entries := map[string]bool{"home-single": false, "arn:aws:cloudtrail:us-east-1:123456789012:trail/home-multi": false,
		"no-such-trail": true, goneARN: true, awayARN: false}
	var ids []string
	for id := range entries {
		ids = append(ids, id)
	}
	snap := snapshot.New(motoserver.Account, "aws", "us-east-1")
	cloudtrailcollect.Collector{}.Collect(ctx, cfg, snap, collect.Scope{ResourceIDs: ids})
	if !snap.Complete(snapshot.CloudTrail) {
		t.Fatalf("absent trails are answers, not errors: %v", snap.Errors)
	}
	for id, want := range entries {
		if got := snap.Absent(snapshot.CloudTrail, id); got != want {
			t.Errorf("%s: absent %v, want %v", id, got, want)
		}
	}
	if len(snap.CloudTrail.Trails) != 2 || counter.Count("CloudTrail", "DescribeTrails") != 1 {
		t.Errorf("trails %+v, calls %+v", snap.CloudTrail.Trails, counter.Snapshot())
	}

	counter = awsconfig.NewCallCounter()
	cfg, _ = moto.Config(ctx, "us-east-1", counter)
	other := snapshot.New(motoserver.Account, "aws", "us-east-1")
	cloudtrailcollect.Collector{}.Collect(ctx, cfg, other, collect.Scope{ResourceIDs: []string{awayARN}})
	if counter.Total() != 0 || other.Absent(snapshot.CloudTrail, awayARN) || !other.Complete(snapshot.CloudTrail) {
		t.Errorf("another region's trail: calls %+v, absent %v", counter.Snapshot(), other.Absent(snapshot.CloudTrail, awayARN))
	}
}

// TestCollectNamedDeniedOrFailing: a denied or failing DescribeTrails of
// named trails is an error naming them, and marks none absent.
func TestCollectNamedDeniedOrFailing(t *testing.T) {
	for _, failure := range []*wirefake.Error{
		wirefake.AccessDenied("cloudtrail:DescribeTrails"),
		{Status: 500, Code: "InternalFailure", Message: "internal"},
	} {
		fake := fakeCloudTrail(failure)
		snap := snapshot.New(account, "aws", "us-east-1")
		cloudtrailcollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, nil), snap, collect.Scope{ResourceIDs: []string{"main", "gone"}})
		fake.Close()
		errs := snap.Errors[snapshot.CloudTrail]
		if len(errs) != 1 || errs[0].Code != failure.Code || errs[0].Resource != "main,gone" {
			t.Errorf("%s: errors %+v", failure.Code, errs)
		}
		if snap.Absent(snapshot.CloudTrail, "main") || snap.Absent(snapshot.CloudTrail, "gone") {
			t.Errorf("%s: a failed describe marked a trail absent", failure.Code)
		}
	}
}
