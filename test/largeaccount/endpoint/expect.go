package endpoint

import "sort"

// Listed reports whether ListSecrets without IncludePlannedDeletion returns
// the secret (one scheduled for deletion is left out).
func (s Secret) Listed() bool { return s.Deleted == nil }

// ExpectedFindings is how many findings each check must produce in region
// for this account, derived from the generated data by the checks' rules
// as documented (docs/checks.md): one finding per judged resource.
//
//   - kms.rotation: customer keys not pending deletion where automatic
//     rotation applies (symmetric, ENCRYPT_DECRYPT, KMS key material, no
//     custom key store).
//   - kms.pending-deletion: every customer key.
//   - kms.key-in-use-unhealthy: every distinct customer key a resource of
//     the region is encrypted with (listed secrets, RDS instances,
//     clusters and both kinds of snapshot, KMS repositories, encrypted
//     volumes not being deleted, trails homed in the region).
//   - acm.expiry: ISSUED or EXPIRED certificates; acm.renewal: ISSUED
//     certificates ACM issued (not IMPORTED); acm.key-strength: every
//     certificate but FAILED, REVOKED and EXPIRED ones.
//   - rds.instance-cmk: instances outside clusters; rds.cluster-cmk:
//     clusters; rds.snapshot-cmk: DB and cluster snapshots.
//   - secretsmanager.*: every listed secret, rotation-succeeding only
//     those with rotation on.
//   - ecr.repository-cmk: repositories; ebs.volume-cmk: volumes not being
//     deleted; ebs.default-encryption: one per region.
//   - cloudtrail.encryption and log-validation: trails homed in the
//     region; cloudtrail.multi-region-logging: one, in the home region.
//   - cloudfront.* (home region only): viewer-tls, viewer-https and hsts
//     every distribution; origin-https those with a custom origin;
//     origin-tls those with a custom origin that is not http-only.
func (a *Account) ExpectedFindings(region string) map[string]int {
	n := map[string]int{}
	inUse := map[int]bool{}
	use := func(e encryption) {
		if e.Mode == "cmk" {
			inUse[e.Key.Index] = true
		}
	}
	for i := 0; i < a.N.Keys; i++ {
		k := a.Key(region, i)
		n["kms.pending-deletion"]++
		if k.RotationApplies() && k.State != "PendingDeletion" {
			n["kms.rotation"]++
		}
	}
	for j := 0; j < a.N.Secrets; j++ {
		s := a.Secret(region, j)
		if !s.Listed() {
			continue
		}
		for _, c := range []string{"secretsmanager.rotation-enabled", "secretsmanager.rotated-recently", "secretsmanager.unused", "secretsmanager.cmk"} {
			n[c]++
		}
		if s.RotationEnabled {
			n["secretsmanager.rotation-succeeding"]++
		}
		if s.keyIndex >= 0 {
			inUse[s.keyIndex] = true
		}
	}
	for j := 0; j < a.N.Certificates; j++ {
		c := a.Certificate(region, j)
		if c.Status == "ISSUED" || c.Status == "EXPIRED" {
			n["acm.expiry"]++
		}
		if c.Status == "ISSUED" && c.Type != "IMPORTED" {
			n["acm.renewal"]++
		}
		if c.Status != "FAILED" && c.Status != "REVOKED" && c.Status != "EXPIRED" && c.Status != "VALIDATION_TIMED_OUT" {
			n["acm.key-strength"]++
		}
	}
	for j := 0; j < a.N.Instances; j++ {
		x := a.DBInstance(region, j)
		use(x.Enc)
		if x.Cluster == "" {
			n["rds.instance-cmk"]++
		}
	}
	for c := 0; c < a.N.Clusters; c++ {
		use(a.DBCluster(region, c).Enc)
		n["rds.cluster-cmk"]++
	}
	for s := 0; s < a.N.Snapshots; s++ {
		use(a.DBSnapshot(region, s).Enc)
		n["rds.snapshot-cmk"]++
	}
	for s := 0; s < a.N.ClusterSnapshots; s++ {
		use(a.DBClusterSnapshot(region, s).Enc)
		n["rds.snapshot-cmk"]++
	}
	for j := 0; j < a.N.Repositories; j++ {
		use(a.Repository(region, j).Enc)
		n["ecr.repository-cmk"]++
	}
	for j := 0; j < a.N.Volumes; j++ {
		v := a.Volume(region, j)
		if v.State == "deleting" {
			continue
		}
		use(v.Enc)
		n["ebs.volume-cmk"]++
	}
	n["ebs.default-encryption"]++
	for _, t := range a.Trails() {
		if t.Home != region {
			continue
		}
		n["cloudtrail.encryption"]++
		n["cloudtrail.log-validation"]++
		if t.keyIndex >= 0 {
			inUse[t.keyIndex] = true
		}
	}
	n["kms.key-in-use-unhealthy"] = len(inUse)
	if region == a.Home {
		n["cloudtrail.multi-region-logging"]++
		for d := 0; d < a.N.Distributions; d++ {
			x := a.Distribution(d)
			n["cloudfront.viewer-tls"]++
			n["cloudfront.viewer-https"]++
			n["cloudfront.hsts"]++
			custom, tls := false, false
			for _, o := range x.Origins {
				if o.Custom {
					custom = true
					tls = tls || o.ProtocolPolicy != "http-only"
				}
			}
			if custom {
				n["cloudfront.origin-https"]++
			}
			if tls {
				n["cloudfront.origin-tls"]++
			}
		}
	}
	for k, v := range n {
		if v == 0 {
			delete(n, k)
		}
	}
	return n
}

