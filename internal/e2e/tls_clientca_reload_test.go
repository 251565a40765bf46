package e2e

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// TestTLSClientCAReload: replacing the --tls-client-ca bundle changes
// which client certificates are accepted, without a restart: a CA added
// is trusted and a CA retired is not, at the next handshake.
func TestTLSClientCAReload(t *testing.T) {
	dir := t.TempDir()
	first, firstKey, firstPEM := newCA(t, "first")
	second, secondKey, secondPEM := newCA(t, "second")
	caFile := filepath.Join(dir, "clients.pem")
	if err := os.WriteFile(caFile, firstPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	id, secret := randomAccessKey(t)
	srv := startTrent(t, []string{"TRENT_ROOT_ACCESS_KEY_ID=" + id, "TRENT_ROOT_SECRET_ACCESS_KEY=" + secret},
		"--tls", "--data-dir", filepath.Join(dir, "data"), "--tls-client-ca", caFile)
	serverCA := caBundleOf(t, srv)
	served := func(cert *tls.Certificate) bool {
		// A new client per call: a fresh handshake, no pooled connection.
		_, err := sdkClient(srv.URL, id, secret, trustingClient(t, serverCA, cert)).ListKeys(context.Background(), &kms.ListKeysInput{})
		return err == nil
	}
	firstCert, secondCert := clientCert(t, first, firstKey), clientCert(t, second, secondKey)
	if !served(firstCert) || served(secondCert) {
		t.Fatal("before the change: want the first CA's client served and the second's refused")
	}

	if err := os.WriteFile(filepath.Join(dir, "new.pem"), secondPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	replaceFile(t, filepath.Join(dir, "new.pem"), caFile)
	deadline := time.Now().Add(30 * time.Second)
	for !served(secondCert) {
		if time.Now().After(deadline) {
			t.Fatalf("the second CA's client is still refused 30s after the bundle was replaced:\n%s", srv.Stderr())
		}
		time.Sleep(50 * time.Millisecond)
	}
	srv.WaitStderr(t, "TLS client CAs reloaded")
	if served(firstCert) {
		t.Error("the retired CA's client is still served")
	}
}
