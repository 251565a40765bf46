package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestKeyMetadataTables(t *testing.T) {
	rsaEnc := []string{"RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"}
	tests := []struct {
		spec                         string
		usages, sig, enc, mac, agree []string
	}{
		{"SYMMETRIC_DEFAULT", []string{"ENCRYPT_DECRYPT"}, nil, []string{"SYMMETRIC_DEFAULT"}, nil, nil},
		{"RSA_2048", []string{"ENCRYPT_DECRYPT", "SIGN_VERIFY"}, awsRSASigning, rsaEnc, nil, nil},
		{"RSA_3072", []string{"ENCRYPT_DECRYPT", "SIGN_VERIFY"}, awsRSASigning, rsaEnc, nil, nil},
		{"RSA_4096", []string{"ENCRYPT_DECRYPT", "SIGN_VERIFY"}, awsRSASigning, rsaEnc, nil, nil},
		{"ECC_NIST_P256", []string{"SIGN_VERIFY", "KEY_AGREEMENT"}, []string{"ECDSA_SHA_256"}, nil, nil, []string{"ECDH"}},
		{"ECC_NIST_P384", []string{"SIGN_VERIFY", "KEY_AGREEMENT"}, []string{"ECDSA_SHA_384"}, nil, nil, []string{"ECDH"}},
		{"ECC_NIST_P521", []string{"SIGN_VERIFY", "KEY_AGREEMENT"}, []string{"ECDSA_SHA_512"}, nil, nil, []string{"ECDH"}},
		{"ECC_SECG_P256K1", []string{"SIGN_VERIFY"}, []string{"ECDSA_SHA_256"}, nil, nil, nil},
		{"ECC_NIST_EDWARDS25519", []string{"SIGN_VERIFY"}, []string{"ED25519_SHA_512", "ED25519_PH_SHA_512"}, nil, nil, nil},
		{"ML_DSA_44", []string{"SIGN_VERIFY"}, []string{"ML_DSA_SHAKE_256"}, nil, nil, nil},
		{"ML_DSA_65", []string{"SIGN_VERIFY"}, []string{"ML_DSA_SHAKE_256"}, nil, nil, nil},
		{"ML_DSA_87", []string{"SIGN_VERIFY"}, []string{"ML_DSA_SHAKE_256"}, nil, nil, nil},
		{"HMAC_224", []string{"GENERATE_VERIFY_MAC"}, nil, nil, []string{"HMAC_SHA_224"}, nil},
		{"HMAC_256", []string{"GENERATE_VERIFY_MAC"}, nil, nil, []string{"HMAC_SHA_256"}, nil},
		{"HMAC_384", []string{"GENERATE_VERIFY_MAC"}, nil, nil, []string{"HMAC_SHA_384"}, nil},
		{"HMAC_512", []string{"GENERATE_VERIFY_MAC"}, nil, nil, []string{"HMAC_SHA_512"}, nil},
		{"SM2", nil, nil, nil, nil, nil},
		{"ML_KEM_768", []string{"ENCAPSULATE_DECAPSULATE"}, nil, nil, nil, nil},
		{"rsa_2048", nil, nil, nil, nil, nil},
		{"", nil, nil, nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			for _, c := range []struct {
				name      string
				got, want []string
			}{
				{"KeyUsages", KeyUsages(tt.spec), tt.usages},
				{"SigningAlgorithms", SigningAlgorithms(tt.spec), tt.sig},
				{"EncryptionAlgorithms", EncryptionAlgorithms(tt.spec), tt.enc},
				{"MacAlgorithms", MacAlgorithms(tt.spec), tt.mac},
				{"KeyAgreementAlgorithms", KeyAgreementAlgorithms(tt.spec), tt.agree},
			} {
				if !slices.Equal(c.got, c.want) {
					t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
				}
			}
		})
	}
	// The slices are the caller's.
	SigningAlgorithms("RSA_2048")[0] = "changed"
	if SigningAlgorithms("RSA_2048")[0] != "RSASSA_PKCS1_V1_5_SHA_256" {
		t.Fatal("a caller can change the package's table")
	}
}

