package main

// The event step: one change made through the SDK, the CloudTrail event
// EventBridge delivers for it (through the re-check queue, in an SQS batch
// with a duplicate and an event about something this tool does not audit),
// the events binary run on that batch from a shell, and the re-judged
// finding read back from Security Hub.

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/posture-auditor/posture-auditor/pkg/check"
	"github.com/posture-auditor/posture-auditor/pkg/eventhandler"
	"github.com/posture-auditor/posture-auditor/pkg/runner"
	"github.com/posture-auditor/posture-auditor/test/seed"
)

// eventStep disables rotation on kms/rotating (PASSED after run 2), feeds
// the events binary the batch carrying its DisableKeyRotation event, and
// confirms in Security Hub that the finding flipped to FAILED in place.
func eventStep(ctx context.Context, cfgs map[string]aws.Config, d seed.Demo, second *runner.Summary,
	before map[string]types.AwsSecurityFinding, bin, dir, endpoint string) error {
	const checkID = "kms.rotation"
	key := d["kms/rotating"]
	var was *runner.FindingSummary
	for i, f := range second.Findings {
		if f.CheckID == checkID && f.ResourceARN == key {
			was = &second.Findings[i]
		}
	}
	if was == nil || was.Status != check.Passed {
		return fmt.Errorf("event step: %s of kms/rotating is not PASSED after run 2 (%v)", checkID, was)
	}

	region := regions[0]
	fmt.Printf("\n=== Change: rotation disabled on %s (kms DisableKeyRotation through the SDK); no sweep follows, only its event\n", name(*was))
	if _, err := kms.NewFromConfig(cfgs[region]).DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: aws.String(seed.KeyID(key))}); err != nil {
		return fmt.Errorf("disable rotation: %w", err)
	}

	fmt.Println("\n=== The event")
	start := time.Now()
	account := second.Account
	ev := disableKeyRotation(account, region, seed.KeyID(key), key, start)
	batch := sqsBatch(account, region, start, ev, ev, putBucketVersioning(account, region, "demo-build-logs", start))
	path := filepath.Join(dir, "recheck-batch.json")
	if err := os.WriteFile(path, batch, 0o600); err != nil {
		return err
	}
	fmt.Printf("wrote %s, an SQS batch as Lambda receives it from the re-check queue:\n", path)
	fmt.Printf("  1. aws.kms DisableKeyRotation: requestParameters.keyId %s, responseElements.keyId %s\n", seed.KeyID(key), key)
	fmt.Println("  2. the same event again (EventBridge and SQS deliver at least once)")
	fmt.Println("  3. aws.s3 PutBucketVersioning on demo-build-logs (S3 is not audited)")
	fmt.Printf("$ AWS_ENDPOINT_URL=%s AWS_REGION=%s AUDIT_REGIONS=%s events < %s\n", endpoint, region, strings.Join(regions, ","), filepath.Base(path))
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = in, &stdout, &stderr
	cmd.Env = functionEnv(endpoint)
	runErr := cmd.Run()
	elapsed := time.Since(start)
	if runErr != nil {
		os.Stderr.Write(stderr.Bytes())
		return fmt.Errorf("events: %w", runErr)
	}
	printLog(stderr.Bytes())
	var res eventhandler.Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return fmt.Errorf("events result: %w", err)
	}
	if res.Summary == nil {
		return fmt.Errorf("events: nothing was re-checked: %+v", res.Messages)
	}
	printResult(&res)
	fmt.Printf("From writing the event to the binary exiting: %s (wall clock).\n", elapsed.Round(time.Millisecond))

	stored, err := readBack(ctx, cfgs, res.Summary)
	if err != nil {
		return err
	}
	return checkFlipped(was, before[was.FindingID], stored[was.FindingID])
}

// printLog shows the binary's JSON log lines (stderr) one short line each.
func printLog(raw []byte) {
	for _, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		var l struct {
			Level, Msg, MessageID string
			DurationMs            *int64
		}
		if len(line) == 0 {
			continue
		}
		if json.Unmarshal(line, &l) != nil {
			fmt.Printf("  stderr: %s\n", line)
			continue
		}
		if l.MessageID != "" {
			l.Msg += " (message " + short(l.MessageID) + ")"
		}
		if l.DurationMs != nil {
			l.Msg += fmt.Sprintf(" in %d ms", *l.DurationMs)
		}
		fmt.Printf("  stderr (JSON log): %s %s\n", l.Level, l.Msg)
	}
}

