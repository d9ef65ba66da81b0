package kmscollect_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/collect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/kmscollect"
	"github.com/posture-auditor/posture-auditor/pkg/keyref"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
	"github.com/posture-auditor/posture-auditor/test/gapfill"
	"github.com/posture-auditor/posture-auditor/test/motoserver"
	"github.com/posture-auditor/posture-auditor/test/wirefake"
)

func TestMain(m *testing.M) { motoserver.TestMain(m) }

const region = "eu-west-1"

// TestCollectAgainstMoto reads a seeded set of keys through the real client.
func TestCollectAgainstMoto(t *testing.T) {
	moto := motoserver.Fresh(t)
	ctx := context.Background()
	cfg, err := moto.Config(ctx, region, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := kms.NewFromConfig(cfg)
	mk := func(spec kmstypes.KeySpec, usage kmstypes.KeyUsageType, origin kmstypes.OriginType) string {
		out, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: spec, KeyUsage: usage, Origin: origin})
		if err != nil {
			t.Fatal(err)
		}
		return *out.KeyMetadata.KeyId
	}
	rotating := mk(kmstypes.KeySpecSymmetricDefault, kmstypes.KeyUsageTypeEncryptDecrypt, "")
	if _, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: &rotating}); err != nil {
		t.Fatal(err)
	}
	plain := mk(kmstypes.KeySpecSymmetricDefault, kmstypes.KeyUsageTypeEncryptDecrypt, "")
	signing := mk(kmstypes.KeySpecEccNistP256, kmstypes.KeyUsageTypeSignVerify, "")
	hmac := mk(kmstypes.KeySpecHmac256, kmstypes.KeyUsageTypeGenerateVerifyMac, "")
	retired := mk(kmstypes.KeySpecSymmetricDefault, kmstypes.KeyUsageTypeEncryptDecrypt, "")
	if _, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: &retired, PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: &plain}); err != nil {
		t.Fatal(err)
	}

	counter := awsconfig.NewCallCounter()
	cfg, _ = moto.Config(ctx, region, counter)
	snap := snapshot.New(motoserver.Account, "aws", region)
	kmscollect.Collector{}.Collect(ctx, cfg, snap, collect.Scope{})

	if !snap.Complete(snapshot.KMS) {
		t.Fatalf("collection not complete: %v", snap.Errors)
	}
	keys := snap.KMS.Keys
	if len(keys) != 5 {
		t.Fatalf("got %d keys, want 5", len(keys))
	}
	if k := keys[rotating]; !k.Rotation.Known || !k.Rotation.Value.Enabled || k.Rotation.Value.PeriodDays != 365 {
		t.Errorf("rotating key: %+v", k.Rotation)
	}
	if k := keys[plain]; !k.Rotation.Known || k.Rotation.Value.Enabled || k.Name() != "alias/app" {
		t.Errorf("plain key: %+v name %s", k.Rotation, k.Name())
	}
	for _, id := range []string{signing, hmac} {
		if k := keys[id]; k.RotationApplies() || k.Rotation.Known {
			t.Errorf("%s (%s/%s): rotation must not apply", id, k.Spec, k.Usage)
		}
	}
	if k := keys[retired]; !k.PendingDeletion() || k.DeletionDate == nil {
		t.Errorf("retired key: state %s deletion %v", k.State, k.DeletionDate)
	}
	// One ListKeys, one ListAliases (moto lists alias/aws/* aliases whose
	// keys do not exist: they must be ignored), a DescribeKey per key, and a
	// rotation read only for the two keys where rotation applies.
	for op, want := range map[string]int{"ListKeys": 1, "ListAliases": 1, "DescribeKey": 5, "GetKeyRotationStatus": 2} {
		if got := counter.Count("KMS", op); got != want {
			t.Errorf("%s called %d times, want %d", op, got, want)
		}
	}
}

