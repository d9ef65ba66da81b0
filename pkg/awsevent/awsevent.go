// Package awsevent reads an EventBridge event — an API call or service
// event recorded by CloudTrail, a native KMS or ACM event, or a Security Hub
// "Re-check" custom action — into the resources it names. It is pure and
// makes no call: what the event says happened is never trusted as the new
// state; it only says what to read again.
package awsevent

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/posture-auditor/posture-auditor/pkg/resource"
)

// Target is one resource an event asks to re-check.
type Target = resource.Target

// Parsed is what an event asks for.
type Parsed struct {
	// Event names the event for logs: "aws.kms DisableKey".
	Event   string   `json:"event"`
	Targets []Target `json:"targets,omitempty"`
	// Skipped gives the reason for every part of the event not re-checked
	// (a failed call, a resource type no check covers, an identifier the
	// event does not carry). An event with no Targets is acknowledged with
	// these reasons.
	Skipped []string `json:"skipped,omitempty"`
}

// Envelope is the part of an EventBridge event this package reads.
type Envelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// Detail types handled.
const (
	APICall      = "AWS API Call via CloudTrail"
	ServiceEvent = "AWS Service Event via CloudTrail"
	CustomAction = "Security Hub Findings - Custom Action"
)

// IsEnvelope reports whether raw looks like an EventBridge event (it has a
// detail-type), as opposed to an SQS batch or an on-demand payload.
func IsEnvelope(raw []byte) bool {
	var probe struct {
		DetailType *string `json:"detail-type"`
	}
	return json.Unmarshal(raw, &probe) == nil && probe.DetailType != nil
}

// Parse reads one EventBridge event. It returns an error only for input
// that is not an EventBridge event at all (not JSON, no detail-type or
// source); an event it understands but will not act on comes back with
// Skipped reasons and no Targets.
func Parse(raw []byte) (Parsed, error) {
	var env Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return Parsed{}, fmt.Errorf("malformed EventBridge event: %v", err)
	}
	if env.DetailType == "" || env.Source == "" {
		return Parsed{}, fmt.Errorf("malformed EventBridge event: detail-type and source are required")
	}
	p := Parsed{Event: env.Source + " " + env.DetailType}
	switch env.DetailType {
	case APICall, ServiceEvent:
		parseCloudTrail(env, &p)
	case CustomAction:
		parseCustomAction(env, &p)
	default:
		parseNative(env, &p)
	}
	p.Targets = dedupe(p.Targets)
	return p, nil
}

// record is the CloudTrail record in an API-call or service event.
type record struct {
	EventSource        string         `json:"eventSource"`
	EventName          string         `json:"eventName"`
	EventType          string         `json:"eventType"`
	AWSRegion          string         `json:"awsRegion"`
	RecipientAccountID string         `json:"recipientAccountId"`
	ErrorCode          string         `json:"errorCode"`
	ErrorMessage       string         `json:"errorMessage"`
	ReadOnly           *bool          `json:"readOnly"`
	RequestParameters  map[string]any `json:"requestParameters"`
	ResponseElements   map[string]any `json:"responseElements"`
	AdditionalData     map[string]any `json:"additionalEventData"`
	ServiceEventDetail map[string]any `json:"serviceEventDetails"`
	Resources          []struct {
		ARN  string `json:"ARN"`
		Type string `json:"type"`
	} `json:"resources"`
}

// where is the account and region an event's bare identifiers live in.
type where struct{ partition, account, region string }

// apiVersionSuffix is CloudFront's versioned event names
// (UpdateDistribution2020_05_31).
var apiVersionSuffix = regexp.MustCompile(`20[0-9]{2}_[0-9]{2}_[0-9]{2}$`)

