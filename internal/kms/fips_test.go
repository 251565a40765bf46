package kms

import (
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsproto"
)

// fipsRefused are the specs a FIPS-mode service refuses: their algorithms
// come from decred (secp256k1) and circl (ML-DSA, ML-KEM-512), outside
// Go's module. ML-KEM-768 and -1024 come from crypto/mlkem, inside it.
var fipsRefused = []string{"ECC_SECG_P256K1", "ML_DSA_44", "ML_DSA_65", "ML_DSA_87", "ML_KEM_512"}

// fipsNode is a Service in FIPS mode on n's store and root key: the same
// installation restarted with --fips.
func fipsNode(t *testing.T, n *testNode) *testNode {
	t.Helper()
	s, err := New(Config{Store: n.db, Root: n.root, Clock: n.clock, Logger: slog.New(slog.DiscardHandler), FIPS140: true})
	if err != nil {
		t.Fatal(err)
	}
	return &testNode{Service: s, db: n.db, root: n.root, clock: n.clock}
}

func TestFIPSUnavailable(t *testing.T) {
	for _, spec := range keySpecs {
		why := fipsUnavailable(spec)
		if want := slices.Contains(fipsRefused, spec); (why != "") != want {
			t.Errorf("fipsUnavailable(%s) = %q, want refused %t", spec, why, want)
		}
	}
}

// wantFIPSRefusal fails the test unless err is UnsupportedOperation with
// a message naming the spec and FIPS mode.
func wantFIPSRefusal(t *testing.T, what string, err error, spec string) {
	t.Helper()
	wantCode(t, what, err, apierr.UnsupportedOperation)
	msg := err.(*apierr.Error).Message
	if !strings.Contains(msg, spec+" is not available in FIPS 140-3 mode: ") {
		t.Errorf("%s: message %q does not name %s and FIPS mode", what, msg, spec)
	}
}

func TestFIPSCreateKey(t *testing.T) {
	tests := []struct {
		spec, usage string
		refused     bool
	}{
		{"SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", false},
		{"RSA_2048", "ENCRYPT_DECRYPT", false},
		{"RSA_3072", "SIGN_VERIFY", false},
		{"ECC_NIST_P256", "SIGN_VERIFY", false},
		{"ECC_NIST_P384", "KEY_AGREEMENT", false},
		{"ECC_NIST_P521", "SIGN_VERIFY", false},
		{"ECC_NIST_EDWARDS25519", "SIGN_VERIFY", false},
		{"HMAC_224", "GENERATE_VERIFY_MAC", false},
		{"HMAC_512", "GENERATE_VERIFY_MAC", false},
		{"ECC_SECG_P256K1", "SIGN_VERIFY", true},
		{"ML_DSA_44", "SIGN_VERIFY", true},
		{"ML_DSA_65", "SIGN_VERIFY", true},
		{"ML_DSA_87", "SIGN_VERIFY", true},
		{"ML_KEM_768", "ENCAPSULATE_DECAPSULATE", false},
		{"ML_KEM_1024", "ENCAPSULATE_DECAPSULATE", false},
		{"ML_KEM_512", "ENCAPSULATE_DECAPSULATE", true},
	}
	plain := newTestNode(t)
	fips := fipsNode(t, plain)
	for _, tt := range tests {
		t.Run(tt.spec+"/"+tt.usage, func(t *testing.T) {
			in := &awsproto.CreateKeyInput{KeySpec: &tt.spec, KeyUsage: &tt.usage}
			if _, err := plain.run(t.Context(), "CreateKey", in); err != nil {
				t.Fatalf("CreateKey without FIPS mode: %v", err)
			}
			_, err := fips.run(t.Context(), "CreateKey", in)
			if tt.refused {
				wantFIPSRefusal(t, "CreateKey in FIPS mode", err, "KeySpec "+tt.spec)
			} else if err != nil {
				t.Fatalf("CreateKey in FIPS mode: %v", err)
			}
		})
	}
}