func printResult(res *eventhandler.Result) {
	s := res.Summary
	names := map[string]string{}
	for _, f := range s.Findings {
		if f.ResourceName != "" {
			names[f.ResourceARN] = f.ResourceName
		}
	}
	failures := make([]string, len(res.BatchItemFailures))
	for i, f := range res.BatchItemFailures {
		failures[i] = f.ItemIdentifier
	}
	named := 0
	for _, m := range res.Messages {
		named += len(m.Resources)
	}
	coalesced := ""
	if named > res.Rechecked {
		coalesced = fmt.Sprintf(" (%d resource mentions coalesced)", named)
	}
	fmt.Printf("\n%d messages, rechecked %d%s, batchItemFailures [%s]:\n",
		len(res.Messages), res.Rechecked, coalesced, strings.Join(failures, " "))
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "MESSAGE\tEVENT\tRESOURCES\tSKIPPED")
	for _, m := range res.Messages {
		var rs []string
		for _, k := range m.Resources {
			rs = append(rs, resourceName(k, names))
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", short(m.ID), m.Event, orDash(strings.Join(rs, ", ")), orDash(strings.Join(m.Skipped, "; ")))
	}
	w.Flush()

	fmt.Println("\nFindings re-judged:")
	w = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "CHECK\tRESOURCE\tSTATUS\tACTION\tREASON")
	for _, f := range s.Findings {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", f.CheckID, name(f), f.Status, f.Action, f.Reason)
	}
	w.Flush()

	calls := make([]string, len(s.Calls))
	for i, c := range s.Calls {
		calls[i] = fmt.Sprintf("%s:%s x%d", c.Service, c.Operation, c.Count)
	}
	fmt.Printf("\nAWS calls: %s\n", strings.Join(calls, ", "))
	printRunFooter(s)
}

// resourceName shows a resource key (kind|account|region|id) as its kind
// and name.
func resourceName(key string, names map[string]string) string {
	parts := strings.SplitN(key, "|", 4)
	if len(parts) != 4 {
		return key
	}
	id := parts[3]
	if n, ok := names[id]; ok {
		id = n
	} else if i := strings.LastIndex(id, ":"); i >= 0 {
		id = id[i+1:]
	}
	return parts[0] + " " + id
}

// short abbreviates a message ID (a UUID) to its first 8 characters.
func short(id string) string { return id[:min(8, len(id))] }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// checkFlipped confirms in Security Hub that the event turned the finding
// FAILED in place: same finding, first-seen times kept, updated later.
func checkFlipped(f *runner.FindingSummary, before, after types.AwsSecurityFinding) error {
	status := func(x types.AwsSecurityFinding) string {
		if x.Compliance == nil {
			return "-"
		}
		return string(x.Compliance.Status)
	}
	same := func(a, b *string) string {
		if aws.ToString(a) == aws.ToString(b) {
			return "unchanged"
		}
		return "CHANGED"
	}
	later := "not later"
	b, errB := time.Parse(time.RFC3339Nano, aws.ToString(before.UpdatedAt))
	a, errA := time.Parse(time.RFC3339Nano, aws.ToString(after.UpdatedAt))
	if errA == nil && errB == nil && a.After(b) {
		later = "later"
	}
	fmt.Printf("\n%s %s in Security Hub:\n", f.CheckID, name(*f))
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "\tAFTER RUN 2\tAFTER THE EVENT")
	fmt.Fprintf(w, "  Compliance.Status\t%s\t%s\n", status(before), status(after))
	fmt.Fprintf(w, "  CreatedAt\t%s\t%s\t%s\n", aws.ToString(before.CreatedAt), aws.ToString(after.CreatedAt), same(before.CreatedAt, after.CreatedAt))
	fmt.Fprintf(w, "  FirstObservedAt\t%s\t%s\t%s\n", aws.ToString(before.FirstObservedAt), aws.ToString(after.FirstObservedAt), same(before.FirstObservedAt, after.FirstObservedAt))
	fmt.Fprintf(w, "  UpdatedAt\t%s\t%s\t%s\n", aws.ToString(before.UpdatedAt), aws.ToString(after.UpdatedAt), later)
	w.Flush()
	switch {
	case status(after) != string(check.Failed) || after.RecordState != types.RecordStateActive:
		return fmt.Errorf("after the DisableKeyRotation event, %s %s is %s %s in Security Hub, want ACTIVE FAILED", f.CheckID, name(*f), after.RecordState, status(after))
	case same(before.CreatedAt, after.CreatedAt) != "unchanged" || same(before.FirstObservedAt, after.FirstObservedAt) != "unchanged":
		return fmt.Errorf("the event's re-check of %s %s lost its first-seen times", f.CheckID, name(*f))
	case later != "later":
		return fmt.Errorf("the event's re-check of %s %s did not advance UpdatedAt", f.CheckID, name(*f))
	}
	fmt.Println("Event path confirmed in Security Hub: PASSED -> FAILED in place, first seen kept, updated now.")
	return nil
}