func parseCloudTrail(env Envelope, p *Parsed) {
	var r record
	if err := json.Unmarshal(env.Detail, &r); err != nil || r.EventName == "" {
		p.Skipped = append(p.Skipped, "detail is not a CloudTrail record with an eventName")
		return
	}
	name := apiVersionSuffix.ReplaceAllString(r.EventName, "")
	p.Event = env.Source + " " + name
	if r.ErrorCode != "" {
		p.Skipped = append(p.Skipped, fmt.Sprintf("the call failed (%s): nothing changed", r.ErrorCode))
		return
	}
	if r.ReadOnly != nil && *r.ReadOnly {
		p.Skipped = append(p.Skipped, "a read-only call changes nothing")
		return
	}
	w := where{partition: "aws", account: first(r.RecipientAccountID, env.Account), region: first(r.AWSRegion, env.Region)}
	if strings.HasPrefix(w.region, "cn-") {
		w.partition = "aws-cn"
	} else if strings.HasPrefix(w.region, "us-gov-") {
		w.partition = "aws-us-gov"
	}
	if !resource.ValidAccount(w.account) {
		p.Skipped = append(p.Skipped, fmt.Sprintf("record has no valid account ID (recipientAccountId %q)", r.RecipientAccountID))
		return
	}
	handler, ok := handlers[r.EventSource][name]
	if !ok {
		p.Skipped = append(p.Skipped, fmt.Sprintf("%s %s changes nothing this tool audits", r.EventSource, name))
		return
	}
	handler(r, w, p)
	if len(p.Targets) == 0 && len(p.Skipped) == 0 {
		p.Skipped = append(p.Skipped, fmt.Sprintf("%s %s: the record names no resource this tool can read", r.EventSource, name))
	}
}

type handler func(r record, w where, p *Parsed)

// keyHealth events change whether a key is usable: what it protects is
// re-judged too.
func kmsKey(dependents bool) handler {
	return func(r record, w where, p *Parsed) {
		ids := []string{str(r.ResponseElements, "keyMetadata", "arn"), str(r.ResponseElements, "keyId"),
			str(r.RequestParameters, "keyId"), str(r.AdditionalData, "keyId")}
		for _, res := range r.Resources {
			if res.Type == "AWS::KMS::Key" {
				ids = append([]string{res.ARN}, ids...)
			}
		}
		for _, id := range ids {
			if ref, ok := keyRef(id, w); ok {
				p.Targets = append(p.Targets, Target{Ref: ref, Dependents: dependents})
				return
			}
		}
		p.Skipped = append(p.Skipped, "the record names the key by alias or not at all; the next sweep judges it")
	}
}

func keyRef(id string, w where) (resource.Ref, bool) {
	switch {
	case id == "":
		return resource.Ref{}, false
	case strings.HasPrefix(id, "arn:"):
		ref, err := resource.FromARN(id)
		return ref, err == nil && ref.Kind == resource.KMSKey
	case isKeyID(id):
		a := resource.KeyARN(w.partition, w.region, w.account, id)
		return resource.Ref{Kind: resource.KMSKey, Partition: w.partition, Account: w.account, Region: w.region, ID: a, ARN: a}, validRegion(w.region)
	}
	return resource.Ref{}, false
}

func isKeyID(s string) bool {
	if strings.HasPrefix(s, "mrk-") {
		return len(s) == 36
	}
	return len(s) == 36 && strings.Count(s, "-") == 4
}

