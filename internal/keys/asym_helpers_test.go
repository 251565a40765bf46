package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/cloudflare/circl/sign"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	dcrecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// The tables below restate AWS's documentation (API Reference: Sign,
// GetPublicKey, DescribeKey; Developer Guide: asymmetric key specs) as
// literals, so the tests do not read the package's own tables.

var allAsymmetricSpecs = []string{
	"RSA_2048", "RSA_3072", "RSA_4096",
	"ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
	"ECC_SECG_P256K1", "ECC_NIST_EDWARDS25519",
	"ML_DSA_44", "ML_DSA_65", "ML_DSA_87",
}

var allHMACSpecs = []string{"HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512"}

var awsRSASigning = []string{
	"RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
	"RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
}

var awsSigning = map[string][]string{
	"RSA_2048":              awsRSASigning,
	"RSA_3072":              awsRSASigning,
	"RSA_4096":              awsRSASigning,
	"ECC_NIST_P256":         {"ECDSA_SHA_256"},
	"ECC_NIST_P384":         {"ECDSA_SHA_384"},
	"ECC_NIST_P521":         {"ECDSA_SHA_512"},
	"ECC_SECG_P256K1":       {"ECDSA_SHA_256"},
	"ECC_NIST_EDWARDS25519": {"ED25519_SHA_512", "ED25519_PH_SHA_512"},
	"ML_DSA_44":             {"ML_DSA_SHAKE_256"},
	"ML_DSA_65":             {"ML_DSA_SHAKE_256"},
	"ML_DSA_87":             {"ML_DSA_SHAKE_256"},
}

// awsDigestSize is the length of a DIGEST message per signing algorithm.
var awsDigestSize = map[string]int{
	"RSASSA_PKCS1_V1_5_SHA_256": 32, "RSASSA_PKCS1_V1_5_SHA_384": 48, "RSASSA_PKCS1_V1_5_SHA_512": 64,
	"RSASSA_PSS_SHA_256": 32, "RSASSA_PSS_SHA_384": 48, "RSASSA_PSS_SHA_512": 64,
	"ECDSA_SHA_256": 32, "ECDSA_SHA_384": 48, "ECDSA_SHA_512": 64,
	"ED25519_PH_SHA_512": 64,
}

var mldsaByName = map[string]sign.Scheme{
	"ML_DSA_44": mldsa44.Scheme(),
	"ML_DSA_65": mldsa65.Scheme(),
	"ML_DSA_87": mldsa87.Scheme(),
}

var mldsaOIDs = map[string]asn1.ObjectIdentifier{
	"ML_DSA_44": {2, 16, 840, 1, 101, 3, 4, 3, 17},
	"ML_DSA_65": {2, 16, 840, 1, 101, 3, 4, 3, 18},
	"ML_DSA_87": {2, 16, 840, 1, 101, 3, 4, 3, 19},
}

var (
	oidSecp256k1Test  = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
	oidECPublicKeyObj = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
)

// testKey returns private material for spec, generated once per test binary.
// The first RSA request starts all three RSA sizes at once, so RSA_4096's
// keygen overlaps with the rest.
func testKey(t testing.TB, spec string) []byte {
	t.Helper()
	k, err := testKeyOnce[spec]()
	if err != nil {
		t.Fatalf("GeneratePrivate(%s): %v", spec, err)
	}
	return k
}

var testKeyOnce = func() map[string]func() ([]byte, error) {
	m := map[string]func() ([]byte, error){}
	for _, spec := range append(append([]string{}, allAsymmetricSpecs...), allHMACSpecs...) {
		gen := sync.OnceValues(func() ([]byte, error) { return GeneratePrivate(spec) })
		m[spec] = gen
	}
	var startRSA sync.Once
	for _, spec := range []string{"RSA_2048", "RSA_3072", "RSA_4096"} {
		gen := m[spec]
		m[spec] = func() ([]byte, error) {
			startRSA.Do(func() {
				go m["RSA_4096"]()
				go m["RSA_3072"]()
			})
			return gen()
		}
	}
	return m
}()

// parsedPublic is a public key parsed from an SPKI without this package's
// code: crypto/x509 for the kinds it knows, encoding/asn1 plus decred or circl
// for secp256k1 and ML-DSA.
func parsePublicIndependently(t testing.TB, spec string, spki []byte) any {
	t.Helper()
	switch spec {
	case "ECC_SECG_P256K1":
		var v struct {
			Alg struct {
				Algorithm, Curve asn1.ObjectIdentifier
			}
			Key asn1.BitString
		}
		if rest, err := asn1.Unmarshal(spki, &v); err != nil || len(rest) != 0 {
			t.Fatalf("secp256k1 SPKI: %v (%d trailing bytes)", err, len(rest))
		}
		if !v.Alg.Algorithm.Equal(oidECPublicKeyObj) || !v.Alg.Curve.Equal(oidSecp256k1Test) {
			t.Fatalf("secp256k1 SPKI algorithm %v %v", v.Alg.Algorithm, v.Alg.Curve)
		}
		if v.Key.BitLength != 65*8 || v.Key.Bytes[0] != 4 {
			t.Fatalf("secp256k1 SPKI point is not uncompressed: %x", v.Key.Bytes)
		}
		pub, err := secp256k1.ParsePubKey(v.Key.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return pub
	case "ML_DSA_44", "ML_DSA_65", "ML_DSA_87":
		var v struct {
			Alg struct {
				Algorithm asn1.ObjectIdentifier
			}
			Key asn1.BitString
		}
		if rest, err := asn1.Unmarshal(spki, &v); err != nil || len(rest) != 0 {
			t.Fatalf("ML-DSA SPKI: %v (%d trailing bytes)", err, len(rest))
		}
		if !v.Alg.Algorithm.Equal(mldsaOIDs[spec]) {
			t.Fatalf("ML-DSA SPKI OID %v, want %v", v.Alg.Algorithm, mldsaOIDs[spec])
		}
		pub, err := mldsaByName[spec].UnmarshalBinaryPublicKey(v.Key.RightAlign())
		if err != nil {
			t.Fatal(err)
		}
		return pub
	}
	pub, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		t.Fatalf("x509.ParsePKIXPublicKey(%s): %v", spec, err)
	}
	return pub
}

