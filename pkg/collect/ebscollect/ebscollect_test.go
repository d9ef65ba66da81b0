package ebscollect_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/pkg/collect"
	"github.com/posture-auditor/posture-auditor/pkg/collect/ebscollect"
	"github.com/posture-auditor/posture-auditor/pkg/snapshot"
	"github.com/posture-auditor/posture-auditor/test/gapfill"
	"github.com/posture-auditor/posture-auditor/test/motoserver"
	"github.com/posture-auditor/posture-auditor/test/wirefake"
)

func TestMain(m *testing.M) { motoserver.TestMain(m) }

const region = "eu-west-1"

// seedVolumes creates, in moto: an unencrypted volume named "scratch" (and
// tagged posture-auditor:exempt=ebs.volume-cmk), one
// encrypted without a key (moto, like AWS, uses the aws/ebs key) and one
// encrypted with a customer managed key, whose ARN it returns.
func seedVolumes(t *testing.T, cfg aws.Config) (cmkARN string) {
	t.Helper()
	ctx := context.Background()
	key, err := kms.NewFromConfig(cfg).CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	cmkARN = aws.ToString(key.KeyMetadata.Arn)
	c := ec2.NewFromConfig(cfg)
	for _, in := range []*ec2.CreateVolumeInput{
		{Size: aws.Int32(8), TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeVolume, Tags: []ec2types.Tag{
			{Key: aws.String("Name"), Value: aws.String("scratch")}, {Key: aws.String("posture-auditor:exempt"), Value: aws.String("ebs.volume-cmk")},
		}}}},
		{Size: aws.Int32(8), Encrypted: aws.Bool(true)},
		{Size: aws.Int32(8), Encrypted: aws.Bool(true), KmsKeyId: aws.String(cmkARN)},
	} {
		in.AvailabilityZone = aws.String(region + "a")
		if _, err := c.CreateVolume(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	return cmkARN
}

// TestCollectAgainstMoto reads volumes and the encryption-by-default setting
// through the real client, with moto behind the gap-filling proxy (moto has
// no GetEbsDefaultKmsKeyId).
func TestCollectAgainstMoto(t *testing.T) {
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
	cmkARN := seedVolumes(t, cfg)
	c := ec2.NewFromConfig(cfg)
	if _, err := c.EnableEbsEncryptionByDefault(ctx, &ec2.EnableEbsEncryptionByDefaultInput{}); err != nil {
		t.Fatal(err)
	}

	counter := awsconfig.NewCallCounter()
	cfg, _ = moto.ConfigAt(ctx, gaps.URL, region, counter)
	snap := snapshot.New(motoserver.Account, "aws", region)
	ebscollect.Collector{}.Collect(ctx, cfg, snap, collect.Scope{})
	if !snap.Complete(snapshot.EBS) {
		t.Fatalf("collection not complete: %v", snap.Errors)
	}
	d := snap.EBS.Defaults
	if d == nil || !d.EncryptionByDefault.Known || !d.EncryptionByDefault.Value || !d.DefaultKMSKey.Known || d.DefaultKMSKey.Value != "alias/aws/ebs" {
		t.Fatalf("defaults, key never changed: %+v", d)
	}
	if len(snap.EBS.Volumes) != 3 {
		t.Fatalf("got %d volumes, want 3", len(snap.EBS.Volumes))
	}
	var plain, managed, cmk *snapshot.EBSVolume
	for _, v := range snap.EBS.Volumes {
		switch {
		case !v.Encrypted.Value:
			plain = v
		case v.KMSKeyID == cmkARN:
			cmk = v
		default:
			managed = v
		}
	}
	if plain == nil || managed == nil || cmk == nil {
		t.Fatalf("volumes: %+v", snap.EBS.Volumes)
	}
	if !plain.Encrypted.Known || plain.Name != "scratch" || plain.DisplayName() != "scratch" || plain.SizeGiB != 8 || plain.State != "available" ||
		plain.AvailabilityZone != "eu-west-1a" || plain.CreateTime.IsZero() || plain.ARN != "arn:aws:ec2:eu-west-1:123456789012:volume/"+plain.ID {
		t.Errorf("unencrypted volume: %+v", plain)
	}
	if managed.KMSKeyID == "" {
		t.Errorf("volume encrypted without a key must report the aws/ebs key: %+v", managed)
	}
	// Tags come with DescribeVolumes (no DescribeTags: see the call counts).
	if want := map[string]string{"Name": "scratch", "posture-auditor:exempt": "ebs.volume-cmk"}; !maps.Equal(plain.Tags.Map(), want) || managed.Tags != nil {
		t.Errorf("tags: %v and %v, want %v and none", plain.Tags, managed.Tags, want)
	}
	uses := map[string]snapshot.KeyUse{}
	for _, u := range dataKeyUses(snap) {
		uses[u.ResourceARN] = u
	}
	if len(uses) != 2 || uses[plain.ARN].ResourceARN != "" {
		t.Errorf("key uses %+v: want the two encrypted volumes", uses)
	}
	if u := uses[cmk.ARN]; u.Service != snapshot.EBS || u.KeyRef != cmkARN || u.DefaultAlias != "alias/aws/ebs" || u.ResourceType != "AwsEc2Volume" || u.ResourceName != cmk.ID {
		t.Errorf("key use: %+v", u)
	}
	for op, want := range map[string]int{"DescribeVolumes": 1, "GetEbsEncryptionByDefault": 1, "GetEbsDefaultKmsKeyId": 1} {
		if got := counter.Count("EC2", op); got != want {
			t.Errorf("%s called %d times, want %d", op, got, want)
		}
	}
	if n := counter.Total(); n != 3 {
		t.Errorf("%d calls in all, want 3: %+v", n, counter.Snapshot())
	}

	// After the default key is changed, AWS answers with its ARN.
	if _, err := c.ModifyEbsDefaultKmsKeyId(ctx, &ec2.ModifyEbsDefaultKmsKeyIdInput{KmsKeyId: aws.String(cmkARN)}); err != nil {
		t.Fatal(err)
	}
	snap = snapshot.New(motoserver.Account, "aws", region)
	ebscollect.Collector{}.Collect(ctx, cfg, snap, collect.Scope{})
	if d := snap.EBS.Defaults; d.DefaultKMSKey.Value != cmkARN {
		t.Errorf("default key after modify: %+v", d.DefaultKMSKey)
	}
}

// TestMotoGapIsRecordedNotGuessed runs against moto directly: its HTTP 500
// on GetEbsDefaultKmsKeyId is recorded and the key stays unknown; the rest
// is still read.
func TestMotoGapIsRecordedNotGuessed(t *testing.T) {
	moto := motoserver.Fresh(t)
	ctx := context.Background()
	cfg, _ := moto.Config(ctx, region, nil)
	seedVolumes(t, cfg)
	snap := snapshot.New(motoserver.Account, "aws", region)
	ebscollect.Collector{}.Collect(ctx, cfg, snap, collect.Scope{})
	d := snap.EBS.Defaults
	if !d.EncryptionByDefault.Known || d.EncryptionByDefault.Value || d.DefaultKMSKey.Known || !strings.HasPrefix(d.DefaultKMSKey.Reason, "GetEbsDefaultKmsKeyId failed: ") {
		t.Errorf("defaults: %+v", d)
	}
	if errs := snap.Errors[snapshot.EBS]; len(errs) != 1 || errs[0].Operation != "GetEbsDefaultKmsKeyId" {
		t.Errorf("errors: %+v", errs)
	}
	if len(snap.EBS.Volumes) != 3 {
		t.Errorf("got %d volumes, want 3", len(snap.EBS.Volumes))
	}
}

// TestCollectNamedAgainstMoto reads named volumes (by ID and by ARN) without
// listing and without the account setting; a missing ID costs only itself.
func TestCollectNamedAgainstMoto(t *testing.T) {
	moto := motoserver.Fresh(t)
	ctx := context.Background()
	cfg, _ := moto.Config(ctx, region, nil)
	seedVolumes(t, cfg)
	all := snapshot.New(motoserver.Account, "aws", region)
	ebscollect.Collector{}.Collect(ctx, cfg, all, collect.Scope{})
	a, b := all.EBS.Volumes[0], all.EBS.Volumes[1]

	counter := awsconfig.NewCallCounter()
	cfg, _ = moto.Config(ctx, region, counter)
	snap := snapshot.New(motoserver.Account, "aws", region)
	ebscollect.Collector{}.Collect(ctx, cfg, snap, collect.Scope{ResourceIDs: []string{a.ID, b.ARN}})
	if len(snap.EBS.Volumes) != 2 || snap.EBS.Defaults != nil || !snap.Complete(snapshot.EBS) || counter.Total() != 1 {
		t.Fatalf("named: %d volumes, defaults %v, errors %v, calls %+v", len(snap.EBS.Volumes), snap.EBS.Defaults, snap.Errors, counter.Snapshot())
	}
	for _, v := range snap.EBS.Volumes {
		if want := map[string]*snapshot.EBSVolume{a.ID: a, b.ID: b}[v.ID]; want == nil || !slices.Equal(v.Tags, want.Tags) {
			t.Errorf("named volume %s: tags %v, want those of the listing", v.ID, v.Tags)
		}
	}

	counter = awsconfig.NewCallCounter()
	cfg, _ = moto.Config(ctx, region, counter)
	snap = snapshot.New(motoserver.Account, "aws", region)
	const gone = "vol-0123456789abcdef0"
	goneARN := "arn:aws:ec2:eu-west-1:123456789012:volume/vol-0123456789abcdef1"
	ebscollect.Collector{}.Collect(ctx, cfg, snap, collect.Scope{ResourceIDs: []string{a.ID, gone, b.ID, goneARN}})
	if len(snap.EBS.Volumes) != 2 {
		t.Errorf("a missing ID must not hide the others: %d volumes", len(snap.EBS.Volumes))
	}
	// InvalidVolume.NotFound on a volume's own describe is an answer: the
	// volume is absent, as the scope named it, and EBS stays complete.
	if !snap.Complete(snapshot.EBS) || !snap.Absent(snapshot.EBS, gone) || !snap.Absent(snapshot.EBS, goneARN) {
		t.Errorf("errors %+v, absent %v %v", snap.Errors, snap.Absent(snapshot.EBS, gone), snap.Absent(snapshot.EBS, goneARN))
	}
	if snap.Absent(snapshot.EBS, a.ID) || snap.Absent(snapshot.EBS, b.ID) {
		t.Error("volumes that exist marked absent")
	}
	if got := counter.Count("EC2", "DescribeVolumes"); got != 5 {
		t.Errorf("DescribeVolumes called %d times, want 5 (one for all four IDs, then one each)", got)
	}

	// One volume alone: one call, absent without a retry.
	counter = awsconfig.NewCallCounter()
	cfg, _ = moto.Config(ctx, region, counter)
	snap = snapshot.New(motoserver.Account, "aws", region)
	ebscollect.Collector{}.Collect(ctx, cfg, snap, collect.Scope{ResourceIDs: []string{gone}})
	if !snap.Complete(snapshot.EBS) || !snap.Absent(snapshot.EBS, gone) || len(snap.EBS.Volumes) != 0 || counter.Total() != 1 {
		t.Errorf("one missing volume: errors %+v, absent %v, calls %+v", snap.Errors, snap.Absent(snapshot.EBS, gone), counter.Snapshot())
	}
}

// TestCollectNamedDeniedAgainstMoto: a denied describe of named volumes is
// an error naming them, never an absence.
func TestCollectNamedDeniedAgainstMoto(t *testing.T) {
	moto := motoserver.Fresh(t)
	gaps, err := gapfill.New(moto.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer gaps.Close()
	ctx := context.Background()
	cfg, _ := moto.ConfigAt(ctx, gaps.URL, region, nil)
	seedVolumes(t, cfg)
	all := snapshot.New(motoserver.Account, "aws", region)
	ebscollect.Collector{}.Collect(ctx, cfg, all, collect.Scope{})
	id := all.EBS.Volumes[0].ID

	gaps.Deny("ec2", "DescribeVolumes")
	for _, ids := range [][]string{{id}, {id, "vol-0123456789abcdef0"}} {
		snap := snapshot.New(motoserver.Account, "aws", region)
		ebscollect.Collector{}.Collect(ctx, cfg, snap, collect.Scope{ResourceIDs: ids})
		errs := snap.Errors[snapshot.EBS]
		if len(errs) != 1 || errs[0].Code != "UnauthorizedOperation" || errs[0].Resource != strings.Join(ids, ",") || snap.Complete(snapshot.EBS) {
			t.Errorf("%v: errors %+v", ids, errs)
		}
		for _, id := range ids {
			if snap.Absent(snapshot.EBS, id) {
				t.Errorf("%s marked absent after a denied describe", id)
			}
		}
	}
}

// TestCollectAccountSettingsAgainstMoto: a scope of AccountSettings reads
// the encryption-by-default setting and its key without listing a volume;
// with volumes named too, it reads both.
func TestCollectAccountSettingsAgainstMoto(t *testing.T) {
	moto := motoserver.Fresh(t)
	gaps, err := gapfill.New(moto.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer gaps.Close()
	ctx := context.Background()
	cfg, _ := moto.ConfigAt(ctx, gaps.URL, region, nil)
	cmkARN := seedVolumes(t, cfg)
	c := ec2.NewFromConfig(cfg)
	if _, err := c.EnableEbsEncryptionByDefault(ctx, &ec2.EnableEbsEncryptionByDefaultInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ModifyEbsDefaultKmsKeyId(ctx, &ec2.ModifyEbsDefaultKmsKeyIdInput{KmsKeyId: aws.String(cmkARN)}); err != nil {
		t.Fatal(err)
	}

	counter := awsconfig.NewCallCounter()
	cfg, _ = moto.ConfigAt(ctx, gaps.URL, region, counter)
	snap := snapshot.New(motoserver.Account, "aws", region)
	ebscollect.Collector{}.Collect(ctx, cfg, snap, collect.Scope{AccountSettings: true})
	if !snap.Complete(snapshot.EBS) {
		t.Fatalf("errors: %v", snap.Errors)
	}
	d := snap.EBS.Defaults
	if d == nil || !d.EncryptionByDefault.Value || d.DefaultKMSKey.Value != cmkARN || len(snap.EBS.Volumes) != 0 {
		t.Fatalf("defaults %+v, %d volumes", d, len(snap.EBS.Volumes))
	}
	if uses := snap.KeyUses(); len(uses) != 1 || !uses[0].Setting || uses[0].KeyRef != cmkARN {
		t.Errorf("key uses: %+v", uses)
	}
	for op, want := range map[string]int{"GetEbsEncryptionByDefault": 1, "GetEbsDefaultKmsKeyId": 1, "DescribeVolumes": 0} {
		if got := counter.Count("EC2", op); got != want {
			t.Errorf("%s called %d times, want %d", op, got, want)
		}
	}

	vol := snapshot.New(motoserver.Account, "aws", region)
	ebscollect.Collector{}.Collect(ctx, cfg, vol, collect.Scope{})
	id := vol.EBS.Volumes[0].ID
	counter = awsconfig.NewCallCounter()
	cfg, _ = moto.ConfigAt(ctx, gaps.URL, region, counter)
	both := snapshot.New(motoserver.Account, "aws", region)
	ebscollect.Collector{}.Collect(ctx, cfg, both, collect.Scope{AccountSettings: true, ResourceIDs: []string{id}})
	if both.EBS.Defaults == nil || len(both.EBS.Volumes) != 1 || both.EBS.Volumes[0].ID != id || counter.Total() != 3 {
		t.Errorf("settings and a volume: defaults %+v, volumes %+v, calls %+v", both.EBS.Defaults, both.EBS.Volumes, counter.Snapshot())
	}
}

// ec2Fake speaks the EC2 query protocol (form-encoded Action=..., XML
// answers in the EC2 namespace) for the three calls the collector makes.
// It pages DescribeVolumes the way AWS does, which moto does not.
type ec2Fake struct {
	*httptest.Server
	volumes int
	// fail maps an Action (DescribeVolumes: "DescribeVolumes@<token>") to
	// the error it answers: HTTP status and code.
	fail map[string]ec2Error
	// omitSetting answers GetEbsEncryptionByDefault without its value.
	omitSetting bool
	// states overrides the state of volume i.
	states map[int]string

	mu       sync.Mutex
	requests []url.Values
}

type ec2Error struct {
	status int
	code   string
}

const ec2NS = "http://ec2.amazonaws.com/doc/2016-11-15/"

func newEC2Fake(volumes int, fail map[string]ec2Error) *ec2Fake {
	f := &ec2Fake{volumes: volumes, fail: fail}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

func (f *ec2Fake) serve(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	in := r.PostForm
	f.mu.Lock()
	f.requests = append(f.requests, in)
	f.mu.Unlock()
	action := in.Get("Action")
	failKey := action
	if action == "DescribeVolumes" {
		failKey += "@" + in.Get("NextToken")
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	if e, ok := f.fail[failKey]; ok {
		w.WriteHeader(e.status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>%s</Code><Message>injected %s</Message></Error></Errors><RequestID>fake</RequestID></Response>`, e.code, e.code)
		return
	}
	switch action {
	case "GetEbsEncryptionByDefault":
		if f.omitSetting {
			fmt.Fprintf(w, `<GetEbsEncryptionByDefaultResponse xmlns="%s"><requestId>fake</requestId></GetEbsEncryptionByDefaultResponse>`, ec2NS)
			return
		}
		fmt.Fprintf(w, `<GetEbsEncryptionByDefaultResponse xmlns="%s"><requestId>fake</requestId><ebsEncryptionByDefault>true</ebsEncryptionByDefault><sseType>sse-ebs</sseType></GetEbsEncryptionByDefaultResponse>`, ec2NS)
	case "GetEbsDefaultKmsKeyId":
		fmt.Fprintf(w, `<GetEbsDefaultKmsKeyIdResponse xmlns="%s"><requestId>fake</requestId><kmsKeyId>arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab</kmsKeyId></GetEbsDefaultKmsKeyIdResponse>`, ec2NS)
	case "DescribeVolumes":
		if in.Get("VolumeId.1") != "" {
			// By ID, as AWS answers: every volume, or InvalidVolume.NotFound.
			var b strings.Builder
			for n := 1; in.Get("VolumeId."+strconv.Itoa(n)) != ""; n++ {
				id := in.Get("VolumeId." + strconv.Itoa(n))
				i, err := strconv.Atoi(strings.TrimPrefix(id, "vol-"))
				if err != nil || i >= f.volumes || id != fmt.Sprintf("vol-%017d", i) {
					w.WriteHeader(http.StatusBadRequest)
					fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>InvalidVolume.NotFound</Code><Message>The volume '%s' does not exist.</Message></Error></Errors><RequestID>fake</RequestID></Response>`, id)
					return
				}
				v := fakeVolume(i)
				if st, ok := f.states[i]; ok {
					v = statusRE.ReplaceAllString(v, "<status>"+st+"</status><attachmentSet/>")
				}
				b.WriteString(v)
			}
			fmt.Fprintf(w, `<DescribeVolumesResponse xmlns="%s"><requestId>fake</requestId><volumeSet>%s</volumeSet></DescribeVolumesResponse>`, ec2NS, b.String())
			return
		}
		start, _ := strconv.Atoi(in.Get("NextToken"))
		end := f.volumes // without MaxResults AWS returns every volume
		if n, err := strconv.Atoi(in.Get("MaxResults")); err == nil {
			end = min(start+min(n, 500), f.volumes)
		}
		var b strings.Builder
		fmt.Fprintf(&b, `<DescribeVolumesResponse xmlns="%s"><requestId>fake</requestId><volumeSet>`, ec2NS)
		for i := start; i < end; i++ {
			fmt.Fprint(&b, fakeVolume(i))
		}
		b.WriteString(`</volumeSet>`)
		if end < f.volumes {
			fmt.Fprintf(&b, `<nextToken>%d</nextToken>`, end)
		}
		b.WriteString(`</DescribeVolumesResponse>`)
		_, _ = w.Write([]byte(b.String()))
	default:
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `<Response><Errors><Error><Code>InvalidAction</Code><Message>%s</Message></Error></Errors></Response>`, action)
	}
}

// statusRE is a volume's own status and its attachments.
var statusRE = regexp.MustCompile(`<status>[a-z-]+</status><createTime>[^<]*</createTime><attachmentSet.*?(</attachmentSet>|/>)`)

// fakeVolume i is attached, named and tagged posture-auditor:exempt on even
// i, encrypted with a customer managed key (and untagged) on odd i.
func fakeVolume(i int) string {
	id := fmt.Sprintf("vol-%017d", i)
	if i%2 == 1 {
		return fmt.Sprintf(`<item><volumeId>%s</volumeId><size>100</size><snapshotId/><availabilityZone>eu-west-1b</availabilityZone><status>available</status>`+
			`<createTime>2026-01-02T03:04:05.000Z</createTime><attachmentSet/><encrypted>true</encrypted>`+
			`<kmsKeyId>arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab</kmsKeyId><volumeType>gp3</volumeType></item>`, id)
	}
	return fmt.Sprintf(`<item><volumeId>%s</volumeId><size>8</size><snapshotId>snap-1</snapshotId><availabilityZone>eu-west-1a</availabilityZone><status>in-use</status>`+
		`<createTime>2026-01-02T03:04:05.000Z</createTime><attachmentSet><item><volumeId>%s</volumeId><instanceId>i-%d</instanceId><device>/dev/xvda</device>`+
		`<status>attached</status><attachTime>2026-01-02T03:05:00.000Z</attachTime><deleteOnTermination>true</deleteOnTermination></item></attachmentSet>`+
		`<encrypted>false</encrypted><volumeType>gp2</volumeType><tagSet><item><key>Name</key><value>web-%d</value></item>`+
		`<item><key>posture-auditor:exempt</key><value>ebs.volume-cmk</value></item></tagSet></item>`, id, id, i, i)
}

func (f *ec2Fake) calls(action string) []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []url.Values
	for _, in := range f.requests {
		if in.Get("Action") == action {
			out = append(out, in)
		}
	}
	return out
}

func fakeConfig(t *testing.T, url string, counter *awsconfig.CallCounter) aws.Config {
	return wirefake.Config(t, url, region, counter)
}

// TestCollectPaginates reads 1,201 volumes in 3 pages of at most 500, with
// a filter-free DescribeVolumes, and maps every field the checks use.
func TestCollectPaginates(t *testing.T) {
	fake := newEC2Fake(1201, nil)
	defer fake.Close()
	counter := awsconfig.NewCallCounter()
	snap := snapshot.New("111122223333", "aws", region)
	ebscollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, counter), snap, collect.Scope{})

	if !snap.Complete(snapshot.EBS) {
		t.Fatalf("errors: %v", snap.Errors)
	}
	if got := len(snap.EBS.Volumes); got != 1201 {
		t.Fatalf("got %d volumes, want 1201", got)
	}
	if got := counter.Count("EC2", "DescribeVolumes"); got != 3 {
		t.Errorf("DescribeVolumes pages: %d, want 3", got)
	}
	for _, in := range fake.calls("DescribeVolumes") {
		for k := range in {
			if strings.HasPrefix(k, "Filter") || strings.HasPrefix(k, "VolumeId") {
				t.Errorf("a full listing sends no filters or IDs: %v", in)
			}
		}
		if in.Get("MaxResults") != "500" {
			t.Errorf("MaxResults %q, want 500", in.Get("MaxResults"))
		}
	}
	if got := len(dataKeyUses(snap)); got != 600 {
		t.Errorf("key uses: %d, want 600 (the encrypted volumes)", got)
	}
	// The default key is recorded too, as a setting, so that it gets
	// described when the region's own listing does not cover it.
	if all := snap.KeyUses(); len(all) != 601 || !all[0].Setting || all[0].KeyRef != "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab" ||
		all[0].ResourceARN != "AWS::::Account:111122223333" {
		t.Errorf("default key use: %+v", all[0])
	}
	v := snap.EBS.Volumes[1200]
	if v.ID != "vol-00000000000001200" || v.Name != "web-1200" || v.State != "in-use" || v.VolumeType != "gp2" || v.SizeGiB != 8 ||
		v.SnapshotID != "snap-1" || !v.Encrypted.Known || v.Encrypted.Value || v.KMSKeyID != "" ||
		len(v.Attachments) != 1 || v.Attachments[0].InstanceID != "i-1200" || v.Attachments[0].Device != "/dev/xvda" ||
		v.Attachments[0].State != "attached" || !v.Attachments[0].DeleteOnTermination || v.Attachments[0].AttachTime.IsZero() {
		t.Errorf("last volume: %+v", v)
	}
	if want := map[string]string{"Name": "web-1200", "posture-auditor:exempt": "ebs.volume-cmk"}; !maps.Equal(v.Tags.Map(), want) {
		t.Errorf("last volume's tags %v, want %v", v.Tags, want)
	}
	if e := snap.EBS.Volumes[1]; !e.Encrypted.Value || e.KMSKeyID != "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab" || e.Tags != nil {
		t.Errorf("encrypted volume: %+v", e)
	}
	if d := snap.EBS.Defaults; !d.EncryptionByDefault.Value || d.DefaultKMSKey.Value != "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab" {
		t.Errorf("defaults: %+v", d)
	}
}

