package keys

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

// RFC 5649 §6 known answers: AES-192 key wrap with padding.
func TestUnwrapKWPVectors(t *testing.T) {
	kek := mustHex(t, "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8")
	for _, c := range []struct{ key, wrapped string }{
		{"c37b7e6492584340bed12207808941155068f738", "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"},
		{"466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f"},
	} {
		got, err := UnwrapKWP(kek, mustHex(t, c.wrapped))
		if err != nil {
			t.Fatalf("unwrap %s: %v", c.wrapped, err)
		}
		if hex.EncodeToString(got) != c.key {
			t.Fatalf("unwrap %s = %x, want %s", c.wrapped, got, c.key)
		}
		// Any flipped bit fails the integrity check.
		w := mustHex(t, c.wrapped)
		w[len(w)-1] ^= 1
		if _, err := UnwrapKWP(kek, w); !errors.Is(err, ErrUnwrap) {
			t.Fatalf("tampered wrap: err %v, want ErrUnwrap", err)
		}
	}
}

// TestUnwrapKWPOpenSSL checks the unwrap against openssl's
// id-aes256-wrap-pad, the cipher AWS's import recipe uses.
func TestUnwrapKWPOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	kek := make([]byte, 32)
	rand.Read(kek)
	for _, n := range []int{1, 7, 8, 9, 32, 45, 1217} {
		m := make([]byte, n)
		rand.Read(m)
		in := filepath.Join(dir, "m")
		out := filepath.Join(dir, "w")
		if err := os.WriteFile(in, m, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := testcmd.Command(t, "openssl", "enc", "-id-aes256-wrap-pad", "-K", hex.EncodeToString(kek), "-iv", "A65959A6", "-in", in, "-out", out)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl: %v: %s", err, b)
		}
		w, _ := os.ReadFile(out)
		got, err := UnwrapKWP(kek, w)
		if err != nil || !bytes.Equal(got, m) {
			t.Fatalf("%d bytes: unwrap = %x, %v", n, got, err)
		}
	}
}

var (
	fuzzWrapOnce sync.Once
	fuzzWrapKey  *rsa.PrivateKey
)

func fuzzWrappingKey(t testing.TB) *rsa.PrivateKey {
	fuzzWrapOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		fuzzWrapKey = k
	})
	return fuzzWrapKey
}

// wrappedSeeds are EncryptedKeyMaterial values for the fuzzer: the first
// unwraps with RSA_AES_KEY_WRAP_SHA_256, the rest are damaged.
func wrappedSeeds(t testing.TB, k *rsa.PrivateKey) [][]byte {
	aesKey := seq(0x40, 32)
	head, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &k.PublicKey, aesKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	// RFC 5649 vector re-used under another key size is just noise here;
	// the tail only has to be shaped like a key wrap.
	good := append(bytes.Clone(head), mustHex(t, "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a")...)
	return [][]byte{good, head, good[:len(good)-1], append(bytes.Clone(good), 0), {}, make([]byte, 256+16)}
}

func FuzzUnwrapImported(f *testing.F) {
	k := fuzzWrappingKey(f)
	for _, s := range wrappedSeeds(f, k) {
		for alg := range 4 {
			f.Add(uint8(alg), s)
		}
	}
	algs := []string{WrapOAEPSHA1, WrapOAEPSHA256, WrapRSAAESKWSHA1, WrapRSAAESKWSHA256}
	f.Fuzz(func(t *testing.T, alg uint8, wrapped []byte) {
		m, err := UnwrapImported(algs[int(alg)%len(algs)], k, wrapped)
		if err != nil && !errors.Is(err, ErrUnwrap) {
			t.Fatalf("error %v is not ErrUnwrap", err)
		}
		if err == nil && len(m) == 0 {
			t.Fatal("unwrapped to nothing without an error")
		}
	})
}

var importSpecs = []string{
	"SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_512", "RSA_2048", "ECC_NIST_P256", "ECC_NIST_P384",
	"ECC_NIST_P521", "ECC_SECG_P256K1", "ECC_NIST_EDWARDS25519", "ML_DSA_44", "ML_DSA_65",
}

// materialSeeds are key material values for FuzzImportedMaterial, with
// the spec (index into importSpecs) each is meant for.
func materialSeeds(t testing.TB) []struct {
	spec int
	m    []byte
} {
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p256DER, _ := x509.MarshalPKCS8PrivateKey(p256)
	// The same key with its embedded public key replaced by another point.
	other, _ := ecdh.P256().NewPrivateKey(seq(0x22, 32))
	own, err := p256.PublicKey.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	swapped := bytes.Replace(p256DER, own.Bytes(), other.PublicKey().Bytes(), 1)
	k1, err := GeneratePrivate("ECC_SECG_P256K1")
	if err != nil {
		t.Fatal(err)
	}
	ml, _ := GeneratePrivate("ML_DSA_44")
	ed, _ := GeneratePrivate("ECC_NIST_EDWARDS25519")
	rsaDER, _ := x509.MarshalPKCS8PrivateKey(fuzzWrappingKey(t))
	return []struct {
		spec int
		m    []byte
	}{
		{0, seq(1, 32)}, {0, seq(1, 31)}, {1, seq(1, 28)}, {1, seq(1, 65)}, {2, seq(1, 128)},
		{3, rsaDER}, {3, rsaDER[:len(rsaDER)-1]}, {4, p256DER}, {4, swapped}, {5, p256DER},
		{7, k1}, {7, append(bytes.Clone(k1), 0)}, {8, ed}, {9, ml}, {10, ml}, {4, nil},
	}
}

func TestImportedMaterial(t *testing.T) {
	seeds := materialSeeds(t)
	want := []bool{true, false, true, false, true, true, false, true, false, false, true, false, true, true, false, false}
	for i, s := range seeds {
		out, err := ImportedMaterial(importSpecs[s.spec], s.m)
		if (err == nil) != want[i] {
			t.Errorf("seed %d (%s): err %v, want ok=%v", i, importSpecs[s.spec], err, want[i])
		}
		if err != nil && !errors.Is(err, ErrInvalidKeyMaterial) {
			t.Errorf("seed %d: error %v is not ErrInvalidKeyMaterial", i, err)
		}
		if err == nil && importSpecs[s.spec] != "SYMMETRIC_DEFAULT" && !isHMAC(importSpecs[s.spec]) {
			if _, err := ParsePrivate(importSpecs[s.spec], out); err != nil {
				t.Errorf("seed %d: stored form does not parse: %v", i, err)
			}
		}
	}
}

func isHMAC(spec string) bool { return len(spec) > 5 && spec[:5] == "HMAC_" }

func FuzzImportedMaterial(f *testing.F) {
	seeds := materialSeeds(f)
	if len(seeds) == 0 {
		f.Fatal("empty seed corpus")
	}
	for _, s := range seeds {
		f.Add(uint8(s.spec), s.m)
	}
	f.Fuzz(func(t *testing.T, spec uint8, m []byte) {
		name := importSpecs[int(spec)%len(importSpecs)]
		out, err := ImportedMaterial(name, m)
		if err != nil {
			if !errors.Is(err, ErrInvalidKeyMaterial) {
				t.Fatalf("error %v is not ErrInvalidKeyMaterial", err)
			}
			return
		}
		// The stored form is a fixed point: importing it again gives it back.
		again, err := ImportedMaterial(name, out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("stored form of %s does not re-import to itself: %v", name, err)
		}
	})
}
