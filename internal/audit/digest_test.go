package audit

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

func TestSigningKeyRoundTrip(t *testing.T) {
	k, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	der, err := MarshalSigningKey(k)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseSigningKey(der)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Public().(*ecdsa.PublicKey).Equal(k.Public()) {
		t.Error("parsed key differs")
	}
	pemBytes, err := PublicKeyPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKeyPEM(pemBytes)
	if err != nil || !pub.Equal(k.Public()) {
		t.Errorf("public key PEM round trip: %v", err)
	}

	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	for name, s := range map[string]crypto.Signer{"P-256": p256, "Ed25519": edKey} {
		if _, err := MarshalSigningKey(s); err == nil {
			t.Errorf("%s: MarshalSigningKey accepted it", name)
		}
	}
	if _, err := Open(Options{Dir: t.TempDir(), Signer: p256}); err == nil || !strings.Contains(err.Error(), "P-384") {
		t.Errorf("Open with a P-256 key: %v", err)
	}
	if _, err := Open(Options{Dir: t.TempDir(), Signer: edKey}); err == nil {
		t.Error("Open with an Ed25519 key: no error")
	}
	if _, err := ParsePublicKeyPEM(append(pemBytes, pemBytes...)); err == nil {
		t.Error("two PEM blocks accepted as one key")
	}
}

// TestDigestSignatureOpenSSL checks a digest's signature with OpenSSL, an
// implementation that is not Go's, from the files and the documented
// rule alone: ECDSA P-384, SHA-384 over "trent audit digest v1\n" and the
// payload's bytes as they stand in the file.
func TestDigestSignatureOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed")
	}
	dir := t.TempDir()
	l := openLog(t, dir, Options{})
	record(t, l, 0, 3)
	closeLog(t, l)
	d, err := readDigest(digestFiles(t, dir)[0])
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(digestFiles(t, dir)[0])
	if !bytes.Contains(raw, d.payload) {
		t.Fatal("the signed payload is not the file's bytes")
	}
	work := t.TempDir()
	msg := filepath.Join(work, "msg")
	sig := filepath.Join(work, "sig.der")
	if err := os.WriteFile(msg, append([]byte("trent audit digest v1\n"), d.payload...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sig, d.sig, 0o600); err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(dir, PublicKeyFile)
	out, err := testcmd.Command(t, openssl, "dgst", "-sha384", "-verify", pub, "-signature", sig, msg).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Verified OK") {
		t.Fatalf("openssl: %v: %s", err, out)
	}
	// And it fails on a changed payload, so the check can fail.
	if err := os.WriteFile(msg, append([]byte("trent audit digest v1\n"), bytes.Replace(d.payload, []byte(`"close"`), []byte(`"clos3"`), 1)...), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := testcmd.Command(t, openssl, "dgst", "-sha384", "-verify", pub, "-signature", sig, msg).CombinedOutput(); err == nil {
		t.Fatalf("openssl verified an edited payload: %s", out)
	}
}
