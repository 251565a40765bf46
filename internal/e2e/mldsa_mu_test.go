package e2e

import (
	"crypto/sha3"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trent-kms/trent/internal/testenv"
)

// TestMLDSAExternalMu sends ML-DSA Sign and Verify a μ computed here from
// GetPublicKey's key and the message (FIPS 204: μ = SHAKE256(tr ‖ M′, 64),
// tr = SHAKE256(pk, 64), M′ = 0x00 ‖ 0x00 ‖ M; internal/keys pins the
// formula to Wycheproof). AWS signs and verifies it; Trent cannot yet
// (docs/post-quantum.md says why) and answers UnsupportedOperationException
// rather than call a valid request invalid. A signature of μ is the
// signature of M (RAW), so when Trent learns EXTERNAL_MU this test should
// expect success and check that Verify RAW of M accepts Sign's signature.
func TestMLDSAExternalMu(t *testing.T) {
	env := testenv.Start(t)
	c, ctx := env.KMS, t.Context()
	msg := []byte("signed through its message representative")
	for _, spec := range []types.KeySpec{types.KeySpecMlDsa44, types.KeySpecMlDsa65, types.KeySpecMlDsa87} {
		t.Run(string(spec), func(t *testing.T) {
			md := newAsymKey(t, env, spec, types.KeyUsageTypeSignVerify)
			pub, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: md.KeyId})
			mustOK(t, err, "GetPublicKey")
			s, err := parseSPKI(pub.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			tr := sha3.SumSHAKE256(s.PublicKey.RightAlign(), 64)
			mu := sha3.SumSHAKE256(append(append(tr, 0x00, 0x00), msg...), 64)

			raw, err := c.Sign(ctx, &kms.SignInput{KeyId: md.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecMlDsaShake256})
			mustOK(t, err, "Sign RAW")
			const refused = "Trent does not support MessageType EXTERNAL_MU yet: its ML-DSA implementation cannot sign or verify a given mu. Send the message with MessageType RAW."
			_, err = c.Sign(ctx, &kms.SignInput{KeyId: md.KeyId, Message: mu, MessageType: types.MessageTypeExternalMu,
				SigningAlgorithm: types.SigningAlgorithmSpecMlDsaShake256})
			wantError(t, err, "UnsupportedOperationException", refused)
			_, err = c.Verify(ctx, &kms.VerifyInput{KeyId: md.KeyId, Message: mu, MessageType: types.MessageTypeExternalMu,
				SigningAlgorithm: types.SigningAlgorithmSpecMlDsaShake256, Signature: raw.Signature})
			wantError(t, err, "UnsupportedOperationException", refused)
			_, err = c.Sign(ctx, &kms.SignInput{KeyId: md.KeyId, Message: mu, MessageType: types.MessageTypeExternalMu,
				SigningAlgorithm: types.SigningAlgorithmSpecMlDsaShake256, DryRun: aws.Bool(true)})
			wantError(t, err, "UnsupportedOperationException", refused)
			// A μ of the wrong size is invalid on AWS too.
			_, err = c.Sign(ctx, &kms.SignInput{KeyId: md.KeyId, Message: mu[:32], MessageType: types.MessageTypeExternalMu,
				SigningAlgorithm: types.SigningAlgorithmSpecMlDsaShake256})
			wantError(t, err, "ValidationException", anyMessage)
		})
	}
}