func secret(r record, w where, p *Parsed) {
	ids := []string{str(r.ResponseElements, "arn"), str(r.ResponseElements, "aRN"), str(r.ResponseElements, "ARN"),
		str(r.AdditionalData, "SecretId"), str(r.AdditionalData, "secretId"), str(r.ServiceEventDetail, "secretId"),
		str(r.RequestParameters, "secretId"), str(r.RequestParameters, "name")}
	for _, res := range r.Resources {
		if res.Type == "AWS::SecretsManager::Secret" {
			ids = append([]string{res.ARN}, ids...)
		}
	}
	var ref resource.Ref
	for _, id := range ids {
		if id == "" {
			continue
		}
		if strings.HasPrefix(id, "arn:") {
			got, err := resource.FromARN(id)
			if err != nil || got.Kind != resource.Secret {
				continue
			}
			ref = got
			break
		}
		if ref.ID == "" && validRegion(w.region) {
			// A name: the collector finds it by name; its findings can
			// only be archived once its ARN is known.
			ref = resource.Ref{Kind: resource.Secret, Partition: w.partition, Account: w.account, Region: w.region, ID: id}
		}
	}
	if ref.ID == "" {
		p.Skipped = append(p.Skipped, "the record names no secret")
		return
	}
	p.Targets = append(p.Targets, Target{Ref: ref})
	if ref.ARN == "" {
		return
	}
	// A replica is a secret of its own in each region, with the primary's
	// ARN but for the region: added ones are judged, removed ones archived.
	var regions []string
	for _, rr := range list(r.RequestParameters, "addReplicaRegions") {
		regions = append(regions, str(rr, "region"))
	}
	if r.EventName == "RemoveRegionsFromReplication" {
		arr, _ := r.RequestParameters["removeReplicaRegions"].([]any)
		for _, v := range arr {
			if region, ok := v.(string); ok {
				regions = append(regions, region)
			}
		}
	}
	for _, region := range regions {
		if !validRegion(region) {
			continue
		}
		a := strings.Replace(ref.ARN, ":"+ref.Region+":", ":"+region+":", 1)
		p.Targets = append(p.Targets, Target{Ref: resource.Ref{Kind: resource.Secret, Partition: ref.Partition, Account: ref.Account, Region: region, ID: a, ARN: a}})
	}
}

func certificate(r record, w where, p *Parsed) {
	for _, id := range []string{str(r.ResponseElements, "certificateArn"), str(r.RequestParameters, "certificateArn")} {
		if ref, err := resource.FromARN(id); err == nil && ref.Kind == resource.Certificate {
			p.Targets = append(p.Targets, Target{Ref: ref})
			return
		}
	}
	p.Skipped = append(p.Skipped, "the record names no certificate ARN")
}

func distribution(r record, w where, p *Parsed) {
	for _, a := range []string{str(r.ResponseElements, "distribution", "aRN"), str(r.ResponseElements, "distribution", "arn"), str(r.ResponseElements, "distribution", "ARN")} {
		if ref, err := resource.FromARN(a); err == nil && ref.Kind == resource.Distribution {
			p.Targets = append(p.Targets, Target{Ref: ref})
			return
		}
	}
	id := first(str(r.ResponseElements, "distribution", "id"), str(r.RequestParameters, "id"))
	if !distributionID.MatchString(id) {
		p.Skipped = append(p.Skipped, "the record names no distribution ID")
		return
	}
	a := resource.DistributionARN(w.partition, w.account, id)
	p.Targets = append(p.Targets, Target{Ref: resource.Ref{Kind: resource.Distribution, Partition: w.partition, Account: w.account, ID: a, ARN: a}})
}

var distributionID = regexp.MustCompile(`^[A-Z0-9]{8,20}$`)

func responseHeadersPolicy(r record, w where, p *Parsed) {
	if strings.HasPrefix(r.EventName, "Create") {
		p.Skipped = append(p.Skipped, "a new response headers policy is used by no distribution yet (attaching it is an UpdateDistribution)")
		return
	}
	id := first(str(r.ResponseElements, "responseHeadersPolicy", "id"), str(r.RequestParameters, "id"))
	if id == "" || strings.ContainsAny(id, "/ ") {
		p.Skipped = append(p.Skipped, "the record names no response headers policy ID")
		return
	}
	p.Targets = append(p.Targets, Target{Ref: resource.Ref{Kind: resource.ResponseHeadersPolicy, Partition: w.partition, Account: w.account, ID: resource.PolicyScopePrefix + id}})
}

