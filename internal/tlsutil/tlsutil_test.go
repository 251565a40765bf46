package tlsutil

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// makePair writes a fresh dev certificate pair into a new directory and
// returns its files.
func makePair(t *testing.T) (cert, key string) {
	t.Helper()
	cert, key, err := DevCert(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func TestDevCert(t *testing.T) {
	dir := t.TempDir()
	cert, key, err := DevCert(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(key)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %o, want 600", fi.Mode().Perm())
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	// The certificate is its own CA bundle: a client trusting the file
	// verifies the server as 127.0.0.1 and localhost.
	pool := x509.NewCertPool()
	pool.AddCert(pair.Leaf)
	for _, name := range []string{"127.0.0.1", "localhost", "::1"} {
		if _, err := pair.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: name}); err != nil {
			t.Errorf("verify as %s: %v", name, err)
		}
	}
	// A second start keeps it; one close to expiry makes a new one.
	again, _, err := DevCert(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := tls.LoadX509KeyPair(again, key)
	if !p2.Leaf.Equal(pair.Leaf) {
		t.Error("a valid dev certificate was replaced")
	}
	if _, _, err := DevCert(dir, time.Now().Add(devLifetime)); err != nil {
		t.Fatal(err)
	}
	p3, _ := tls.LoadX509KeyPair(cert, key)
	if p3.Leaf.Equal(pair.Leaf) {
		t.Error("an expiring dev certificate was kept")
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	tmp := to + ".new"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, to); err != nil {
		t.Fatal(err)
	}
}

// TestReload: a replaced pair becomes current; a half-replaced one (new
// certificate, old key) leaves the old one current until the key
// follows.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	c1, k1 := makePair(t)
	c2, k2 := makePair(t)
	copyFile(t, c1, cert)
	copyFile(t, k1, key)
	certs, err := Load(Options{CertFile: cert, KeyFile: key})
	if err != nil {
		t.Fatal(err)
	}
	first := certs.Current()
	if changed, err := certs.Reload(false); changed || err != nil {
		t.Fatalf("unchanged files: changed %t, %v", changed, err)
	}
	copyFile(t, c2, cert)
	if changed, err := certs.Reload(false); changed || err == nil {
		t.Fatalf("half-replaced pair: changed %t, err %v", changed, err)
	}
	if certs.Current() != first {
		t.Fatal("a half-replaced pair replaced the certificate")
	}
	copyFile(t, k2, key)
	if changed, err := certs.Reload(false); !changed || err != nil {
		t.Fatalf("replaced pair: changed %t, %v", changed, err)
	}
	if certs.Current().Leaf.Equal(first.Leaf) {
		t.Fatal("certificate not replaced")
	}
}

func TestLoadRefuses(t *testing.T) {
	c, k := makePair(t)
	if _, err := Load(Options{CertFile: c}); err == nil {
		t.Error("certificate without key accepted")
	}
	if _, err := Load(Options{CertFile: c, KeyFile: k, ClientCAFile: k}); err == nil {
		t.Error("a key file accepted as client CA bundle")
	}
	if _, err := Load(Options{CertFile: k, KeyFile: c}); err == nil {
		t.Error("swapped files accepted")
	}
}

// TestWatchHUP: a value on the hup channel reloads at once, even when
// the periodic check is far off and the files look unchanged (same size
// and time: a renewer that preserves them).
func TestWatchHUP(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	c1, k1 := makePair(t)
	c2, k2 := makePair(t)
	copyFile(t, c1, cert)
	copyFile(t, k1, key)
	certs, err := Load(Options{CertFile: cert, KeyFile: key})
	if err != nil {
		t.Fatal(err)
	}
	first := certs.Current()
	stop, hup := make(chan struct{}), make(chan os.Signal, 1)
	done := make(chan struct{})
	go func() { defer close(done); certs.Watch(stop, time.Hour, hup) }()
	defer func() { close(stop); <-done }()
	copyFile(t, c2, cert)
	copyFile(t, k2, key)
	hup <- os.Interrupt // any signal value
	deadline := time.Now().Add(10 * time.Second)
	for certs.Current() == first {
		if time.Now().After(deadline) {
			t.Fatal("hup did not reload")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
