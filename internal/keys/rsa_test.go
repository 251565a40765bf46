package keys

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"hash"
	"testing"
)

// AWS's Encrypt limits for RSA keys, from the API Reference.
var awsRSALimits = map[string]map[string]int{
	"RSA_2048": {"RSAES_OAEP_SHA_1": 214, "RSAES_OAEP_SHA_256": 190},
	"RSA_3072": {"RSAES_OAEP_SHA_1": 342, "RSAES_OAEP_SHA_256": 318},
	"RSA_4096": {"RSAES_OAEP_SHA_1": 470, "RSAES_OAEP_SHA_256": 446},
}

var oaepHashes = map[string]func() hash.Hash{"RSAES_OAEP_SHA_1": sha1.New, "RSAES_OAEP_SHA_256": sha256.New}

func TestMaxPlaintext(t *testing.T) {
	for spec, m := range awsRSALimits {
		for alg, want := range m {
			if got := MaxPlaintext(spec, alg); got != want {
				t.Errorf("MaxPlaintext(%s, %s) = %d, want %d", spec, alg, got, want)
			}
		}
	}
	for _, c := range [][2]string{{"RSA_2048", "SYMMETRIC_DEFAULT"}, {"RSA_2048", "RSAES_OAEP_SHA_512"}, {"ECC_NIST_P256", "RSAES_OAEP_SHA_1"}, {"SYMMETRIC_DEFAULT", "SYMMETRIC_DEFAULT"}, {"bogus", "RSAES_OAEP_SHA_1"}} {
		if got := MaxPlaintext(c[0], c[1]); got != 0 {
			t.Errorf("MaxPlaintext(%s, %s) = %d, want 0", c[0], c[1], got)
		}
	}
}

func TestRSAOAEP(t *testing.T) {
	for spec, limits := range awsRSALimits {
		priv := testKey(t, spec)
		k, err := x509.ParsePKCS8PrivateKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		std := k.(*rsa.PrivateKey)
		for alg, limit := range limits {
			t.Run(spec+"/"+alg, func(t *testing.T) {
				for _, n := range []int{0, 1, 32, limit} {
					pt := make([]byte, n)
					rand.Read(pt)
					// Ours → standard library.
					ct, err := EncryptRSA(spec, alg, priv, pt)
					if err != nil {
						t.Fatalf("EncryptRSA(%d bytes): %v", n, err)
					}
					got, err := rsa.DecryptOAEP(oaepHashes[alg](), nil, std, ct, nil)
					if err != nil || !bytes.Equal(got, pt) {
						t.Fatalf("stdlib cannot decrypt EncryptRSA's %d bytes: %v", n, err)
					}
					// Standard library → ours.
					ct, err = rsa.EncryptOAEP(oaepHashes[alg](), rand.Reader, &std.PublicKey, pt, nil)
					if err != nil {
						t.Fatal(err)
					}
					got, err = DecryptRSA(spec, alg, priv, ct)
					if err != nil || !bytes.Equal(got, pt) {
						t.Fatalf("DecryptRSA of stdlib's %d bytes: %v", n, err)
					}
					// The other OAEP hash, a label, or damage: ErrInvalidCiphertext.
					for other := range oaepHashes {
						if other != alg {
							if _, err := DecryptRSA(spec, other, priv, ct); !errors.Is(err, ErrInvalidCiphertext) {
								t.Errorf("DecryptRSA with %s = %v", other, err)
							}
						}
					}
					labelled, _ := rsa.EncryptOAEP(oaepHashes[alg](), rand.Reader, &std.PublicKey, pt, []byte("label"))
					for name, bad := range map[string][]byte{
						"labelled": labelled, "flipped": flipBit(ct, 10), "short": ct[1:], "long": append(bytes.Clone(ct), 0), "empty": nil,
					} {
						if _, err := DecryptRSA(spec, alg, priv, bad); !errors.Is(err, ErrInvalidCiphertext) {
							t.Errorf("DecryptRSA(%s) = %v, want ErrInvalidCiphertext", name, err)
						}
					}
				}
				if _, err := EncryptRSA(spec, alg, priv, make([]byte, limit+1)); !errors.Is(err, ErrPlaintextTooLarge) {
					t.Errorf("EncryptRSA(%d bytes) = %v, want ErrPlaintextTooLarge", limit+1, err)
				}
			})
		}
	}
	p256 := testKey(t, "ECC_NIST_P256")
	rsa2048 := testKey(t, "RSA_2048")
	for _, c := range []struct {
		spec, alg string
		key       []byte
		want      error
	}{
		{"RSA_2048", "SYMMETRIC_DEFAULT", rsa2048, ErrAlgorithmSpecMismatch},
		{"RSA_2048", "RSAES_OAEP_SHA_384", rsa2048, ErrAlgorithmSpecMismatch},
		{"RSA_2048", "SM2PKE", rsa2048, ErrAlgorithmSpecMismatch},
		{"ECC_NIST_P256", "RSAES_OAEP_SHA_256", p256, ErrUnsupportedSpec},
		{"HMAC_256", "RSAES_OAEP_SHA_256", rsa2048, ErrUnsupportedSpec},
		{"SM2", "RSAES_OAEP_SHA_256", rsa2048, ErrUnsupportedSpec},
		{"RSA_3072", "RSAES_OAEP_SHA_256", rsa2048, ErrInvalidKeyMaterial},
		{"RSA_2048", "RSAES_OAEP_SHA_256", p256, ErrInvalidKeyMaterial},
	} {
		if _, err := EncryptRSA(c.spec, c.alg, c.key, []byte("x")); !errors.Is(err, c.want) {
			t.Errorf("EncryptRSA(%s, %s) = %v, want %v", c.spec, c.alg, err, c.want)
		}
		if _, err := DecryptRSA(c.spec, c.alg, c.key, make([]byte, 256)); !errors.Is(err, c.want) {
			t.Errorf("DecryptRSA(%s, %s) = %v, want %v", c.spec, c.alg, err, c.want)
		}
	}
}