// trail re-checks the trail and, when coverage may have changed, the
// account-wide multi-region logging; logging-only changes need only the
// latter.
func trail(withTrail bool) handler {
	return func(r record, w where, p *Parsed) {
		coverage := resource.Ref{Kind: resource.TrailCoverage, Partition: w.partition, Account: w.account,
			ID: resource.AccountResourceID(w.account), ARN: resource.AccountResourceID(w.account)}
		p.Targets = append(p.Targets, Target{Ref: coverage})
		if !withTrail {
			return
		}
		for _, id := range []string{str(r.ResponseElements, "trailARN"), str(r.RequestParameters, "name"), str(r.RequestParameters, "trailName")} {
			if id == "" {
				continue
			}
			if strings.HasPrefix(id, "arn:") {
				if ref, err := resource.FromARN(id); err == nil && ref.Kind == resource.Trail {
					p.Targets = append(p.Targets, Target{Ref: ref})
					return
				}
				continue
			}
			if !validRegion(w.region) {
				break
			}
			// A trail is created, updated and deleted in its home region.
			a := resource.TrailARN(w.partition, w.region, w.account, id)
			p.Targets = append(p.Targets, Target{Ref: resource.Ref{Kind: resource.Trail, Partition: w.partition, Account: w.account, Region: w.region, ID: a, ARN: a}})
			return
		}
		p.Skipped = append(p.Skipped, "the record names no trail; only the account's multi-region logging is re-checked")
	}
}

// rdsResource reads the ARN from the response, else builds it from the
// identifier fields, in order; renames also re-check the old name (now
// gone).
func rdsResource(kind resource.Kind, arnField, arnType string, idFields ...string) handler {
	return func(r record, w where, p *Parsed) {
		if a := str(r.ResponseElements, arnField); a != "" {
			if ref, err := resource.FromARN(a); err == nil && ref.Kind == kind {
				p.Targets = append(p.Targets, Target{Ref: ref})
			}
		}
		if len(p.Targets) == 0 && validRegion(w.region) {
			for _, f := range idFields {
				if id := str(r.RequestParameters, f); rdsIdentifier.MatchString(id) {
					a := resource.RDSARN(w.partition, w.region, w.account, arnType, id)
					p.Targets = append(p.Targets, Target{Ref: resource.Ref{Kind: kind, Partition: w.partition, Account: w.account, Region: w.region, ID: a, ARN: a}})
					break
				}
			}
		}
		if len(p.Targets) == 0 {
			p.Skipped = append(p.Skipped, "the record names no RDS resource")
			return
		}
		// ModifyDBInstance / ModifyDBCluster with a new identifier: both
		// names are read, whichever the response shows (the rename may
		// apply later): the new one is judged, the old one's findings are
		// archived once it no longer exists.
		if newID := str(r.RequestParameters, "newDBInstanceIdentifier") + str(r.RequestParameters, "newDBClusterIdentifier"); newID != "" && validRegion(w.region) {
			for _, id := range []string{newID, str(r.RequestParameters, idFields[0])} {
				if rdsIdentifier.MatchString(id) {
					a := resource.RDSARN(w.partition, w.region, w.account, arnType, id)
					p.Targets = append(p.Targets, Target{Ref: resource.Ref{Kind: kind, Partition: w.partition, Account: w.account, Region: w.region, ID: a, ARN: a}})
				}
			}
		}
	}
}

