package keys

import (
	"bytes"
	"errors"
	"testing"
)

// HMAC known answers computed with Python's hmac/hashlib (OpenSSL), not Go:
//
//	hmac.new(key, b"Hello, Trent!", "sha256").hexdigest()
//
// with key = bytes(range(n)) for the minimum length n and
// key = bytes((i*7) & 0xff for i in range(n)) for the maximum.
var hmacKATs = []struct {
	spec, alg string
	key       []byte
	mac       string
}{
	{"HMAC_224", "HMAC_SHA_224", seq(0, 28), "cad2d1f6dac377c35c8575279c633e7bcd184cecb5daffeee08cfd3d"},
	{"HMAC_256", "HMAC_SHA_256", seq(0, 32), "bfe2aea625e1b4e199d76e94d01d82eae16afa3e8ddab120ad968cd5f2d2855d"},
	{"HMAC_384", "HMAC_SHA_384", seq(0, 48), "2934e2c999c3c5c2726a50e6f6805244fdd9963914d53541527c9ab26fa6b0fc605df380fae8b3793444f9b8176aceeb"},
	{"HMAC_512", "HMAC_SHA_512", seq(0, 64), "44d9208b6c841ce00b101b40220295777901de4de9bbb32b39eb562516cc482f5bf42db0c26e89c87414b55b72278a13a6d5e2d9e20243c6005498c49e6aa173"},
	{"HMAC_224", "HMAC_SHA_224", times7(64), "ab40aa5a7f6520175b405cb2f7db0c97a379d0ccab4f2f6d56187b6a"},
	{"HMAC_256", "HMAC_SHA_256", times7(64), "ef5b9145ea73cfb793171946a2020a998d180c0c356880fcab3f91ceb827317e"},
	{"HMAC_384", "HMAC_SHA_384", times7(128), "bfcc500b0b7d2689c73b5b5e4e409dfbf0c537d87139d832230904e41e1fc12d53ddf044bdab55fe1e56b3a628586a16"},
	{"HMAC_512", "HMAC_SHA_512", times7(128), "730739ceeb444c08c3002b1b7843ac48adc5a8bdddef0f3e068d896bff6d255e97eaf2ff83a95db185a236ab0e521216f17e9ee99f6691a269380496369745f5"},
}

func times7(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func TestHMACKnownAnswers(t *testing.T) {
	msg := []byte("Hello, Trent!")
	for _, kat := range hmacKATs {
		want := mustHex(t, kat.mac)
		got, err := GenerateMac(kat.spec, kat.alg, kat.key, msg)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s with %d-byte key: %x, %v", kat.spec, len(kat.key), got, err)
		}
		if err := VerifyMac(kat.spec, kat.alg, kat.key, msg, want); err != nil {
			t.Errorf("%s: VerifyMac: %v", kat.spec, err)
		}
		for name, bad := range map[string][]byte{
			"flipped": flipBit(want, 3), "truncated": want[:len(want)-1], "extended": append(bytes.Clone(want), 0), "empty": nil,
		} {
			if err := VerifyMac(kat.spec, kat.alg, kat.key, msg, bad); !errors.Is(err, ErrInvalidMac) {
				t.Errorf("%s: VerifyMac(%s) = %v, want ErrInvalidMac", kat.spec, name, err)
			}
		}
		if err := VerifyMac(kat.spec, kat.alg, kat.key, []byte("Hello, Trent?"), want); !errors.Is(err, ErrInvalidMac) {
			t.Errorf("%s: VerifyMac(other message) = %v", kat.spec, err)
		}
	}
}

func TestHMACSpecRules(t *testing.T) {
	algs := []string{"HMAC_SHA_224", "HMAC_SHA_256", "HMAC_SHA_384", "HMAC_SHA_512"}
	for i, spec := range allHMACSpecs {
		key := testKey(t, spec)
		for j, alg := range algs {
			_, err := GenerateMac(spec, alg, key, []byte("m"))
			if i == j && err != nil {
				t.Errorf("%s/%s: %v", spec, alg, err)
			}
			if i != j && !errors.Is(err, ErrAlgorithmSpecMismatch) {
				t.Errorf("%s/%s: %v, want ErrAlgorithmSpecMismatch", spec, alg, err)
			}
			if err := VerifyMac(spec, alg, key, []byte("m"), make([]byte, 64)); i != j && !errors.Is(err, ErrAlgorithmSpecMismatch) {
				t.Errorf("VerifyMac %s/%s: %v, want ErrAlgorithmSpecMismatch", spec, alg, err)
			}
		}
		minLen := []int{28, 32, 48, 64}[i]
		maxLen := []int{64, 64, 128, 128}[i]
		for _, n := range []int{0, minLen - 1, maxLen + 1} {
			if _, err := GenerateMac(spec, algs[i], make([]byte, n), []byte("m")); !errors.Is(err, ErrInvalidKeyMaterial) {
				t.Errorf("%s with %d-byte key: %v, want ErrInvalidKeyMaterial", spec, n, err)
			}
		}
		if m, err := GenerateMac(spec, algs[i], key, nil); err != nil || len(m) != minLen {
			t.Errorf("%s: MAC of %d bytes, %v", spec, len(m), err)
		}
	}
	for _, spec := range []string{"SYMMETRIC_DEFAULT", "RSA_2048", "ECC_NIST_P256", "SM2", "bogus"} {
		if _, err := GenerateMac(spec, "HMAC_SHA_256", make([]byte, 32), nil); !errors.Is(err, ErrUnsupportedSpec) {
			t.Errorf("GenerateMac(%s) = %v, want ErrUnsupportedSpec", spec, err)
		}
	}
}