func TestRSAOAEPWycheproof(t *testing.T) {
	type group struct {
		PrivateKeyPkcs8 string           `json:"privateKeyPkcs8"`
		Sha             string           `json:"sha"`
		MgfSha          string           `json:"mgfSha"`
		KeySize         int              `json:"keySize"`
		Tests           []wycheproofTest `json:"tests"`
	}
	for file, alg := range map[string]string{
		"rsa_oaep_2048_sha1_mgf1sha1_test":     "RSAES_OAEP_SHA_1",
		"rsa_oaep_2048_sha256_mgf1sha256_test": "RSAES_OAEP_SHA_256",
	} {
		for _, g := range loadWycheproof[group](t, file) {
			if g.KeySize != 2048 || g.Sha != g.MgfSha {
				t.Fatalf("%s: unexpected group %d %s %s", file, g.KeySize, g.Sha, g.MgfSha)
			}
			priv := mustHex(t, g.PrivateKeyPkcs8)
			for _, tc := range g.Tests {
				pt, err := DecryptRSA("RSA_2048", alg, priv, mustHex(t, tc.Ct))
				switch {
				case tc.Result == "valid" && tc.Label == "":
					if err != nil || !bytes.Equal(pt, mustHex(t, *tc.Msg)) {
						t.Errorf("%s tcId %d (%s): %v", file, tc.TcID, tc.Comment, err)
					}
				case tc.Result == "valid": // AWS uses an empty label
					if !errors.Is(err, ErrInvalidCiphertext) {
						t.Errorf("%s tcId %d: labelled ciphertext decrypted", file, tc.TcID)
					}
				case tc.Result == "invalid":
					if !errors.Is(err, ErrInvalidCiphertext) {
						t.Errorf("%s tcId %d (%s %v): %v", file, tc.TcID, tc.Comment, tc.Flags, err)
					}
				default:
					t.Fatalf("%s tcId %d: result %s", file, tc.TcID, tc.Result)
				}
			}
		}
	}
}