// fakeKMS serves n customer managed symmetric keys, paging ListKeys and
// ListAliases the way AWS does (moto ignores Limit), and denying
// GetKeyRotationStatus for the keys in denied.
func fakeKMS(n int, denied map[string]bool, listErr *wirefake.Error) *wirefake.Server {
	var keys []map[string]any
	var aliases []map[string]any
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("00000000-0000-0000-0000-%012d", i)
		keys = append(keys, map[string]any{"KeyId": id, "KeyArn": "arn:aws:kms:eu-west-1:111122223333:key/" + id})
		aliases = append(aliases, map[string]any{"AliasName": fmt.Sprintf("alias/k%d", i), "TargetKeyId": id})
	}
	// Key 0 is AWS managed: known by its alias, so never described.
	aliases = append(aliases, map[string]any{"AliasName": "alias/aws/ebs", "TargetKeyId": keys[0]["KeyId"]},
		map[string]any{"AliasName": "alias/aws/rds"}) // an AWS alias whose key was never created
	return wirefake.NewJSON(func(op string, in map[string]any) (any, *wirefake.Error) {
		switch op {
		case "ListKeys":
			if listErr != nil {
				return nil, listErr
			}
			page, next := wirefake.Page(keys, in, "Limit", "Marker", 100)
			return map[string]any{"Keys": page, "NextMarker": next, "Truncated": next != ""}, nil
		case "ListAliases":
			if keyID, ok := in["KeyId"].(string); ok {
				// ListAliases with KeyId: that key's aliases only.
				var own []map[string]any
				for _, a := range aliases {
					if t, ok := a["TargetKeyId"].(string); ok && strings.HasSuffix(keyID, t) {
						own = append(own, a)
					}
				}
				return map[string]any{"Aliases": own, "Truncated": false}, nil
			}
			page, next := wirefake.Page(aliases, in, "Limit", "Marker", 50)
			return map[string]any{"Aliases": page, "NextMarker": next, "Truncated": next != ""}, nil
		case "DescribeKey":
			ref := in["KeyId"].(string)
			id := ref[len(ref)-36:]
			return map[string]any{"KeyMetadata": map[string]any{
				"KeyId": id, "Arn": ref, "KeyManager": "CUSTOMER", "KeyState": "Enabled",
				"KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT", "Origin": "AWS_KMS",
				"CreationDate": 1.7e9,
			}}, nil
		case "GetKeyRotationStatus":
			ref := in["KeyId"].(string)
			if denied[ref[len(ref)-36:]] {
				return nil, wirefake.AccessDenied("kms:GetKeyRotationStatus")
			}
			return map[string]any{"KeyRotationEnabled": true, "RotationPeriodInDays": 180}, nil
		}
		return nil, &wirefake.Error{Code: "UnknownOperationException", Message: op}
	})
}

func fakeConfig(t testing.TB, url string, counter *awsconfig.CallCounter) aws.Config {
	return wirefake.Config(t, url, region, counter)
}

// TestCollectPaginatesAndKeepsDeniedRotationUnknown pages through 2,500 keys
// (3 ListKeys pages of 1000) and checks an AccessDenied on one key's
// rotation status leaves it unknown with the reason, not disabled.
func TestCollectPaginatesAndKeepsDeniedRotationUnknown(t *testing.T) {
	deniedID := fmt.Sprintf("00000000-0000-0000-0000-%012d", 1234)
	fake := fakeKMS(2500, map[string]bool{deniedID: true}, nil)
	defer fake.Close()
	counter := awsconfig.NewCallCounter()
	snap := snapshot.New("111122223333", "aws", region)
	kmscollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, counter), snap, collect.Scope{})

	if got := len(snap.KMS.Keys); got != 2500 {
		t.Fatalf("got %d keys, want 2500", got)
	}
	if got := counter.Count("KMS", "ListKeys"); got != 3 {
		t.Errorf("ListKeys pages: got %d, want 3", got)
	}
	if got := counter.Count("KMS", "ListAliases"); got != 26 {
		t.Errorf("ListAliases pages: got %d, want 26", got)
	}
	if got := counter.Count("KMS", "DescribeKey"); got != 2499 {
		t.Errorf("DescribeKey: got %d, want 2499 (the AWS managed key is known by its alias)", got)
	}
	if k := snap.KMS.Keys[fmt.Sprintf("00000000-0000-0000-0000-%012d", 0)]; k.Manager != snapshot.ManagerAWS || k.Described {
		t.Errorf("AWS managed key: manager %q described %v", k.Manager, k.Described)
	}
	denied := snap.KMS.Keys[deniedID]
	if denied.Rotation.Known {
		t.Fatalf("denied rotation read as known: %+v", denied.Rotation)
	}
	if want := "GetKeyRotationStatus failed: AccessDeniedException: User is not authorized to perform: kms:GetKeyRotationStatus"; denied.Rotation.Reason != want {
		t.Errorf("reason %q, want %q", denied.Rotation.Reason, want)
	}
	if snap.Complete(snapshot.KMS) {
		t.Error("a denied call must make the KMS scope incomplete")
	}
	if errs := snap.Errors[snapshot.KMS]; len(errs) != 1 || errs[0].Operation != "GetKeyRotationStatus" || errs[0].Code != "AccessDeniedException" {
		t.Errorf("errors: %+v", errs)
	}
	other := snap.KMS.Keys[fmt.Sprintf("00000000-0000-0000-0000-%012d", 2499)]
	if !other.Rotation.Known || other.Rotation.Value.PeriodDays != 180 || other.Name() != "alias/k2499" {
		t.Errorf("last key: %+v %s", other.Rotation, other.Name())
	}
}