func TestHashSize(t *testing.T) {
	for alg, want := range awsDigestSize {
		if got := HashSize(alg); got != want {
			t.Errorf("HashSize(%s) = %d, want %d", alg, got, want)
		}
	}
	for alg, want := range map[string]int{"ED25519_SHA_512": 64, "ML_DSA_SHAKE_256": 64, "SM2DSA": 0, "HMAC_SHA_256": 0, "": 0} {
		if got := HashSize(alg); got != want {
			t.Errorf("HashSize(%s) = %d, want %d", alg, got, want)
		}
	}
}

// TestPrivateFormats checks what GeneratePrivate returns for each spec with
// parsers other than this package's.
func TestPrivateFormats(t *testing.T) {
	for _, spec := range []string{"RSA_2048", "RSA_3072", "RSA_4096"} {
		k, err := x509.ParsePKCS8PrivateKey(testKey(t, spec))
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if want := map[string]int{"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}[spec]; !ok || rk.N.BitLen() != want || rk.E != 65537 {
			t.Fatalf("%s: %T", spec, k)
		}
	}
	for spec, curve := range map[string]elliptic.Curve{"ECC_NIST_P256": elliptic.P256(), "ECC_NIST_P384": elliptic.P384(), "ECC_NIST_P521": elliptic.P521()} {
		k, err := x509.ParsePKCS8PrivateKey(testKey(t, spec))
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		if ek, ok := k.(*ecdsa.PrivateKey); !ok || ek.Curve != curve {
			t.Fatalf("%s: %T", spec, k)
		}
	}
	k, err := x509.ParsePKCS8PrivateKey(testKey(t, "ECC_NIST_EDWARDS25519"))
	if _, ok := k.(ed25519.PrivateKey); err != nil || !ok {
		t.Fatalf("Ed25519: %T, %v", k, err)
	}
	for spec, size := range map[string]int{"HMAC_224": 28, "HMAC_256": 32, "HMAC_384": 48, "HMAC_512": 64} {
		if k := testKey(t, spec); len(k) != size {
			t.Fatalf("%s key is %d bytes, want %d", spec, len(k), size)
		}
	}
	// ML-DSA: RFC 9881 seed form, 54 bytes, written out by hand here.
	for spec, last := range map[string]byte{"ML_DSA_44": 0x11, "ML_DSA_65": 0x12, "ML_DSA_87": 0x13} {
		k := testKey(t, spec)
		prefix := []byte{0x30, 0x34, 0x02, 0x01, 0x00, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, last, 0x04, 0x22, 0x80, 0x20}
		if len(k) != len(prefix)+32 || !bytes.HasPrefix(k, prefix) {
			t.Fatalf("%s private = %x", spec, k)
		}
	}
	// secp256k1: parsed with encoding/asn1 (RFC 5208 + RFC 5915 structures).
	testSecp256k1PKCS8Independently(t, testKey(t, "ECC_SECG_P256K1"))

	for _, spec := range []string{"SYMMETRIC_DEFAULT", "SM2", "bogus"} {
		if _, err := GeneratePrivate(spec); !errors.Is(err, ErrUnsupportedSpec) {
			t.Errorf("GeneratePrivate(%s) = %v, want ErrUnsupportedSpec", spec, err)
		}
	}
}

func TestGeneratePrivateIsFresh(t *testing.T) {
	for _, spec := range []string{"ECC_NIST_P256", "ECC_SECG_P256K1", "ECC_NIST_EDWARDS25519", "ML_DSA_44", "HMAC_256"} {
		a, err := GeneratePrivate(spec)
		if err != nil {
			t.Fatal(err)
		}
		b, err := GeneratePrivate(spec)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(a, b) {
			t.Errorf("%s: two keys are equal", spec)
		}
	}
}