var stdHashes = map[string]crypto.Hash{
	"RSASSA_PKCS1_V1_5_SHA_256": crypto.SHA256, "RSASSA_PKCS1_V1_5_SHA_384": crypto.SHA384, "RSASSA_PKCS1_V1_5_SHA_512": crypto.SHA512,
	"RSASSA_PSS_SHA_256": crypto.SHA256, "RSASSA_PSS_SHA_384": crypto.SHA384, "RSASSA_PSS_SHA_512": crypto.SHA512,
	"ECDSA_SHA_256": crypto.SHA256, "ECDSA_SHA_384": crypto.SHA384, "ECDSA_SHA_512": crypto.SHA512,
}

// verifyIndependently checks a signature with the public key from spki and
// another implementation: Go's standard library, decred or circl. It frames
// nothing with this package's code.
func verifyIndependently(t testing.TB, spec, alg, msgType string, spki, message, sig []byte) error {
	t.Helper()
	pub := parsePublicIndependently(t, spec, spki)
	digest := func() []byte {
		if msgType == "DIGEST" {
			return message
		}
		h := stdHashes[alg].New()
		h.Write(message)
		return h.Sum(nil)
	}
	bad := errors.New("independent verification failed")
	ok := false
	switch alg {
	case "RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512":
		ok = rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), stdHashes[alg], digest(), sig) == nil
	case "RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512":
		ok = rsa.VerifyPSS(pub.(*rsa.PublicKey), stdHashes[alg], digest(), sig,
			&rsa.PSSOptions{SaltLength: stdHashes[alg].Size()}) == nil
	case "ECDSA_SHA_256", "ECDSA_SHA_384", "ECDSA_SHA_512":
		if spec == "ECC_SECG_P256K1" {
			s, err := dcrecdsa.ParseDERSignature(sig)
			ok = err == nil && s.Verify(digest(), pub.(*secp256k1.PublicKey))
		} else {
			ok = ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest(), sig)
		}
	case "ED25519_SHA_512":
		ok = ed25519.Verify(pub.(ed25519.PublicKey), message, sig)
	case "ED25519_PH_SHA_512":
		// AWS: the 64-byte DIGEST is hashed again by HashEdDSA's prehash.
		ph := sha512.Sum512(message)
		ok = ed25519.VerifyWithOptions(pub.(ed25519.PublicKey), ph[:], sig, &ed25519.Options{Hash: crypto.SHA512}) == nil
	case "ML_DSA_SHAKE_256":
		ok = mldsaByName[spec].Verify(pub.(sign.PublicKey), message, sig, nil)
	default:
		t.Fatalf("no independent verifier for %s", alg)
	}
	if !ok {
		return bad
	}
	return nil
}

// Wycheproof test vector files (testdata/wycheproof, a subset cut by
// subset.py). Only the fields the tests read are declared.
type wycheproofFile struct {
	Algorithm  string            `json:"algorithm"`
	TestGroups []json.RawMessage `json:"testGroups"`
}

type wycheproofTest struct {
	TcID    int      `json:"tcId"`
	Comment string   `json:"comment"`
	Flags   []string `json:"flags"`
	Result  string   `json:"result"` // valid, invalid, acceptable
	Msg     *string  `json:"msg"`
	Mu      *string  `json:"mu"`
	Sig     string   `json:"sig"`
	// ECDH
	Public  string `json:"public"`
	Private string `json:"private"`
	Shared  string `json:"shared"`
	// RSA-OAEP
	Ct    string `json:"ct"`
	Label string `json:"label"`
}

func loadWycheproof[G any](t testing.TB, name string) []G {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "wycheproof", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var f wycheproofFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	groups := make([]G, len(f.TestGroups))
	n := 0
	for i, raw := range f.TestGroups {
		if err := json.Unmarshal(raw, &groups[i]); err != nil {
			t.Fatal(err)
		}
		var probe struct{ Tests []json.RawMessage }
		_ = json.Unmarshal(raw, &probe)
		n += len(probe.Tests)
	}
	if n == 0 {
		t.Fatalf("%s: no test vectors", name)
	}
	return groups
}
