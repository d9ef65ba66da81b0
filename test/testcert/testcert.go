// Package testcert makes self-signed X.509 certificates for ACM imports in
// tests and the demo, so each one's key type and expiry are chosen, not
// fixed files that age.
package testcert

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"
)

// PEM is a certificate and its private key, PEM encoded as ImportCertificate
// takes them.
type PEM struct {
	Certificate []byte
	PrivateKey  []byte
}

// RSA makes a certificate for domain with an RSA key of bits, valid from an
// hour ago until validFor from now.
func RSA(domain string, bits int, validFor time.Duration) (PEM, error) {
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return PEM{}, fmt.Errorf("generate RSA-%d key: %w", bits, err)
	}
	return SelfSigned(domain, key, validFor)
}

// ECDSA makes a certificate for domain with an ECDSA key on curve.
func ECDSA(domain string, curve elliptic.Curve, validFor time.Duration) (PEM, error) {
	key, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		return PEM{}, fmt.Errorf("generate ECDSA %s key: %w", curve.Params().Name, err)
	}
	return SelfSigned(domain, key, validFor)
}

// SelfSigned makes a certificate for domain signed by key. NotBefore is an
// hour ago: importers reject certificates not yet in effect.
func SelfSigned(domain string, key crypto.Signer, validFor time.Duration) (PEM, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return PEM{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: domain, Organization: []string{"posture-auditor demo"}},
		DNSNames:     []string{domain},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(validFor),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return PEM{}, fmt.Errorf("create certificate for %s: %w", domain, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return PEM{}, err
	}
	return PEM{
		Certificate: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		PrivateKey:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}