func TestPublicKeyDER(t *testing.T) {
	for _, spec := range allAsymmetricSpecs {
		t.Run(spec, func(t *testing.T) {
			priv := testKey(t, spec)
			spki, err := PublicKeyDER(spec, priv)
			if err != nil {
				t.Fatal(err)
			}
			pub := parsePublicIndependently(t, spec, spki) // fails the test if malformed
			switch p := pub.(type) {
			case *rsa.PublicKey:
				k, _ := x509.ParsePKCS8PrivateKey(priv)
				if !p.Equal(k.(*rsa.PrivateKey).Public()) {
					t.Fatal("public key does not match")
				}
			case *ecdsa.PublicKey:
				k, _ := x509.ParsePKCS8PrivateKey(priv)
				if !p.Equal(k.(*ecdsa.PrivateKey).Public()) {
					t.Fatal("public key does not match")
				}
			case ed25519.PublicKey:
				k, _ := x509.ParsePKCS8PrivateKey(priv)
				if !p.Equal(k.(ed25519.PrivateKey).Public()) {
					t.Fatal("public key does not match")
				}
			}
			// The AWS sizes of the SPKI for the fixed-size kinds.
			want := map[string]int{"ECC_NIST_P256": 91, "ECC_NIST_P384": 120, "ECC_NIST_P521": 158, "ECC_SECG_P256K1": 88,
				"ECC_NIST_EDWARDS25519": 44, "ML_DSA_44": 1312 + 22, "ML_DSA_65": 1952 + 22, "ML_DSA_87": 2592 + 22}[spec]
			if want != 0 && len(spki) != want {
				t.Errorf("SPKI is %d bytes, want %d", len(spki), want)
			}
		})
	}
	for _, spec := range append([]string{"SYMMETRIC_DEFAULT", "SM2", "bogus"}, allHMACSpecs...) {
		if _, err := PublicKeyDER(spec, make([]byte, 32)); !errors.Is(err, ErrUnsupportedSpec) {
			t.Errorf("PublicKeyDER(%s) = %v, want ErrUnsupportedSpec", spec, err)
		}
	}
}

// TestKeyMaterialMismatch: material of one spec given with another spec, or
// damaged, is ErrInvalidKeyMaterial, never a guess and never a panic.
func TestKeyMaterialMismatch(t *testing.T) {
	for _, spec := range allAsymmetricSpecs {
		for _, other := range allAsymmetricSpecs {
			if other == spec {
				continue
			}
			if _, err := PublicKeyDER(spec, testKey(t, other)); !errors.Is(err, ErrInvalidKeyMaterial) {
				t.Errorf("PublicKeyDER(%s, key of %s) = %v, want ErrInvalidKeyMaterial", spec, other, err)
			}
		}
		k := testKey(t, spec)
		for _, bad := range [][]byte{nil, {}, k[:len(k)-1], append(bytes.Clone(k), 0), {0x30, 0x00}} {
			if _, err := PublicKeyDER(spec, bad); !errors.Is(err, ErrInvalidKeyMaterial) {
				t.Errorf("PublicKeyDER(%s, damaged %x...) = %v, want ErrInvalidKeyMaterial", spec, bad[:min(len(bad), 8)], err)
			}
		}
		alg := awsSigning[spec][0]
		if _, err := Sign(spec, alg, "RAW", testKey(t, "ECC_NIST_P256"), []byte("m")); spec != "ECC_NIST_P256" && !errors.Is(err, ErrInvalidKeyMaterial) {
			t.Errorf("Sign(%s) with a P-256 key = %v", spec, err)
		}
	}
}

var (
	matrixSpecs = append(append(append([]string{}, allAsymmetricSpecs...), allHMACSpecs...),
		"SYMMETRIC_DEFAULT", "SM2", "ML_KEM_768", "bogus")
	matrixAlgorithms = []string{
		"RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
		"RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
		"ECDSA_SHA_256", "ECDSA_SHA_384", "ECDSA_SHA_512",
		"ED25519_SHA_512", "ED25519_PH_SHA_512", "ML_DSA_SHAKE_256",
		"SM2DSA", "RSAES_OAEP_SHA_256", "HMAC_SHA_256", "ecdsa_sha_256", "",
	}
	matrixMessageTypes = []string{"RAW", "DIGEST", "EXTERNAL_MU", "", "raw", "PRE_HASH"}
)

// expectSign is AWS's rule for a spec, algorithm and message type, written
// out independently of signingInput. EXTERNAL_MU is refused (see Sign).
func expectSign(spec, alg, msgType string) error {
	if _, ok := awsSigning[spec]; !ok && !slices.Contains(allHMACSpecs, spec) && !slices.Contains(mlkemSpecs, spec) && spec != "SYMMETRIC_DEFAULT" {
		return ErrUnsupportedSpec
	}
	if !slices.Contains(awsSigning[spec], alg) {
		return ErrAlgorithmSpecMismatch
	}
	if msgType == "" {
		msgType = "RAW"
	}
	ok := false
	switch alg {
	case "ED25519_SHA_512", "ML_DSA_SHAKE_256":
		ok = msgType == "RAW"
	case "ED25519_PH_SHA_512":
		ok = msgType == "DIGEST"
	default:
		ok = msgType == "RAW" || msgType == "DIGEST"
	}
	if !ok {
		return ErrUnsupportedMessageType
	}
	return nil
}

