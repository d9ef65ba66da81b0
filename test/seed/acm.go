package seed

import (
	"context"
	"crypto/elliptic"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing/types"

	"github.com/posture-auditor/posture-auditor/test/gapfill"
	"github.com/posture-auditor/posture-auditor/test/testcert"
)

func init() { register(seedACM) }

// seedACM creates ACM certificates that pass and fail each ACM check:
//   - acm/amazon-issued: requested, issued, no renewal under way (all pass);
//   - acm/renewal-failed: requested, issued, managed renewal FAILED (CAA_ERROR);
//   - acm/rsa-1024: imported, RSA-1024, valid for a year (key strength fails);
//   - acm/expiring: imported, ECDSA P-256, expiring in 10 days and served by
//     a Classic Load Balancer, so acm.expiry fails one level up, HIGH.
//
// moto leaves requested certificates PENDING_VALIDATION and never reports a
// renewal; the gapfill proxy reports what AWS would after DNS validation.
func seedACM(ctx context.Context, cfg aws.Config, d Demo, gaps *gapfill.Proxy) error {
	c := acm.NewFromConfig(cfg)
	request := func(name, domain string, fill gapfill.ACMCertificate) error {
		out, err := c.RequestCertificate(ctx, &acm.RequestCertificateInput{
			DomainName: aws.String(domain), ValidationMethod: acmtypes.ValidationMethodDns,
			KeyAlgorithm: acmtypes.KeyAlgorithmRsa2048,
		})
		if err != nil {
			return fmt.Errorf("request certificate %s: %w", domain, err)
		}
		d["acm/"+name] = aws.ToString(out.CertificateArn)
		gaps.SetACMCertificate(d["acm/"+name], fill)
		return nil
	}
	if err := request("amazon-issued", "www.demo.example.com", gapfill.ACMCertificate{Issued: true}); err != nil {
		return err
	}
	if err := request("renewal-failed", "shop.demo.example.com",
		gapfill.ACMCertificate{Issued: true, RenewalStatus: "FAILED", RenewalStatusReason: "CAA_ERROR"}); err != nil {
		return err
	}

	importCert := func(name string, pem testcert.PEM, err error) error {
		if err != nil {
			return err
		}
		out, err := c.ImportCertificate(ctx, &acm.ImportCertificateInput{Certificate: pem.Certificate, PrivateKey: pem.PrivateKey})
		if err != nil {
			return fmt.Errorf("import certificate %s: %w", name, err)
		}
		d["acm/"+name] = aws.ToString(out.CertificateArn)
		return nil
	}
	const day = 24 * time.Hour
	pem, err := testcert.RSA("legacy.demo.example.com", 1024, 365*day)
	if err := importCert("rsa-1024", pem, err); err != nil {
		return err
	}
	pem, err = testcert.ECDSA("api.demo.example.com", elliptic.P256(), 10*day)
	if err := importCert("expiring", pem, err); err != nil {
		return err
	}

	// A Classic Load Balancer serving the expiring certificate: ACM then
	// reports it in use.
	_, err = elasticloadbalancing.NewFromConfig(cfg).CreateLoadBalancer(ctx, &elasticloadbalancing.CreateLoadBalancerInput{
		LoadBalancerName:  aws.String("demo-api"),
		AvailabilityZones: []string{cfg.Region + "a"},
		Listeners: []elbtypes.Listener{{
			Protocol: aws.String("HTTPS"), LoadBalancerPort: 443,
			InstanceProtocol: aws.String("HTTP"), InstancePort: aws.Int32(80),
			SSLCertificateId: aws.String(d["acm/expiring"]),
		}},
	})
	if err != nil {
		return fmt.Errorf("create load balancer using acm/expiring: %w", err)
	}
	return nil
}