// TestCollectListDenied: a page denied midway records the error and keeps no
// volume, so none can read as gone; the account setting is still read.
func TestCollectListDenied(t *testing.T) {
	fake := newEC2Fake(1201, map[string]ec2Error{"DescribeVolumes@500": {http.StatusForbidden, "UnauthorizedOperation"}})
	defer fake.Close()
	snap := snapshot.New("111122223333", "aws", region)
	ebscollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, nil), snap, collect.Scope{})
	if len(snap.EBS.Volumes) != 0 || len(dataKeyUses(snap)) != 0 {
		t.Errorf("%d volumes, %d key uses after a failed listing", len(snap.EBS.Volumes), len(dataKeyUses(snap)))
	}
	errs := snap.Errors[snapshot.EBS]
	if len(errs) != 1 || errs[0].Operation != "DescribeVolumes" || errs[0].Resource != "" || errs[0].Code != "UnauthorizedOperation" {
		t.Errorf("errors: %+v", errs)
	}
	if !snap.Collected[snapshot.EBS] || snap.Complete(snapshot.EBS) {
		t.Error("a failed listing must leave EBS collected but incomplete")
	}
	if d := snap.EBS.Defaults; d == nil || !d.EncryptionByDefault.Known || !d.DefaultKMSKey.Known {
		t.Errorf("defaults: %+v", d)
	}
}