// TestSignVerifyMatrix runs Sign and Verify over every spec × algorithm ×
// message type, checks the error for invalid combinations and, for valid
// ones, that the signature verifies here and with an independent verifier,
// and that damaged signatures and messages do not verify.
func TestSignVerifyMatrix(t *testing.T) {
	message := []byte("The quick brown fox jumps over the lazy dog")
	signed := 0
	for _, spec := range matrixSpecs {
		var priv, spki []byte
		if _, ok := awsSigning[spec]; ok {
			priv = testKey(t, spec)
			var err error
			if spki, err = PublicKeyDER(spec, priv); err != nil {
				t.Fatal(err)
			}
		} else {
			priv = make([]byte, 64)
		}
		for _, alg := range matrixAlgorithms {
			for _, mt := range matrixMessageTypes {
				name := fmt.Sprintf("%s/%s/%s", spec, alg, mt)
				want := expectSign(spec, alg, mt)
				msg := message
				if mt == "DIGEST" && want == nil {
					msg = bytes.Repeat([]byte{0xa5}, awsDigestSize[alg])
				}
				sig, err := Sign(spec, alg, mt, priv, msg)
				if !errors.Is(err, want) || (want == nil) != (err == nil) {
					t.Errorf("%s: Sign error %v, want %v", name, err, want)
					continue
				}
				if verr := Verify(spec, alg, mt, priv, msg, bytes.Repeat([]byte{1}, 64)); want != nil && !errors.Is(verr, want) {
					t.Errorf("%s: Verify error %v, want %v", name, verr, want)
				}
				if want != nil {
					continue
				}
				signed++
				checkSignature(t, name, spec, alg, mt, priv, spki, msg, sig)
			}
		}
	}
	// RSA 3×6×{RAW, DIGEST, ""}, NIST ECDSA 3×3, secp256k1 3,
	// Ed25519 {RAW, ""} + PH DIGEST, ML-DSA 3×{RAW, ""}.
	if want := 54 + 9 + 3 + 3 + 6; signed != want {
		t.Errorf("%d valid combinations signed, want %d", signed, want)
	}
}

func checkSignature(t *testing.T, name, spec, alg, mt string, priv, spki, msg, sig []byte) {
	t.Helper()
	if err := Verify(spec, alg, mt, priv, msg, sig); err != nil {
		t.Errorf("%s: Verify: %v", name, err)
	}
	indepType := mt
	if indepType == "" {
		indepType = "RAW"
	}
	if err := verifyIndependently(t, spec, alg, indepType, spki, msg, sig); err != nil {
		t.Errorf("%s: %v", name, err)
	}
	for what, bad := range map[string][]byte{
		"flipped bit":    flipBit(sig, len(sig)/2),
		"flipped last":   flipBit(sig, len(sig)-1),
		"trailing byte":  append(bytes.Clone(sig), 0),
		"truncated":      sig[:len(sig)-1],
		"empty":          {},
		"other algo sig": bytes.Repeat([]byte{0x30}, len(sig)),
	} {
		if err := Verify(spec, alg, mt, priv, msg, bad); !errors.Is(err, ErrInvalidSignature) {
			t.Errorf("%s: Verify(%s) = %v, want ErrInvalidSignature", name, what, err)
		}
	}
	if err := Verify(spec, alg, mt, priv, flipBit(msg, 0), sig); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("%s: Verify(other message) = %v, want ErrInvalidSignature", name, err)
	}
}

func flipBit(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x01
	return c
}

