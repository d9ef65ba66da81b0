package cloudtrailcollect_test

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/posture-auditor/posture-auditor/pkg/collect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/cloudtrailcollect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/collecttest"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
)

// TestOperationsMatchAPI: Operations, the calls docs/checks.md lists for
// the checks that read this collector, is exactly the API interface's
// methods as IAM actions, so a call added to the interface cannot be missed.
func TestOperationsMatchAPI(t *testing.T) {
	collecttest.CheckOperations(t, reflect.TypeFor[cloudtrailcollect.API](), cloudtrail.ServiceID, cloudtrailcollect.Operations)
}

// recordingAPI answers every call with one multi-region trail of the
// account, homed in us-east-1, logging all management events, and records
// which operations were called.
type recordingAPI struct{ calls *collecttest.Calls }

func (r recordingAPI) DescribeTrails(context.Context, *cloudtrail.DescribeTrailsInput, ...func(*cloudtrail.Options)) (*cloudtrail.DescribeTrailsOutput, error) {
	r.calls.Add("cloudtrail:DescribeTrails")
	return &cloudtrail.DescribeTrailsOutput{TrailList: []cttypes.Trail{{
		Name: aws.String("main"), TrailARN: aws.String("arn:aws:cloudtrail:us-east-1:" + account + ":trail/main"),
		HomeRegion: aws.String("us-east-1"), IsMultiRegionTrail: aws.Bool(true), LogFileValidationEnabled: aws.Bool(true),
		KmsKeyId: aws.String(keyARN),
	}}}, nil
}

func (r recordingAPI) GetTrailStatus(context.Context, *cloudtrail.GetTrailStatusInput, ...func(*cloudtrail.Options)) (*cloudtrail.GetTrailStatusOutput, error) {
	r.calls.Add("cloudtrail:GetTrailStatus")
	return &cloudtrail.GetTrailStatusOutput{IsLogging: aws.Bool(true)}, nil
}

func (r recordingAPI) GetEventSelectors(context.Context, *cloudtrail.GetEventSelectorsInput, ...func(*cloudtrail.Options)) (*cloudtrail.GetEventSelectorsOutput, error) {
	r.calls.Add("cloudtrail:GetEventSelectors")
	return &cloudtrail.GetEventSelectorsOutput{EventSelectors: []cttypes.EventSelector{{
		ReadWriteType: cttypes.ReadWriteTypeAll, IncludeManagementEvents: aws.Bool(true),
	}}}, nil
}

// TestCollectorsCallTheirOperations: TrailOperations and AccountOperations,
// which docs/checks.md lists for the checks reading snapshot.CloudTrail and
// snapshot.CloudTrailAccount, are exactly the calls each collector makes,
// in a sweep and in a scoped re-check, and both are within Operations.
func TestCollectorsCallTheirOperations(t *testing.T) {
	for _, tc := range []struct {
		name string
		col  collect.Collector
		want []string
	}{
		{"Collector", cloudtrailcollect.Collector{}, cloudtrailcollect.TrailOperations},
		{"AccountCollector", cloudtrailcollect.AccountCollector{}, cloudtrailcollect.AccountOperations},
	} {
		for _, scope := range []collect.Scope{{}, {ResourceIDs: []string{"main"}}} {
			calls := &collecttest.Calls{}
			newAPI := func(aws.Config) cloudtrailcollect.API { return recordingAPI{calls} }
			col := tc.col
			switch c := col.(type) {
			case cloudtrailcollect.Collector:
				c.NewAPI = newAPI
				col = c
			case cloudtrailcollect.AccountCollector:
				c.NewAPI = newAPI
				col = c
			}
			snap := snapshot.New(account, "aws", "us-east-1")
			col.Collect(context.Background(), aws.Config{Region: "us-east-1"}, snap, scope)
			if errs := snap.Errors[col.Service()]; len(errs) > 0 {
				t.Fatalf("%s %+v: errors %+v", tc.name, scope, errs)
			}
			if got, want := calls.Operations(), collecttest.Sorted(tc.want); !slices.Equal(got, want) {
				t.Errorf("%s %+v called %v, its operations list says %v", tc.name, scope, got, want)
			}
		}
		for _, op := range tc.want {
			if !slices.Contains(cloudtrailcollect.Operations, op) {
				t.Errorf("%s: %s is not in Operations", tc.name, op)
			}
		}
	}
}
