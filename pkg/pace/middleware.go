package pace

import (
	"context"
	"reflect"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// Middleware IDs, as the SDK's stack names them.
const (
	// WaitID is the Finalize-step middleware that waits before each attempt.
	WaitID = "posturePace"
	// classifyID is the Initialize-step middleware that reads the input.
	classifyID = "posturePaceClassify"
	// retryID is the SDK's retry loop (aws/retry.Attempt.ID()), in the
	// Finalize step of every AWS service client.
	retryID = "Retry"
)

// APIOption returns the aws.Config.APIOptions entry that paces every call
// of a client for key: each attempt, retries included, waits for its token
// right after the SDK's retry middleware (and before credentials are
// resolved and the request is signed, so a long wait never sends a stale
// signature). The region is the client's, read per call, so one option
// serves every regional copy of a config. A nil or off Pacer adds nothing.
func (p *Pacer) APIOption(key string) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		if p == nil || p.off {
			return nil
		}
		if err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc(classifyID,
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if _, ok := LookupUnpaged(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)); ok && unfilteredUnpaged(in.Parameters) {
					ctx = middleware.WithStackValue(ctx, unpagedKey{}, true)
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.After); err != nil {
			return err
		}
		wait := middleware.FinalizeMiddlewareFunc(WaitID,
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				unpaged, _ := middleware.GetStackValue(ctx, unpagedKey{}).(bool)
				if err := p.Wait(ctx, key, awsmiddleware.GetRegion(ctx), awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx), unpaged); err != nil {
					return middleware.FinalizeOutput{}, middleware.Metadata{}, err
				}
				return next.HandleFinalize(ctx, in)
			})
		if _, ok := stack.Finalize.Get(retryID); !ok {
			// Not an AWS client with the standard retry loop: pace the call.
			return stack.Finalize.Add(wait, middleware.Before)
		}
		return stack.Finalize.Insert(wait, retryID, middleware.After)
	}
}

type unpagedKey struct{}

// unfilteredUnpaged reports whether an operation input names neither
// pagination (MaxResults, NextToken) nor a filter (Filters): EC2 counts such
// describe calls against a smaller bucket. Inputs without those fields are
// never unpaged.
func unfilteredUnpaged(input any) bool {
	v := reflect.ValueOf(input)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return false
	}
	v = v.Elem()
	maxResults, token, filters := v.FieldByName("MaxResults"), v.FieldByName("NextToken"), v.FieldByName("Filters")
	if !maxResults.IsValid() || !token.IsValid() || !filters.IsValid() || filters.Kind() != reflect.Slice {
		return false
	}
	return maxResults.IsZero() && token.IsZero() && filters.Len() == 0
}