// TestCollectListDenied records the failed list and reads no key at all.
func TestCollectListDenied(t *testing.T) {
	fake := fakeKMS(3, nil, wirefake.AccessDenied("kms:ListKeys"))
	defer fake.Close()
	snap := snapshot.New("111122223333", "aws", region)
	kmscollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, nil), snap, collect.Scope{})
	if len(snap.KMS.Keys) != 0 {
		t.Errorf("got %d keys after a failed ListKeys", len(snap.KMS.Keys))
	}
	if errs := snap.Errors[snapshot.KMS]; len(errs) != 1 || errs[0].Operation != "ListKeys" || errs[0].Resource != "" {
		t.Errorf("errors: %+v", errs)
	}
	if !snap.Collected[snapshot.KMS] || snap.Complete(snapshot.KMS) {
		t.Error("a failed ListKeys must leave KMS collected but incomplete")
	}
}

// TestCollectOneKeyScopeAndServerError reads one named key without listing, and records a
// persistent 5xx on DescribeKey as an unknown key, not a dropped one.
func TestCollectOneKeyScopeAndServerError(t *testing.T) {
	fake := wirefake.NewJSON(func(op string, in map[string]any) (any, *wirefake.Error) {
		switch op {
		case "ListAliases":
			return map[string]any{"Aliases": []any{}}, nil
		case "DescribeKey":
			return nil, &wirefake.Error{Status: 500, Code: "KMSInternalException", Message: "internal"}
		}
		return nil, &wirefake.Error{Code: "UnknownOperationException", Message: op}
	})
	defer fake.Close()
	snap := snapshot.New("111122223333", "aws", region)
	id := "1234abcd-12ab-34cd-56ef-1234567890ab"
	kmscollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, nil), snap, collect.Scope{ResourceIDs: []string{id}})
	k := snap.KMS.Keys[id]
	if k == nil || k.Described || k.DescribeReason == "" {
		t.Fatalf("key must be kept, undescribed, with a reason: %+v", k)
	}
	if fake.Calls("ListKeys") != 0 {
		t.Error("a one-key scope must not list every key")
	}
}