// CloudTrail records and their EventBridge envelope, fields in the order
// AWS writes them.

type envelope struct {
	Version    string   `json:"version"`
	ID         string   `json:"id"`
	DetailType string   `json:"detail-type"`
	Source     string   `json:"source"`
	Account    string   `json:"account"`
	Time       string   `json:"time"`
	Region     string   `json:"region"`
	Resources  []string `json:"resources"`
	Detail     trailRec `json:"detail"`
}

type trailRec struct {
	EventVersion        string            `json:"eventVersion"`
	UserIdentity        userIdentity      `json:"userIdentity"`
	EventTime           string            `json:"eventTime"`
	EventSource         string            `json:"eventSource"`
	EventName           string            `json:"eventName"`
	AWSRegion           string            `json:"awsRegion"`
	SourceIPAddress     string            `json:"sourceIPAddress"`
	UserAgent           string            `json:"userAgent"`
	RequestParameters   any               `json:"requestParameters"`
	ResponseElements    any               `json:"responseElements"`
	AdditionalEventData any               `json:"additionalEventData,omitempty"`
	RequestID           string            `json:"requestID"`
	EventID             string            `json:"eventID"`
	ReadOnly            bool              `json:"readOnly"`
	Resources           []trailResource   `json:"resources"`
	EventType           string            `json:"eventType"`
	ManagementEvent     bool              `json:"managementEvent"`
	RecipientAccountID  string            `json:"recipientAccountId"`
	EventCategory       string            `json:"eventCategory"`
	TLSDetails          map[string]string `json:"tlsDetails"`
}

type userIdentity struct {
	Type           string `json:"type"`
	PrincipalID    string `json:"principalId"`
	ARN            string `json:"arn"`
	AccountID      string `json:"accountId"`
	AccessKeyID    string `json:"accessKeyId"`
	SessionContext any    `json:"sessionContext"`
}

type trailResource struct {
	AccountID string `json:"accountId"`
	Type      string `json:"type"`
	ARN       string `json:"ARN"`
}

// apiCall is an "AWS API Call via CloudTrail" event made by alice through
// the Go SDK, as EventBridge delivers it.
func apiCall(account, region, service, op string, at time.Time, req, resp any, res []trailResource, host string) envelope {
	ts := at.UTC().Format(time.RFC3339)
	return envelope{
		Version: "0", ID: newUUID(), DetailType: "AWS API Call via CloudTrail", Source: "aws." + service,
		Account: account, Time: ts, Region: region, Resources: []string{},
		Detail: trailRec{
			EventVersion: "1.11",
			UserIdentity: userIdentity{
				Type: "AssumedRole", PrincipalID: "AROA3XFRBF535PLBIFPI4:alice",
				ARN: "arn:aws:sts::" + account + ":assumed-role/Admin/alice", AccountID: account, AccessKeyID: "ASIA3XFRBF53EXAMPLE7",
				SessionContext: map[string]any{
					"sessionIssuer": map[string]string{"type": "Role", "principalId": "AROA3XFRBF535PLBIFPI4",
						"arn": "arn:aws:iam::" + account + ":role/Admin", "accountId": account, "userName": "Admin"},
					"attributes": map[string]string{"creationDate": at.Add(-23 * time.Minute).UTC().Format(time.RFC3339), "mfaAuthenticated": "false"},
				},
			},
			EventTime: ts, EventSource: service + ".amazonaws.com", EventName: op, AWSRegion: region,
			SourceIPAddress: "203.0.113.24",
			UserAgent: fmt.Sprintf("aws-sdk-go-v2/%s ua/2.1 os/%s lang/go#%s md/GOOS#%s md/GOARCH#%s api/%s%s",
				aws.SDKVersion, runtime.GOOS, strings.TrimPrefix(runtime.Version(), "go"), runtime.GOOS, runtime.GOARCH, service,
				moduleVersion("github.com/aws/aws-sdk-go-v2/service/"+service)),
			RequestParameters: req, ResponseElements: resp,
			RequestID: newUUID(), EventID: newUUID(), Resources: res,
			EventType: "AwsApiCall", ManagementEvent: true, RecipientAccountID: account, EventCategory: "Management",
			TLSDetails: map[string]string{"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": host},
		},
	}
}