// Call names one operation in one region, e.g. {"us-east-1", "kms",
// "DescribeKey"}; Service is the SigV4 signing name.
type Call struct {
	Region, Service, Operation string
}

// MinimumCalls is the fewest calls per operation and region that read
// everything the checks judge, within the page sizes AWS allows, derived
// from the generated data. Each formula is the call's inherent cost:
//
//   - sts:GetCallerIdentity: 1 (the account must be known).
//   - ec2:DescribeRegions: 1 in the home region (which regions the
//     account has enabled: "all", and named regions checked before they
//     are read).
//   - kms:ListKeys ceil(keys/1000); kms:ListAliases ceil(aliases/100)
//     (AWS managed keys are told apart by their alias/aws/* alias).
//   - kms:DescribeKey: one per customer key (state, spec, origin are only
//     in DescribeKey); AWS managed keys need none.
//   - kms:GetKeyRotationStatus: one per customer key where rotation
//     applies and that is not pending deletion.
//   - secretsmanager:ListSecrets ceil(listed secrets/100): the list
//     entries carry everything.
//   - acm:ListCertificates ceil(certificates/1000), with every key type;
//     acm:DescribeCertificate: one per ISSUED certificate ACM issued (the
//     renewal status is not in the summary).
//   - rds:DescribeDBInstances, DescribeDBClusters, DescribeDBSnapshots,
//     DescribeDBClusterSnapshots: ceil(n/100) each (at least 1).
//   - ecr:DescribeRepositories ceil(repositories/1000) (at least 1).
//   - ec2:DescribeVolumes ceil(volumes/500) (at least 1);
//     GetEbsEncryptionByDefault and GetEbsDefaultKmsKeyId 1 each.
//   - cloudtrail:DescribeTrails 1 per region (in the home region one call
//     with includeShadowTrails serves both the region's trails and the
//     account-wide view); GetTrailStatus and GetEventSelectors: one each
//     per multi-region trail, in its home region.
//   - cloudfront (home region): ListDistributions ceil(distributions/100);
//     GetResponseHeadersPolicy: one per distinct policy the behaviours use.
//
// Security Hub and DynamoDB calls are not collection calls and have no
// entry here.
func (a *Account) MinimumCalls() map[Call]int {
	ceil := func(n, page int) int { return max(1, (n+page-1)/page) }
	out := map[Call]int{}
	add := func(region, svc, op string, n int) {
		if n > 0 {
			out[Call{region, svc, op}] += n
		}
	}
	add(a.Home, "sts", "GetCallerIdentity", 1)
	add(a.Home, "ec2", "DescribeRegions", 1)
	for _, region := range a.Regions {
		add(region, "kms", "ListKeys", ceil(a.KeyCount(), 1000))
		add(region, "kms", "ListAliases", ceil(len(a.Aliases(region)), 100))
		describe, rotation := 0, 0
		for i := 0; i < a.N.Keys; i++ {
			k := a.Key(region, i)
			describe++
			if k.RotationApplies() && k.State != "PendingDeletion" {
				rotation++
			}
		}
		add(region, "kms", "DescribeKey", describe)
		add(region, "kms", "GetKeyRotationStatus", rotation)
		listed := 0
		for j := 0; j < a.N.Secrets; j++ {
			if a.Secret(region, j).Listed() {
				listed++
			}
		}
		add(region, "secretsmanager", "ListSecrets", ceil(listed, 100))
		add(region, "acm", "ListCertificates", ceil(a.N.Certificates, 1000))
		dc := 0
		for j := 0; j < a.N.Certificates; j++ {
			if c := a.Certificate(region, j); c.Status == "ISSUED" && c.Type != "IMPORTED" {
				dc++
			}
		}
		add(region, "acm", "DescribeCertificate", dc)
		add(region, "rds", "DescribeDBInstances", ceil(a.N.Instances, 100))
		add(region, "rds", "DescribeDBClusters", ceil(a.N.Clusters, 100))
		add(region, "rds", "DescribeDBSnapshots", ceil(a.N.Snapshots, 100))
		add(region, "rds", "DescribeDBClusterSnapshots", ceil(a.N.ClusterSnapshots, 100))
		add(region, "ecr", "DescribeRepositories", ceil(a.N.Repositories, 1000))
		add(region, "ec2", "DescribeVolumes", ceil(a.N.Volumes, 500))
		add(region, "ec2", "GetEbsEncryptionByDefault", 1)
		add(region, "ec2", "GetEbsDefaultKmsKeyId", 1)
		add(region, "cloudtrail", "DescribeTrails", 1)
	}
	for _, t := range a.Trails() {
		if t.MultiRegion {
			add(t.Home, "cloudtrail", "GetTrailStatus", 1)
			add(t.Home, "cloudtrail", "GetEventSelectors", 1)
		}
	}
	add(a.Home, "cloudfront", "ListDistributions", ceil(a.N.Distributions, 100))
	policies := map[string]bool{}
	for d := 0; d < a.N.Distributions; d++ {
		x := a.Distribution(d)
		if x.DefaultRHP != "" {
			policies[x.DefaultRHP] = true
		}
		for _, b := range x.Behaviors {
			if b.RHP != "" {
				policies[b.RHP] = true
			}
		}
	}
	add(a.Home, "cloudfront", "GetResponseHeadersPolicy", len(policies))
	return out
}

// SortedCalls returns the keys of m in a stable order.
func SortedCalls[V any](m map[Call]V) []Call {
	out := make([]Call, 0, len(m))
	for c := range m {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		x, y := out[i], out[j]
		if x.Service != y.Service {
			return x.Service < y.Service
		}
		if x.Operation != y.Operation {
			return x.Operation < y.Operation
		}
		return x.Region < y.Region
	})
	return out
}