// TestDefaultsDeniedOrFailing: a denied or failing settings call leaves its
// half unknown with the AWS reason, never a value.
func TestDefaultsDeniedOrFailing(t *testing.T) {
	for name, tc := range map[string]struct {
		fail     map[string]ec2Error
		onKnown  bool
		keyKnown bool
		reason   string
	}{
		"setting denied": {map[string]ec2Error{"GetEbsEncryptionByDefault": {http.StatusForbidden, "UnauthorizedOperation"}}, false, true,
			"GetEbsEncryptionByDefault failed: UnauthorizedOperation: injected UnauthorizedOperation"},
		"key denied": {map[string]ec2Error{"GetEbsDefaultKmsKeyId": {http.StatusForbidden, "UnauthorizedOperation"}}, true, false,
			"GetEbsDefaultKmsKeyId failed: UnauthorizedOperation: injected UnauthorizedOperation"},
		"key 5xx": {map[string]ec2Error{"GetEbsDefaultKmsKeyId": {http.StatusServiceUnavailable, "Unavailable"}}, true, false,
			"GetEbsDefaultKmsKeyId failed: Unavailable: injected Unavailable"},
	} {
		t.Run(name, func(t *testing.T) {
			fake := newEC2Fake(2, tc.fail)
			defer fake.Close()
			snap := snapshot.New("111122223333", "aws", region)
			ebscollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, nil), snap, collect.Scope{})
			d := snap.EBS.Defaults
			if d.EncryptionByDefault.Known != tc.onKnown || d.DefaultKMSKey.Known != tc.keyKnown {
				t.Fatalf("defaults: %+v", d)
			}
			reason := d.EncryptionByDefault.Reason + d.DefaultKMSKey.Reason
			if reason != tc.reason {
				t.Errorf("reason %q, want %q", reason, tc.reason)
			}
			if errs := snap.Errors[snapshot.EBS]; len(errs) != 1 || len(snap.EBS.Volumes) != 2 {
				t.Errorf("errors %+v, %d volumes", errs, len(snap.EBS.Volumes))
			}
		})
	}
}