func TestDigestLength(t *testing.T) {
	for spec, algs := range awsSigning {
		priv := testKey(t, spec)
		for _, alg := range algs {
			size, ok := awsDigestSize[alg]
			if !ok {
				continue
			}
			for _, n := range []int{0, 1, size - 1, size + 1, 2 * size} {
				msg := make([]byte, n)
				if _, err := Sign(spec, alg, "DIGEST", priv, msg); !errors.Is(err, ErrDigestLength) {
					t.Errorf("%s/%s: Sign(DIGEST of %d bytes) = %v, want ErrDigestLength", spec, alg, n, err)
				}
				if err := Verify(spec, alg, "DIGEST", priv, msg, []byte{0}); !errors.Is(err, ErrDigestLength) {
					t.Errorf("%s/%s: Verify(DIGEST of %d bytes) = %v, want ErrDigestLength", spec, alg, n, err)
				}
			}
		}
	}
}

// TestRawEqualsDigest: a RAW signature verifies as a DIGEST signature of the
// message's hash and the other way round, for the hash-then-sign algorithms.
func TestRawEqualsDigest(t *testing.T) {
	msg := []byte("message")
	for spec, algs := range awsSigning {
		priv := testKey(t, spec)
		for _, alg := range algs {
			h, ok := stdHashes[alg]
			if !ok {
				continue
			}
			d := h.New()
			d.Write(msg)
			digest := d.Sum(nil)
			sig, err := Sign(spec, alg, "RAW", priv, msg)
			if err != nil {
				t.Fatal(err)
			}
			if err := Verify(spec, alg, "DIGEST", priv, digest, sig); err != nil {
				t.Errorf("%s/%s: RAW signature does not verify as DIGEST: %v", spec, alg, err)
			}
			sig, err = Sign(spec, alg, "DIGEST", priv, digest)
			if err != nil {
				t.Fatal(err)
			}
			if err := Verify(spec, alg, "RAW", priv, msg, sig); err != nil {
				t.Errorf("%s/%s: DIGEST signature does not verify as RAW: %v", spec, alg, err)
			}
		}
	}
}

func TestSignatureProperties(t *testing.T) {
	msg := []byte("message")
	// Ed25519 is deterministic; ED25519_SHA_512 and ED25519_PH_SHA_512 differ.
	ed := testKey(t, "ECC_NIST_EDWARDS25519")
	a, _ := Sign("ECC_NIST_EDWARDS25519", "ED25519_SHA_512", "RAW", ed, msg)
	b, _ := Sign("ECC_NIST_EDWARDS25519", "ED25519_SHA_512", "RAW", ed, msg)
	if !bytes.Equal(a, b) || len(a) != 64 {
		t.Error("Ed25519 signatures are not deterministic 64-byte values")
	}
	digest := bytes.Repeat([]byte{7}, 64)
	ph, err := Sign("ECC_NIST_EDWARDS25519", "ED25519_PH_SHA_512", "DIGEST", ed, digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify("ECC_NIST_EDWARDS25519", "ED25519_SHA_512", "RAW", ed, digest, ph); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("an Ed25519ph signature verifies as pure Ed25519: %v", err)
	}
	// ML-DSA signing is hedged: two signatures differ, both verify; sizes per FIPS 204.
	for spec, size := range map[string]int{"ML_DSA_44": 2420, "ML_DSA_65": 3309, "ML_DSA_87": 4627} {
		k := testKey(t, spec)
		a, err := Sign(spec, "ML_DSA_SHAKE_256", "RAW", k, msg)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Sign(spec, "ML_DSA_SHAKE_256", "RAW", k, msg)
		if len(a) != size || bytes.Equal(a, b) {
			t.Errorf("%s: signature of %d bytes (want %d), randomized %v", spec, len(a), size, !bytes.Equal(a, b))
		}
	}
	// secp256k1 signing is deterministic and always low-S.
	k1 := testKey(t, "ECC_SECG_P256K1")
	for i := range 32 {
		m := []byte{byte(i)}
		s1, _ := Sign("ECC_SECG_P256K1", "ECDSA_SHA_256", "RAW", k1, m)
		s2, _ := Sign("ECC_SECG_P256K1", "ECDSA_SHA_256", "RAW", k1, m)
		if !bytes.Equal(s1, s2) {
			t.Fatal("secp256k1 signatures are not deterministic")
		}
		if _, s, ok := parseSecp256k1Signature(s1); !ok || s.IsOverHalfOrder() {
			t.Fatalf("secp256k1 signature is not low-S DER: %x", s1)
		}
	}
}