// TestDescribeReferenced describes each distinct key that resources point at
// and the listing did not cover, once, in the key's own region.
func TestDescribeReferenced(t *testing.T) {
	const (
		localID   = "11111111-1111-1111-1111-111111111111"
		goneID    = "22222222-2222-2222-2222-222222222222"
		foreignID = "33333333-3333-3333-3333-333333333333"
		westID    = "44444444-4444-4444-4444-444444444444"
		// undescribableID is listed, but its DescribeKey failed in Collect.
		undescribableID = "55555555-5555-5555-5555-555555555555"
	)
	var regions []string
	fake := wirefake.NewJSON(func(op string, in map[string]any) (any, *wirefake.Error) {
		if op != "DescribeKey" {
			return nil, &wirefake.Error{Code: "UnknownOperationException", Message: op}
		}
		ref := in["KeyId"].(string)
		switch {
		case strings.HasSuffix(ref, goneID):
			return nil, &wirefake.Error{Code: "NotFoundException", Message: "Key '" + ref + "' does not exist"}
		case strings.HasSuffix(ref, foreignID):
			return nil, wirefake.AccessDenied("kms:DescribeKey")
		case strings.HasSuffix(ref, westID):
			return map[string]any{"KeyMetadata": map[string]any{"KeyId": westID, "Arn": ref, "KeyManager": "CUSTOMER", "KeyState": "Disabled",
				"KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT", "Origin": "AWS_KMS"}}, nil
		}
		return nil, &wirefake.Error{Code: "NotFoundException", Message: ref}
	})
	defer fake.Close()
	fake.Config.Handler = regionRecorder(fake.Config.Handler, &regions)

	snap := snapshot.New("111122223333", "aws", region)
	snap.KMS.Keys = map[string]*snapshot.KMSKey{
		localID:         {ID: localID, ARN: "arn:aws:kms:eu-west-1:111122223333:key/" + localID, Manager: snapshot.ManagerCustomer, Described: true, State: "Enabled"},
		undescribableID: {ID: undescribableID, ARN: "arn:aws:kms:eu-west-1:111122223333:key/" + undescribableID, DescribeReason: "DescribeKey failed: ThrottlingException: slow"},
	}
	snap.KMS.Aliases = map[string]string{}
	use := func(name, key string) {
		snap.AddKeyUse(snapshot.KeyUse{Service: snapshot.RDS, ResourceARN: "arn:aws:rds:eu-west-1:111122223333:db:" + name, KeyRef: key, DefaultAlias: "alias/aws/rds"})
	}
	use("listed", localID)                                         // known from the listing: no call
	use("undescribable", undescribableID)                          // listed, its describe already failed: no second call
	use("default", "")                                             // AWS managed: no call
	use("gone1", goneID)                                           // own key, deleted
	use("gone2", "arn:aws:kms:eu-west-1:111122223333:key/"+goneID) // same key, other form: no second call
	use("foreign", "arn:aws:kms:eu-west-1:444455556666:key/"+foreignID)
	use("west", "arn:aws:kms:us-west-2:111122223333:key/"+westID)

	counter := awsconfig.NewCallCounter()
	kmscollect.Collector{}.DescribeReferenced(context.Background(), fakeConfig(t, fake.URL, counter), snap)

	if got := counter.Count("KMS", "DescribeKey"); got != 3 {
		t.Errorf("DescribeKey calls: %d, want 3 (gone, foreign, west)", got)
	}
	if k := snap.KMS.Referenced["arn:aws:kms:eu-west-1:111122223333:key/"+goneID]; k == nil || !k.NotFound {
		t.Errorf("deleted own key: %+v", k)
	}
	if k := snap.KMS.Referenced["arn:aws:kms:eu-west-1:444455556666:key/"+foreignID]; k == nil || k.Described || !strings.Contains(k.DescribeReason, "AccessDeniedException") {
		t.Errorf("denied foreign key: %+v", k)
	}
	if k := snap.KMS.Referenced["arn:aws:kms:us-west-2:111122223333:key/"+westID]; k == nil || k.State != "Disabled" {
		t.Errorf("other-region key: %+v", k)
	}
	if errs := snap.Errors[snapshot.KMSReferenced]; len(errs) != 1 || errs[0].Code != "AccessDeniedException" {
		t.Errorf("only the denied describe is a collection error (NotFound is an answer): %+v", errs)
	}
	if len(snap.Errors[snapshot.KMS]) != 0 || !snap.Collected[snapshot.KMSReferenced] {
		t.Error("referenced-key errors belong to their own scope, not to the region's KMS listing")
	}
	sort.Strings(regions)
	if strings.Join(regions, ",") != "eu-west-1,eu-west-1,us-west-2" {
		t.Errorf("signing regions %v: each key must be described in its own region", regions)
	}
}