// TestDefaultsWithoutValueIsRecorded: a GetEbsEncryptionByDefault answer
// without its value leaves the setting unknown and is recorded, so the
// region's EBS scope is incomplete and nothing is archived on it.
func TestDefaultsWithoutValueIsRecorded(t *testing.T) {
	fake := newEC2Fake(2, nil)
	fake.omitSetting = true
	defer fake.Close()
	snap := snapshot.New("111122223333", "aws", region)
	ebscollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, nil), snap, collect.Scope{})
	if d := snap.EBS.Defaults; d.EncryptionByDefault.Known || d.EncryptionByDefault.Reason != "GetEbsEncryptionByDefault returned no value" || !d.DefaultKMSKey.Known {
		t.Errorf("defaults: %+v", d)
	}
	if errs := snap.Errors[snapshot.EBS]; len(errs) != 1 || errs[0].Operation != "GetEbsEncryptionByDefault" || errs[0].Code != collect.IncompleteResponse {
		t.Errorf("errors: %+v", errs)
	}
	if snap.Complete(snapshot.EBS) {
		t.Error("an unanswered setting must make the EBS scope incomplete")
	}
}

// dataKeyUses are the key uses of volumes, without the default-key setting.
func dataKeyUses(snap *snapshot.Snapshot) []snapshot.KeyUse {
	var out []snapshot.KeyUse
	for _, u := range snap.KeyUses() {
		if !u.Setting {
			out = append(out, u)
		}
	}
	return out
}