// TestEd25519phRFC8032 pins the Ed25519ph primitive Sign uses to RFC 8032
// §7.3's test vector (message "abc"), and shows how AWS's DIGEST input maps
// onto it: signing DIGEST d is Ed25519ph with M = d.
func TestEd25519phRFC8032(t *testing.T) {
	seed := mustHex(t, "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42")
	wantPub := mustHex(t, "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf")
	wantSig := mustHex(t, "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae4131f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406")
	priv := ed25519.NewKeyFromSeed(seed)
	if !bytes.Equal(priv.Public().(ed25519.PublicKey), wantPub) {
		t.Fatal("public key mismatch")
	}
	a := sigAlgs["ED25519_PH_SHA_512"]
	sig, err := signStd(a, priv, hashOf(a.hash, []byte("abc"))) // PH(M) = SHA-512(M)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sig, wantSig) {
		t.Fatalf("Ed25519ph(abc) = %x, want RFC 8032's %x", sig, wantSig)
	}
	// Through the API: the stored PKCS#8 of the RFC key, DIGEST = a 64-byte value.
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	d := hashOf(a.hash, []byte("some message"))
	got, err := Sign("ECC_NIST_EDWARDS25519", "ED25519_PH_SHA_512", "DIGEST", der, d)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := signStd(a, priv, hashOf(a.hash, d))
	if !bytes.Equal(got, want) {
		t.Fatal("ED25519_PH_SHA_512 does not sign Ed25519ph with M = the DIGEST input")
	}
}

func TestDataKeyPair(t *testing.T) {
	for _, spec := range []string{"RSA_2048", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "ECC_SECG_P256K1", "ECC_NIST_EDWARDS25519"} {
		t.Run(spec, func(t *testing.T) {
			priv, pub, err := DataKeyPair(spec)
			if err != nil {
				t.Fatal(err)
			}
			parsePublicIndependently(t, spec, pub)
			if spec == "ECC_SECG_P256K1" {
				d := testSecp256k1PKCS8Independently(t, priv)
				k := secp256k1PrivFromBytes(d)
				if !bytes.Equal(marshalSecp256k1SPKI(k.PubKey()), pub) {
					t.Fatal("public key does not match private key")
				}
				return
			}
			k, err := x509.ParsePKCS8PrivateKey(priv)
			if err != nil {
				t.Fatal(err)
			}
			want, err := x509.MarshalPKIXPublicKey(k.(crypto.Signer).Public())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(want, pub) {
				t.Fatal("public key does not match private key")
			}
			// A data key pair is usable by the signing functions under its spec.
			alg := awsSigning[spec][0]
			sig, err := Sign(spec, alg, "RAW", priv, []byte("x"))
			if err != nil {
				t.Fatal(err)
			}
			if err := verifyIndependently(t, spec, alg, "RAW", pub, []byte("x"), sig); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, spec := range append([]string{"SM2", "ML_DSA_44", "SYMMETRIC_DEFAULT", "bogus"}, allHMACSpecs...) {
		if _, _, err := DataKeyPair(spec); !errors.Is(err, ErrUnsupportedSpec) {
			t.Errorf("DataKeyPair(%s) = %v, want ErrUnsupportedSpec", spec, err)
		}
	}
}

func TestVerifyGarbageNeverPanics(t *testing.T) {
	garbage := [][]byte{nil, {}, {0}, {0x30}, {0x30, 0x80, 0, 0}, bytes.Repeat([]byte{0xff}, 5000)}
	for i := range 8 {
		b := make([]byte, 1<<i)
		rand.Read(b)
		garbage = append(garbage, b)
	}
	for spec, algs := range awsSigning {
		priv := testKey(t, spec)
		for _, alg := range algs {
			mt := "RAW"
			msg := []byte("m")
			if alg == "ED25519_PH_SHA_512" {
				mt, msg = "DIGEST", make([]byte, 64)
			}
			for _, g := range garbage {
				if err := Verify(spec, alg, mt, priv, msg, g); !errors.Is(err, ErrInvalidSignature) {
					t.Errorf("%s/%s: Verify(%d garbage bytes) = %v", spec, alg, len(g), err)
				}
			}
		}
	}
}