// regionRecorder notes the SigV4 signing region of every request.
func regionRecorder(next http.Handler, regions *[]string) http.Handler {
	var mu sync.Mutex
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(r.Header.Get("Authorization"), "/")
		if len(parts) > 2 {
			mu.Lock()
			*regions = append(*regions, parts[2])
			mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
}

// TestCollectNamedAgainstMoto reads named keys through the real client
// without listing: a key found costs at most three calls (ListAliases with
// KeyId, DescribeKey, GetKeyRotationStatus); a key pending deletion exists;
// a key that does not exist is marked absent, with no error, and recorded
// as NotFound for the key model; a denied DescribeKey is an error naming
// the key, never absent.
func TestCollectNamedAgainstMoto(t *testing.T) {
	moto := motoserver.Fresh(t)
	gaps, err := gapfill.New(moto.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer gaps.Close()
	ctx := context.Background()
	cfg, err := moto.ConfigAt(ctx, gaps.URL, region, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := kms.NewFromConfig(cfg)
	mk := func(alias string) *kmstypes.KeyMetadata {
		out, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: kmstypes.KeySpecSymmetricDefault, KeyUsage: kmstypes.KeyUsageTypeEncryptDecrypt})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
			t.Fatal(err)
		}
		return out.KeyMetadata
	}
	app := mk("alias/app")
	if _, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: app.KeyId}); err != nil {
		t.Fatal(err)
	}
	mk("alias/other") // must not show up in a read of app
	retired := mk("alias/retired")
	if _, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: retired.KeyId, PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	const goneID = "0badc0de-0000-4000-8000-000000000000"
	goneARN := "arn:aws:kms:eu-west-1:" + motoserver.Account + ":key/0badc0de-0000-4000-8000-000000000001"

	read := func(ids ...string) (*snapshot.Snapshot, *awsconfig.CallCounter) {
		t.Helper()
		counter := awsconfig.NewCallCounter()
		cfg, err := moto.ConfigAt(ctx, gaps.URL, region, counter)
		if err != nil {
			t.Fatal(err)
		}
		snap := snapshot.New(motoserver.Account, "aws", region)
		kmscollect.Collector{}.Collect(ctx, cfg, snap, collect.Scope{ResourceIDs: ids})
		return snap, counter
	}

	t.Run("found", func(t *testing.T) {
		for _, id := range []string{*app.KeyId, *app.Arn} {
			snap, counter := read(id)
			if !snap.Complete(snapshot.KMS) || snap.Absent(snapshot.KMS, id) {
				t.Fatalf("%s: errors %v, absent %v", id, snap.Errors, snap.Absent(snapshot.KMS, id))
			}
			k := snap.KMS.Keys[*app.KeyId]
			if len(snap.KMS.Keys) != 1 || k == nil || !k.Described || k.ARN != *app.Arn || k.Name() != "alias/app" || len(k.Aliases) != 1 ||
				!k.Rotation.Known || !k.Rotation.Value.Enabled {
				t.Fatalf("%s: keys %+v", id, snap.KMS.Keys)
			}
			if snap.KMS.Aliases["alias/app"] != *app.KeyId || len(snap.KMS.Aliases) != 1 {
				t.Errorf("%s: aliases %v", id, snap.KMS.Aliases)
			}
			for op, want := range map[string]int{"ListAliases": 1, "DescribeKey": 1, "GetKeyRotationStatus": 1, "ListKeys": 0} {
				if got := counter.Count("KMS", op); got != want {
					t.Errorf("%s: %s called %d times, want %d", id, op, got, want)
				}
			}
			if n := counter.Total(); n > 3 {
				t.Errorf("%s: %d calls, want at most 3: %+v", id, n, counter.Snapshot())
			}
		}
	})

	t.Run("pending deletion is not absent", func(t *testing.T) {
		snap, counter := read(*retired.Arn)
		k := snap.KMS.Keys[*retired.KeyId]
		if !snap.Complete(snapshot.KMS) || snap.Absent(snapshot.KMS, *retired.Arn) || k == nil || !k.PendingDeletion() || k.Rotation.Known {
			t.Fatalf("retired: %+v, errors %v", k, snap.Errors)
		}
		if counter.Count("KMS", "GetKeyRotationStatus") != 0 {
			t.Error("rotation of a key pending deletion is not read")
		}
	})

	t.Run("absent", func(t *testing.T) {
		snap, counter := read(goneID, goneARN)
		if !snap.Complete(snapshot.KMS) || len(snap.Errors[snapshot.KMS]) != 0 {
			t.Fatalf("a key that does not exist is an answer, not an error: %v", snap.Errors)
		}
		for _, id := range []string{goneID, goneARN} {
			if !snap.Absent(snapshot.KMS, id) {
				t.Errorf("%s not marked absent", id)
			}
		}
		if len(snap.KMS.Keys) != 0 {
			t.Errorf("a key that does not exist must not be judged: %+v", snap.KMS.Keys)
		}
		for _, id := range []string{goneID, goneARN} {
			ref := keyref.Parse(snap, id, "")
			if r := snap.KMS.Referenced[ref.Lookup()]; r == nil || !r.NotFound || !strings.HasPrefix(r.DescribeReason, "DescribeKey failed: NotFoundException") {
				t.Errorf("%s: referenced record %+v", id, r)
			}
			if k := keyref.Resolve(snap, ref); k.Health != keyref.Deleted {
				t.Errorf("%s resolves as %s, want Deleted", id, k.Health)
			}
		}
		if snap.KMS.Referenced["arn:aws:kms:eu-west-1:"+motoserver.Account+":key/"+goneID] == nil {
			t.Error("a key named by ID is recorded under its key ARN")
		}
		if n := counter.Count("KMS", "GetKeyRotationStatus"); n != 0 {
			t.Errorf("%d rotation reads for keys that do not exist", n)
		}
		// The key model has nothing left to describe for them.
		for _, id := range []string{goneID, goneARN} {
			snap.AddKeyUse(snapshot.KeyUse{Service: snapshot.RDS, ResourceARN: "arn:aws:rds:eu-west-1:" + motoserver.Account + ":db:x", KeyRef: id, DefaultAlias: "alias/aws/rds"})
		}
		counter = awsconfig.NewCallCounter()
		cfg, _ := moto.ConfigAt(ctx, gaps.URL, region, counter)
		kmscollect.Collector{}.DescribeReferenced(ctx, cfg, snap)
		if counter.Total() != 0 {
			t.Errorf("DescribeReferenced described a key already known gone: %+v", counter.Snapshot())
		}
	})

	t.Run("denied is an error, not absent", func(t *testing.T) {
		gaps.Deny("kms", "DescribeKey")
		defer gaps.Allow("kms", "DescribeKey")
		snap, _ := read(*app.KeyId, goneID)
		if snap.Complete(snapshot.KMS) {
			t.Fatal("a denied DescribeKey must make KMS incomplete")
		}
		for _, id := range []string{*app.KeyId, goneID} {
			if snap.Absent(snapshot.KMS, id) {
				t.Errorf("%s marked absent after a denied describe", id)
			}
			failed := false
			for _, e := range snap.Errors[snapshot.KMS] {
				failed = failed || e.Operation == "DescribeKey" && e.Resource == id && e.Code == "AccessDeniedException"
			}
			if !failed {
				t.Errorf("%s: no DescribeKey error naming it: %+v", id, snap.Errors[snapshot.KMS])
			}
			if k := snap.KMS.Keys[id]; k == nil || k.Described || k.Rotation.Known || !strings.Contains(k.DescribeReason, "AccessDeniedException") {
				t.Errorf("%s: kept undescribed with the reason: %+v", id, k)
			}
		}
		if len(snap.KMS.Referenced) != 0 {
			t.Errorf("referenced: %+v", snap.KMS.Referenced)
		}
	})
}