// TestCollectNamedGoneAndServerError: a named volume AWS returns deleting or
// deleted is absent and not judged; a 5xx on a named volume's describe is
// an error naming it, never an absence.
func TestCollectNamedGoneAndServerError(t *testing.T) {
	fake := newEC2Fake(4, nil)
	fake.states = map[int]string{1: "deleting", 2: "deleted"}
	defer fake.Close()
	ids := []string{"vol-00000000000000000", "vol-00000000000000001", "arn:aws:ec2:eu-west-1:111122223333:volume/vol-00000000000000002"}
	snap := snapshot.New("111122223333", "aws", region)
	ebscollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, nil), snap, collect.Scope{ResourceIDs: ids})
	if !snap.Complete(snapshot.EBS) || len(snap.EBS.Volumes) != 1 || snap.EBS.Volumes[0].ID != ids[0] {
		t.Fatalf("errors %+v, volumes %+v", snap.Errors, snap.EBS.Volumes)
	}
	if snap.Absent(snapshot.EBS, ids[0]) || !snap.Absent(snapshot.EBS, ids[1]) || !snap.Absent(snapshot.EBS, ids[2]) {
		t.Errorf("absent: %v %v %v", snap.Absent(snapshot.EBS, ids[0]), snap.Absent(snapshot.EBS, ids[1]), snap.Absent(snapshot.EBS, ids[2]))
	}
	if len(fake.calls("DescribeVolumes")) != 1 || len(fake.calls("GetEbsEncryptionByDefault")) != 0 {
		t.Errorf("calls: %v", fake.requests)
	}
	if uses := snap.KeyUses(); len(uses) != 0 {
		t.Errorf("key uses of gone volumes: %+v", uses)
	}

	fake5xx := newEC2Fake(4, map[string]ec2Error{"DescribeVolumes@": {http.StatusServiceUnavailable, "Unavailable"}})
	defer fake5xx.Close()
	snap = snapshot.New("111122223333", "aws", region)
	ebscollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake5xx.URL, nil), snap, collect.Scope{ResourceIDs: ids[:1]})
	if errs := snap.Errors[snapshot.EBS]; len(errs) != 1 || errs[0].Resource != ids[0] || errs[0].Code != "Unavailable" || snap.Absent(snapshot.EBS, ids[0]) || len(snap.EBS.Volumes) != 0 {
		t.Errorf("5xx: errors %+v, absent %v", errs, snap.Absent(snapshot.EBS, ids[0]))
	}
}

