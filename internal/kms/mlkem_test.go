package kms

import (
	"bytes"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsproto"
)

// TestFIPSExistingMLKEMKeys: an ML-KEM-512 key made before the switch to
// FIPS mode keeps its metadata and public key but neither encapsulates nor
// decapsulates (circl is outside Go's module); ML-KEM-768 and -1024 keep
// working (crypto/mlkem is inside it).
func TestFIPSExistingMLKEMKeys(t *testing.T) {
	plain := newTestNode(t)
	usage, alg := UsageEncapsulateDecapsulate, "ML_KEM"
	ids := map[string]string{}
	for _, spec := range []string{"ML_KEM_512", "ML_KEM_768", "ML_KEM_1024"} {
		out, err := plain.run(t.Context(), "CreateKey", &awsproto.CreateKeyInput{KeySpec: &spec, KeyUsage: &usage})
		if err != nil {
			t.Fatalf("CreateKey %s: %v", spec, err)
		}
		ids[spec] = out.(*awsproto.KeyMetadataOutput).KeyMetadata.KeyId
	}
	fips := fipsNode(t, plain)
	for spec, id := range ids {
		t.Run(spec, func(t *testing.T) {
			if _, err := fips.run(t.Context(), "GetPublicKey", &awsproto.DescribeKeyInput{KeyId: &id}); err != nil {
				t.Fatalf("GetPublicKey: %v", err)
			}
			enc, err := plain.run(t.Context(), "Encapsulate", &awsproto.EncapsulateInput{KeyId: &id, EncapsulationAlgorithm: &alg})
			if err != nil {
				t.Fatalf("Encapsulate without FIPS mode: %v", err)
			}
			ct := enc.(*awsproto.EncapsulateOutput).SharedSecretCiphertextBlob
			_, encErr := fips.run(t.Context(), "Encapsulate", &awsproto.EncapsulateInput{KeyId: &id, EncapsulationAlgorithm: &alg})
			dec, decErr := fips.run(t.Context(), "Decapsulate", &awsproto.DecapsulateInput{KeyId: &id, EncapsulationAlgorithm: &alg, SharedSecretCiphertextBlob: ct})
			if spec == "ML_KEM_512" {
				for op, err := range map[string]error{"Encapsulate": encErr, "Decapsulate": decErr} {
					wantFIPSRefusal(t, op, err, "KeySpec "+spec)
					if msg := err.(*apierr.Error).Message; !strings.Contains(msg, id) {
						t.Errorf("%s: message %q does not name the key", op, msg)
					}
				}
				return
			}
			if encErr != nil || decErr != nil {
				t.Fatalf("in FIPS mode: Encapsulate %v, Decapsulate %v", encErr, decErr)
			}
			if !bytes.Equal(dec.(*awsproto.DecapsulateOutput).SharedSecret, enc.(*awsproto.EncapsulateOutput).SharedSecret) {
				t.Error("FIPS-mode Decapsulate recovered another secret")
			}
		})
	}
}