// TestCollectNamedAWSManagedAndOutOfRegion: an AWS managed key named in the
// scope is known by its alias from one ListAliases call; a key ARN of
// another region is left to that region's collection, with no call; an
// entry that is no key ID or key ARN is an error; AccountSettings alone
// reads nothing.
func TestCollectNamedAWSManagedAndOutOfRegion(t *testing.T) {
	fake := fakeKMS(3, nil, nil)
	defer fake.Close()
	managed := fmt.Sprintf("00000000-0000-0000-0000-%012d", 0)
	counter := awsconfig.NewCallCounter()
	snap := snapshot.New("111122223333", "aws", region)
	kmscollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, counter), snap, collect.Scope{ResourceIDs: []string{
		managed, "arn:aws:kms:us-west-2:111122223333:key/" + managed, "alias/app",
	}})
	if k := snap.KMS.Keys[managed]; k == nil || k.Manager != snapshot.ManagerAWS || k.Described || k.Name() != "alias/k0" {
		t.Errorf("AWS managed key: %+v", k)
	}
	if counter.Total() != 1 || counter.Count("KMS", "ListAliases") != 1 {
		t.Errorf("calls: %+v, want one ListAliases", counter.Snapshot())
	}
	if errs := snap.Errors[snapshot.KMS]; len(errs) != 1 || errs[0].Resource != "alias/app" || errs[0].Code != "InvalidScopeEntry" {
		t.Errorf("errors: %+v", errs)
	}
	if snap.Absent(snapshot.KMS, "arn:aws:kms:us-west-2:111122223333:key/"+managed) || snap.Absent(snapshot.KMS, "alias/app") {
		t.Error("nothing read may be marked absent")
	}

	counter = awsconfig.NewCallCounter()
	snap = snapshot.New("111122223333", "aws", region)
	kmscollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, counter), snap, collect.Scope{AccountSettings: true})
	if counter.Total() != 0 || !snap.Complete(snapshot.KMS) {
		t.Errorf("KMS has no account setting: calls %+v, errors %v", counter.Snapshot(), snap.Errors)
	}
}