// disableKeyRotation is the record of the demo's call: the key as the
// caller named it (its ID) in the request, and its ARN in responseElements
// (KMS adds it to write calls' records since December 2022) and resources.
func disableKeyRotation(account, region, keyID, keyARN string, at time.Time) envelope {
	return apiCall(account, region, "kms", "DisableKeyRotation", at,
		map[string]string{"keyId": keyID}, map[string]string{"keyId": keyARN},
		[]trailResource{{AccountID: account, Type: "AWS::KMS::Key", ARN: keyARN}}, "kms."+region+".amazonaws.com")
}

// putBucketVersioning is a call about S3, which no check of this tool
// covers.
func putBucketVersioning(account, region, bucket string, at time.Time) envelope {
	ev := apiCall(account, region, "s3", "PutBucketVersioning", at,
		map[string]any{"bucketName": bucket, "Host": bucket + ".s3." + region + ".amazonaws.com", "versioning": "",
			"VersioningConfiguration": map[string]string{"Status": "Enabled", "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/"}},
		nil, []trailResource{{AccountID: account, Type: "AWS::S3::Bucket", ARN: "arn:aws:s3:::" + bucket}}, bucket+".s3."+region+".amazonaws.com")
	ev.Detail.AdditionalEventData = map[string]any{"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
		"bytesTransferredIn": 150, "AuthenticationMethod": "AuthHeader", "x-amz-id-2": randomB64(56), "bytesTransferredOut": 0}
	id := make([]byte, 8)
	rand.Read(id)
	ev.Detail.RequestID = strings.ToUpper(hex.EncodeToString(id)) // S3's are 16 characters, not UUIDs
	return ev
}

type sqsRecord struct {
	MessageID         string            `json:"messageId"`
	ReceiptHandle     string            `json:"receiptHandle"`
	Body              string            `json:"body"`
	Attributes        sqsAttributes     `json:"attributes"`
	MessageAttributes map[string]string `json:"messageAttributes"`
	MD5OfBody         string            `json:"md5OfBody"`
	EventSource       string            `json:"eventSource"`
	EventSourceARN    string            `json:"eventSourceARN"`
	AWSRegion         string            `json:"awsRegion"`
}

type sqsAttributes struct {
	ApproximateReceiveCount          string
	SentTimestamp                    string
	SenderID                         string `json:"SenderId"`
	ApproximateFirstReceiveTimestamp string
}

// sqsBatch is the SQS event Lambda's event source mapping delivers for the
// re-check queue, one message per event, as the template's rule sends them.
func sqsBatch(account, region string, at time.Time, events ...envelope) []byte {
	var records []sqsRecord
	for i, ev := range events {
		body, err := json.Marshal(ev)
		if err != nil {
			panic(err)
		}
		sum := md5.Sum(body)
		sent := at.Add(time.Duration(i) * time.Millisecond).UnixMilli()
		records = append(records, sqsRecord{
			MessageID: newUUID(), ReceiptHandle: "AQEB" + randomB64(96), Body: string(body),
			Attributes: sqsAttributes{ApproximateReceiveCount: "1", SentTimestamp: strconv.FormatInt(sent, 10),
				SenderID: "AIDAIE6VAXUQU2DKHA7DK", ApproximateFirstReceiveTimestamp: strconv.FormatInt(sent+41, 10)},
			MessageAttributes: map[string]string{}, MD5OfBody: hex.EncodeToString(sum[:]),
			EventSource: "aws:sqs", EventSourceARN: "arn:aws:sqs:" + region + ":" + account + ":posture-auditor-RecheckQueue", AWSRegion: region,
		})
	}
	out, err := json.MarshalIndent(map[string]any{"Records": records}, "", "  ")
	if err != nil {
		panic(err)
	}
	return out
}

// moduleVersion is "#" and the version of a module built into the demo, as
// the SDK's user agent shows a service client's; "" when it is not built in
// (S3's client: the demo makes no S3 call).
func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == path {
				return "#" + strings.TrimPrefix(m.Version, "v")
			}
		}
	}
	return ""
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func randomB64(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