// TestRSASignatureWycheproof verifies Wycheproof's RSASSA-PSS (salt length =
// hash length, as AWS) and RSASSA-PKCS1-v1_5 vectors through the verifier
// Verify uses.
func TestRSASignatureWycheproof(t *testing.T) {
	type group struct {
		PublicKeyDer string           `json:"publicKeyDer"`
		Sha          string           `json:"sha"`
		MgfSha       string           `json:"mgfSha"`
		SLen         int              `json:"sLen"`
		Tests        []wycheproofTest `json:"tests"`
	}
	for file, alg := range map[string]string{
		"rsa_pss_2048_sha256_mgf1_32_test": "RSASSA_PSS_SHA_256",
		"rsa_pss_4096_sha384_mgf1_48_test": "RSASSA_PSS_SHA_384",
		"rsa_pss_4096_sha512_mgf1_64_test": "RSASSA_PSS_SHA_512",
		"rsa_signature_2048_sha256_test":   "RSASSA_PKCS1_V1_5_SHA_256",
		"rsa_signature_3072_sha384_test":   "RSASSA_PKCS1_V1_5_SHA_384",
		"rsa_signature_4096_sha512_test":   "RSASSA_PKCS1_V1_5_SHA_512",
	} {
		a := sigAlgs[alg]
		for _, g := range loadWycheproof[group](t, file) {
			if g.SLen != 0 && (g.SLen != a.hash.Size() || g.MgfSha != g.Sha) {
				t.Fatalf("%s: salt %d, MGF %s", file, g.SLen, g.MgfSha)
			}
			pub, err := x509.ParsePKIXPublicKey(mustHex(t, g.PublicKeyDer))
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range g.Tests {
				digest := hashOf(a.hash, mustHex(t, *tc.Msg))
				err := verifyStd(a, pub, digest, mustHex(t, tc.Sig))
				switch tc.Result {
				case "valid":
					if err != nil {
						t.Errorf("%s tcId %d (%s %v): %v", file, tc.TcID, tc.Comment, tc.Flags, err)
					}
				case "invalid":
					if !errors.Is(err, ErrInvalidSignature) {
						t.Errorf("%s tcId %d (%s %v): accepted", file, tc.TcID, tc.Comment, tc.Flags)
					}
				case "acceptable":
					if err != nil && !errors.Is(err, ErrInvalidSignature) {
						t.Errorf("%s tcId %d: %v", file, tc.TcID, err)
					}
				}
			}
		}
	}
}

// TestRSAPSSSaltLength: a PSS signature with a salt other than the hash
// length is refused, as AWS fixes the salt length.
func TestRSAPSSSaltLength(t *testing.T) {
	priv := testKey(t, "RSA_2048")
	k, _ := x509.ParsePKCS8PrivateKey(priv)
	msg := []byte("salt")
	d := sha256.Sum256(msg)
	// Explicit lengths only: 0 means PSSSaltLengthAuto, which in FIPS
	// 140-3 mode is capped at the hash length, AWS's salt, and verifies.
	// 222 is the largest salt RSA-2048 with SHA-256 has room for.
	for _, salt := range []int{1, 20, 64, 222} {
		sig, err := rsa.SignPSS(rand.Reader, k.(*rsa.PrivateKey), crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: salt})
		if err != nil {
			t.Fatal(err)
		}
		if err := Verify("RSA_2048", "RSASSA_PSS_SHA_256", "RAW", priv, msg, sig); !errors.Is(err, ErrInvalidSignature) {
			t.Errorf("salt %d: Verify = %v, want ErrInvalidSignature", salt, err)
		}
	}
}

// TestRSAOAEPCiphertextLength: a ciphertext must be exactly the modulus
// size, even where the shorter integer decrypts (crypto/rsa accepts a
// ciphertext whose leading zero bytes were dropped).
func TestRSAOAEPCiphertextLength(t *testing.T) {
	priv := testKey(t, "RSA_2048")
	k, _ := x509.ParsePKCS8PrivateKey(priv)
	std := k.(*rsa.PrivateKey)
	for range 1 << 14 {
		ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &std.PublicKey, []byte("x"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if ct[0] != 0 {
			continue
		}
		if _, err := rsa.DecryptOAEP(sha256.New(), nil, std, ct[1:], nil); err != nil {
			t.Logf("crypto/rsa refuses the short ciphertext too: %v", err)
		}
		if _, err := DecryptRSA("RSA_2048", "RSAES_OAEP_SHA_256", priv, ct[1:]); !errors.Is(err, ErrInvalidCiphertext) {
			t.Fatalf("DecryptRSA accepted a %d-byte ciphertext: %v", len(ct)-1, err)
		}
		if got, err := DecryptRSA("RSA_2048", "RSAES_OAEP_SHA_256", priv, ct); err != nil || string(got) != "x" {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("no ciphertext with a leading zero byte in 16384 tries")
}