// TestTagsComeWithDescribeVolumes: a scan and a run naming volumes read the
// volumes' tags from the DescribeVolumes answers they already ask for; the
// collector makes no other call (no DescribeTags).
func TestTagsComeWithDescribeVolumes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		scope collect.Scope
		calls map[string]int
	}{
		{"scan", collect.Scope{}, map[string]int{"DescribeVolumes": 1, "GetEbsEncryptionByDefault": 1, "GetEbsDefaultKmsKeyId": 1}},
		{"named", collect.Scope{ResourceIDs: []string{"vol-00000000000000000", "vol-00000000000000001", "vol-00000000000000002"}}, map[string]int{"DescribeVolumes": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := newEC2Fake(3, nil)
			defer fake.Close()
			counter := awsconfig.NewCallCounter()
			snap := snapshot.New("111122223333", "aws", region)
			ebscollect.Collector{}.Collect(context.Background(), fakeConfig(t, fake.URL, counter), snap, tc.scope)
			if !snap.Complete(snapshot.EBS) || len(snap.EBS.Volumes) != 3 {
				t.Fatalf("%d volumes, errors %v", len(snap.EBS.Volumes), snap.Errors)
			}
			for _, v := range snap.EBS.Volumes {
				var want map[string]string
				if v.ID != "vol-00000000000000001" {
					want = map[string]string{"Name": v.Name, "posture-auditor:exempt": "ebs.volume-cmk"}
				}
				if !maps.Equal(v.Tags.Map(), want) {
					t.Errorf("%s tags %v, want %v", v.ID, v.Tags, want)
				}
			}
			total := 0
			for op, n := range tc.calls {
				total += n
				if got := counter.Count("EC2", op); got != n {
					t.Errorf("%s called %d times, want %d", op, got, n)
				}
			}
			if counter.Total() != total {
				t.Errorf("%d calls, want %d (no tag call): %+v", counter.Total(), total, counter.Snapshot())
			}
		})
	}
}
