package tlsutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/trent-kms/trent/internal/durable"
)

// The dev certificate's files in a --dev data dir.
const (
	DevCertFile = "dev-tls-cert.pem"
	DevKeyFile  = "dev-tls-key.pem"
)

// devLifetime is how long a dev certificate is valid; one that expires
// within devRenew is made anew at the next start.
const (
	devLifetime = 365 * 24 * time.Hour
	devRenew    = 7 * 24 * time.Hour
)

// DevCert returns the paths of the self-signed certificate of a --dev
// server in dir, for 127.0.0.1, ::1 and localhost — made now unless a
// valid one is there already, so that a client trusting it keeps doing so
// across restarts. The certificate is its own CA: it is what a client
// passes as its CA bundle (the AWS CLI's --ca-bundle). The key file is
// 0600.
func DevCert(dir string, now time.Time) (certPath, keyPath string, err error) {
	certPath, keyPath = filepath.Join(dir, DevCertFile), filepath.Join(dir, DevKeyFile)
	if pair, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil && usable(pair.Leaf, now) {
		return certPath, keyPath, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Trent dev server", Organization: []string{"Trent (development only)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(devLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", fmt.Errorf("dev TLS certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	defer clear(keyDER)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	defer clear(keyPEM)
	if err := writeFile(keyPath, keyPEM, 0o600); err != nil {
		return "", "", err
	}
	if err := writeFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", "", err
	}
	return certPath, keyPath, nil
}

func usable(leaf *x509.Certificate, now time.Time) bool {
	if leaf == nil || now.Add(devRenew).After(leaf.NotAfter) {
		return false
	}
	return leaf.VerifyHostname("127.0.0.1") == nil && leaf.VerifyHostname("localhost") == nil
}

// writeFile replaces name with data atomically, with mode perm from the
// start (never briefly readable by others).
func writeFile(name string, data []byte, perm os.FileMode) error {
	tmp := name + ".tmp"
	os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	err = durable.WriteAndClose(f, data)
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
		return errors.Join(fmt.Errorf("write %s", name), err)
	}
	return nil
}