var rdsIdentifier = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-:]{0,254}$`)

func repository(r record, w where, p *Parsed) {
	if a := str(r.ResponseElements, "repository", "repositoryArn"); a != "" {
		if ref, err := resource.FromARN(a); err == nil && ref.Kind == resource.Repository {
			p.Targets = append(p.Targets, Target{Ref: ref})
			return
		}
	}
	name := str(r.RequestParameters, "repositoryName")
	account := first(str(r.RequestParameters, "registryId"), w.account)
	if name == "" || !validRegion(w.region) || !resource.ValidAccount(account) {
		p.Skipped = append(p.Skipped, "the record names no repository")
		return
	}
	a := resource.RepositoryARN(w.partition, w.region, account, name)
	p.Targets = append(p.Targets, Target{Ref: resource.Ref{Kind: resource.Repository, Partition: w.partition, Account: account, Region: w.region, ID: a, ARN: a}})
}

// volumes finds every volume ID in the record: CreateVolume answers one,
// CopyVolumes a list, DeleteVolume names it in the request.
func volumes(r record, w where, p *Parsed) {
	if !validRegion(w.region) {
		p.Skipped = append(p.Skipped, "the record has no valid region")
		return
	}
	var ids []string
	collectVolumeIDs(r.ResponseElements, &ids)
	if len(ids) == 0 {
		collectVolumeIDs(r.RequestParameters, &ids)
	}
	for _, id := range ids {
		a := resource.VolumeARN(w.partition, w.region, w.account, id)
		p.Targets = append(p.Targets, Target{Ref: resource.Ref{Kind: resource.Volume, Partition: w.partition, Account: w.account, Region: w.region, ID: a, ARN: a}})
	}
	if len(ids) == 0 {
		p.Skipped = append(p.Skipped, "the record names no volume")
	}
}

var volumeID = regexp.MustCompile(`^vol-[0-9a-f]{8,17}$`)

func collectVolumeIDs(v any, out *[]string) {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if s, ok := t[k].(string); ok && strings.EqualFold(k, "volumeId") && volumeID.MatchString(s) {
				*out = append(*out, s)
				continue
			}
			collectVolumeIDs(t[k], out)
		}
	case []any:
		for _, e := range t {
			collectVolumeIDs(e, out)
		}
	}
}

func ebsDefaults(r record, w where, p *Parsed) {
	if !validRegion(w.region) {
		p.Skipped = append(p.Skipped, "the record has no valid region")
		return
	}
	id := resource.AccountResourceID(w.account)
	p.Targets = append(p.Targets, Target{Ref: resource.Ref{Kind: resource.EBSDefaults, Partition: w.partition, Account: w.account, Region: w.region, ID: id, ARN: id}})
}

func rdsInstance(idFields ...string) handler {
	return rdsResource(resource.DBInstance, "dBInstanceArn", "db", idFields...)
}
func rdsCluster(idFields ...string) handler {
	return rdsResource(resource.DBCluster, "dBClusterArn", "cluster", idFields...)
}
func rdsSnapshot(idFields ...string) handler {
	return rdsResource(resource.DBSnapshot, "dBSnapshotArn", "snapshot", idFields...)
}
func rdsClusterSnapshot(idFields ...string) handler {
	return rdsResource(resource.DBClusterSnapshot, "dBClusterSnapshotArn", "cluster-snapshot", idFields...)
}

// handlers maps event source and name (version suffix removed) to what the
// call can change. Every API that can change an input of a check is here;
// Handled lists them for the template's rule and its test.
var handlers = map[string]map[string]handler{
	"kms.amazonaws.com": {
		"CreateKey": kmsKey(false), "EnableKeyRotation": kmsKey(false), "DisableKeyRotation": kmsKey(false),
		"RotateKeyOnDemand": kmsKey(false), "ScheduleKeyDeletion": kmsKey(true), "CancelKeyDeletion": kmsKey(true),
		"DisableKey": kmsKey(true), "EnableKey": kmsKey(true), "DeleteKey": kmsKey(true),
		"ImportKeyMaterial": kmsKey(true), "DeleteImportedKeyMaterial": kmsKey(true),
	},
	"secretsmanager.amazonaws.com": {
		"CreateSecret": secret, "UpdateSecret": secret, "RotateSecret": secret, "CancelRotateSecret": secret,
		"DeleteSecret": secret, "RestoreSecret": secret, "ReplicateSecretToRegions": secret,
		"RotationSucceeded": secret, "RotationFailed": secret, "RotationStarted": secret, "RotationAbandoned": secret,
		"RemoveRegionsFromReplication": secret,
	},
	"acm.amazonaws.com": {
		"ImportCertificate": certificate, "RequestCertificate": certificate, "RenewCertificate": certificate, "DeleteCertificate": certificate,
	},
	"cloudfront.amazonaws.com": {
		"CreateDistribution": distribution, "CreateDistributionWithTags": distribution, "UpdateDistribution": distribution,
		"DeleteDistribution": distribution, "UpdateDistributionWithStagingConfig": distribution, "CreateResponseHeadersPolicy": responseHeadersPolicy, "UpdateResponseHeadersPolicy": responseHeadersPolicy,
	},
	"cloudtrail.amazonaws.com": {
		"CreateTrail": trail(true), "UpdateTrail": trail(true), "DeleteTrail": trail(true),
		"StartLogging": trail(false), "StopLogging": trail(false), "PutEventSelectors": trail(false),
	},
	"rds.amazonaws.com": {
		"CreateDBInstance": rdsInstance("dBInstanceIdentifier"), "CreateDBInstanceReadReplica": rdsInstance("dBInstanceIdentifier"),
		"RestoreDBInstanceFromDBSnapshot": rdsInstance("dBInstanceIdentifier"), "ModifyDBInstance": rdsInstance("dBInstanceIdentifier"),
		"DeleteDBInstance": rdsInstance("dBInstanceIdentifier"), "RestoreDBInstanceToPointInTime": rdsInstance("targetDBInstanceIdentifier"),
		"RestoreDBInstanceFromS3":       rdsInstance("dBInstanceIdentifier"),
		"RestoreDBClusterToPointInTime": rdsCluster("dBClusterIdentifier"), "RestoreDBClusterFromS3": rdsCluster("dBClusterIdentifier"),
		"CreateDBCluster": rdsCluster("dBClusterIdentifier"), "RestoreDBClusterFromSnapshot": rdsCluster("dBClusterIdentifier"),
		"ModifyDBCluster": rdsCluster("dBClusterIdentifier"), "DeleteDBCluster": rdsCluster("dBClusterIdentifier"),
		"CreateDBSnapshot": rdsSnapshot("dBSnapshotIdentifier"), "CopyDBSnapshot": rdsSnapshot("targetDBSnapshotIdentifier"),
		"DeleteDBSnapshot":        rdsSnapshot("dBSnapshotIdentifier"),
		"CreateDBClusterSnapshot": rdsClusterSnapshot("dBClusterSnapshotIdentifier"), "CopyDBClusterSnapshot": rdsClusterSnapshot("targetDBClusterSnapshotIdentifier"),
		"DeleteDBClusterSnapshot": rdsClusterSnapshot("dBClusterSnapshotIdentifier"),
	},
	"ecr.amazonaws.com": {"CreateRepository": repository, "DeleteRepository": repository},
	"ec2.amazonaws.com": {
		"CreateVolume": volumes, "CopyVolumes": volumes, "DeleteVolume": volumes,
		// Most volumes are created with an instance, in its block device mappings.
		"RunInstances":                 volumes,
		"EnableEbsEncryptionByDefault": ebsDefaults, "DisableEbsEncryptionByDefault": ebsDefaults,
		"ModifyEbsDefaultKmsKeyId": ebsDefaults, "ResetEbsDefaultKmsKeyId": ebsDefaults,
	},
}

// Handled returns every (event source, event name) acted on, sorted.
func Handled() map[string][]string {
	out := map[string][]string{}
	for src, names := range handlers {
		for n := range names {
			out[src] = append(out[src], n)
		}
		sort.Strings(out[src])
	}
	return out
}

// parseNative handles the events KMS and ACM send themselves; the resource
// is the envelope's resources[0].
func parseNative(env Envelope, p *Parsed) {
	kinds := map[string]map[string]bool{
		"aws.kms": {"KMS CMK Rotation": false, "KMS CMK Deletion": true, "KMS Imported Key Material Expiration": true},
		"aws.acm": {"ACM Certificate Approaching Expiration": false, "ACM Certificate Expired": false, "ACM Certificate Available": false, "ACM Certificate Renewal Action Required": false},
	}
	dependents, ok := kinds[env.Source][env.DetailType]
	if !ok {
		p.Skipped = append(p.Skipped, fmt.Sprintf("%s %q is not an event this tool acts on", env.Source, env.DetailType))
		return
	}
	want := resource.KMSKey
	if env.Source == "aws.acm" {
		want = resource.Certificate
	}
	for _, a := range env.Resources {
		if ref, err := resource.FromARN(a); err == nil && ref.Kind == want {
			p.Targets = append(p.Targets, Target{Ref: ref, Dependents: dependents})
		}
	}
	if len(p.Targets) == 0 {
		p.Skipped = append(p.Skipped, "the event's resources name no "+string(want))
	}
}

// parseCustomAction re-checks the resource of every selected finding that
// one of this tool's checks covers: its own, or another product's (e.g.
// Security Hub's KMS.4 on a key).
func parseCustomAction(env Envelope, p *Parsed) {
	if env.Source != "aws.securityhub" {
		p.Skipped = append(p.Skipped, "a custom action event not from aws.securityhub")
		return
	}
	var d struct {
		ActionName string `json:"actionName"`
		Findings   []struct {
			ID           string `json:"Id"`
			ProductArn   string `json:"ProductArn"`
			GeneratorID  string `json:"GeneratorId"`
			AwsAccountID string `json:"AwsAccountId"`
			Region       string `json:"Region"`
			Resources    []struct {
				Type string `json:"Type"`
				ID   string `json:"Id"`
			} `json:"Resources"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(env.Detail, &d); err != nil {
		p.Skipped = append(p.Skipped, "custom action detail is malformed: "+err.Error())
		return
	}
	p.Event = "Security Hub custom action " + fmt.Sprintf("%q", d.ActionName)
	if len(d.Findings) == 0 {
		p.Skipped = append(p.Skipped, "the custom action carries no findings")
	}
	for _, f := range d.Findings {
		if len(f.Resources) == 0 {
			p.Skipped = append(p.Skipped, fmt.Sprintf("finding %s has no resource", f.ID))
			continue
		}
		region := first(f.Region, env.Region)
		partition := "aws"
		if parts := strings.SplitN(f.ProductArn, ":", 3); len(parts) == 3 && parts[0] == "arn" {
			partition = parts[1]
		}
		res := f.Resources[0]
		ref, err := resource.FromFinding(res.Type, res.ID, partition, f.AwsAccountID, region, f.GeneratorID)
		if err != nil {
			p.Skipped = append(p.Skipped, fmt.Sprintf("finding %s: %v", f.ID, err))
			continue
		}
		p.Targets = append(p.Targets, Target{Ref: ref, Dependents: ref.Kind == resource.KMSKey})
	}
}

func dedupe(ts []Target) []Target {
	seen := map[string]int{}
	var out []Target
	for _, t := range ts {
		if i, ok := seen[t.Ref.Key()]; ok {
			out[i].Dependents = out[i].Dependents || t.Dependents
			continue
		}
		seen[t.Ref.Key()] = len(out)
		out = append(out, t)
	}
	return out
}

// str walks nested objects by keys and returns the string found, or "".
func str(m map[string]any, path ...string) string {
	var v any = m
	for _, k := range path {
		obj, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = obj[k]
	}
	s, _ := v.(string)
	return strings.TrimSpace(s)
}

// list returns the objects of an array field.
func list(m map[string]any, key string) []map[string]any {
	arr, _ := m[key].([]any)
	var out []map[string]any
	for _, e := range arr {
		if o, ok := e.(map[string]any); ok {
			out = append(out, o)
		}
	}
	return out
}

func first(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func validRegion(s string) bool { return resource.ValidRegion(s) }