func TestFIPSGenerateDataKeyPair(t *testing.T) {
	plain := newTestNode(t)
	fips := fipsNode(t, plain)
	id := plain.createKey(t)
	for _, spec := range dataKeyPairSpecs {
		if spec == specSM2 {
			continue // refused in every mode
		}
		t.Run(spec, func(t *testing.T) {
			for _, op := range []string{"GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext"} {
				var in any = &awsproto.GenerateDataKeyPairWithoutPlaintextInput{KeyId: &id, KeyPairSpec: &spec}
				if op == "GenerateDataKeyPair" {
					in = &awsproto.GenerateDataKeyPairInput{GenerateDataKeyPairWithoutPlaintextInput: *in.(*awsproto.GenerateDataKeyPairWithoutPlaintextInput)}
				}
				if _, err := plain.run(t.Context(), op, in); err != nil {
					t.Fatalf("%s without FIPS mode: %v", op, err)
				}
				_, err := fips.run(t.Context(), op, in)
				if slices.Contains(fipsRefused, spec) {
					wantFIPSRefusal(t, op+" in FIPS mode", err, "KeyPairSpec "+spec)
				} else if err != nil {
					t.Fatalf("%s in FIPS mode: %v", op, err)
				}
			}
		})
	}
}

// TestFIPSExistingKeys: keys of refused specs made before the switch to
// FIPS mode keep their metadata and public key but do no cryptography.
func TestFIPSExistingKeys(t *testing.T) {
	plain := newTestNode(t)
	create := func(spec, usage string) string {
		out, err := plain.run(t.Context(), "CreateKey", &awsproto.CreateKeyInput{KeySpec: &spec, KeyUsage: &usage})
		if err != nil {
			t.Fatalf("CreateKey %s: %v", spec, err)
		}
		return out.(*awsproto.KeyMetadataOutput).KeyMetadata.KeyId
	}
	str := func(s string) *string { return &s }
	tests := []struct {
		spec, usage, alg string
		refused          bool
	}{
		{"ECC_SECG_P256K1", "SIGN_VERIFY", "ECDSA_SHA_256", true},
		{"ML_DSA_65", "SIGN_VERIFY", "ML_DSA_SHAKE_256", true},
		{"ECC_NIST_P256", "SIGN_VERIFY", "ECDSA_SHA_256", false},
		{"ECC_NIST_EDWARDS25519", "SIGN_VERIFY", "ED25519_SHA_512", false},
		{"ECC_NIST_P256", "KEY_AGREEMENT", "", false},
	}
	ids := make([]string, len(tests))
	for i, tt := range tests {
		ids[i] = create(tt.spec, tt.usage)
	}
	fips := fipsNode(t, plain)
	for i, tt := range tests {
		t.Run(tt.spec+"/"+tt.usage, func(t *testing.T) {
			id := ids[i]
			if _, err := fips.describe(t, id); err != nil {
				t.Fatalf("DescribeKey: %v", err)
			}
			pub, err := fips.run(t.Context(), "GetPublicKey", &awsproto.DescribeKeyInput{KeyId: &id})
			if err != nil {
				t.Fatalf("GetPublicKey: %v", err)
			}
			check := func(op string, err error) {
				t.Helper()
				if tt.refused {
					wantFIPSRefusal(t, op, err, "KeySpec "+tt.spec)
					if msg := err.(*apierr.Error).Message; !strings.Contains(msg, id) {
						t.Errorf("%s: message %q does not name the key", op, msg)
					}
				} else if err != nil {
					t.Fatalf("%s: %v", op, err)
				}
			}
			if tt.usage == "KEY_AGREEMENT" {
				// The key's own public key is a valid peer on its curve.
				_, err := fips.run(t.Context(), "DeriveSharedSecret", &awsproto.DeriveSharedSecretInput{
					KeyId: &id, KeyAgreementAlgorithm: str("ECDH"), PublicKey: pub.(*awsproto.GetPublicKeyOutput).PublicKey})
				check("DeriveSharedSecret", err)
				return
			}
			msg := []byte("signed in FIPS mode")
			sig, err := plain.run(t.Context(), "Sign", &awsproto.SignInput{KeyId: &id, Message: msg, SigningAlgorithm: &tt.alg})
			if err != nil {
				t.Fatalf("Sign without FIPS mode: %v", err)
			}
			_, err = fips.run(t.Context(), "Sign", &awsproto.SignInput{KeyId: &id, Message: msg, SigningAlgorithm: &tt.alg})
			check("Sign", err)
			_, err = fips.run(t.Context(), "Verify", &awsproto.VerifyInput{KeyId: &id, Message: msg, SigningAlgorithm: &tt.alg,
				Signature: sig.(*awsproto.SignOutput).Signature})
			check("Verify", err)
		})
	}
}
