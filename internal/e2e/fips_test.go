package e2e

import (
	"bytes"
	"crypto/fips140"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

// TestFIPSMode runs the built binary as `serve --dev --fips`: it restarts
// itself under GODEBUG=fips140=on (same process id), reports FIPS mode in
// its log and in `trent status`, refuses the key specs Go's FIPS 140-3
// module does not provide, and serves the ones it does. Without --fips the
// same specs work, so the refusal is the mode's doing.
func TestFIPSMode(t *testing.T) {
	id, secret := randomAccessKey(t)
	env := []string{"TRENT_ROOT_ACCESS_KEY_ID=" + id, "TRENT_ROOT_SECRET_ACCESS_KEY=" + secret}
	tests := []struct {
		name string
		args []string
		fips bool
	}{
		{"fips", []string{"--fips"}, true},
		{"default", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.fips && strings.Contains(os.Getenv("GODEBUG"), "fips140=") {
				t.Skip("GODEBUG sets fips140 for every process of this run")
			}
			p := startTrent(t, env, tt.args...)
			if want := "enabled=" + strconv.FormatBool(tt.fips); !strings.Contains(p.Stderr(), `msg="FIPS 140-3 mode" `+want) {
				t.Errorf("no startup line saying FIPS 140-3 mode %s:\n%s", want, p.Stderr())
			}
			if got := sealStatus(t, p.URL)["fips140"]; got != tt.fips {
				t.Errorf("trent status: fips140 = %v, want %v", got, tt.fips)
			}
			if tt.fips {
				// The restart replaced the program, not the process.
				environ, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/environ")
				if err == nil && !bytes.Contains(environ, []byte("fips140=on")) {
					t.Errorf("process %d has no GODEBUG fips140=on in its environment", p.cmd.Process.Pid)
				}
			}
			c := p.Client(id, secret)
			ctx := t.Context()

			for _, spec := range []types.KeySpec{types.KeySpecEccSecgP256k1, types.KeySpecMlDsa65} {
				_, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: spec, KeyUsage: types.KeyUsageTypeSignVerify})
				if !tt.fips {
					if err != nil {
						t.Errorf("CreateKey %s: %v", spec, err)
					}
					continue
				}
				var api smithy.APIError
				if !errors.As(err, &api) || api.ErrorCode() != "UnsupportedOperationException" ||
					!strings.Contains(api.ErrorMessage(), "KeySpec "+string(spec)+" is not available in FIPS 140-3 mode") {
					t.Errorf("CreateKey %s: %v, want UnsupportedOperationException naming FIPS 140-3 mode", spec, err)
				}
			}
			_, err := c.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: aws.String(symmetricKey(t, c)), KeyPairSpec: types.DataKeyPairSpecEccSecgP256k1})
			var api smithy.APIError
			if tt.fips && (!errors.As(err, &api) || api.ErrorCode() != "UnsupportedOperationException") {
				t.Errorf("GenerateDataKeyPair ECC_SECG_P256K1: %v, want UnsupportedOperationException", err)
			} else if !tt.fips && err != nil {
				t.Errorf("GenerateDataKeyPair ECC_SECG_P256K1: %v", err)
			}

			// AES-GCM from the module: SYMMETRIC_DEFAULT round trip.
			sym := symmetricKey(t, c)
			pt := []byte("encrypted in FIPS 140-3 mode")
			enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: &sym, Plaintext: pt})
			if err != nil {
				t.Fatalf("Encrypt: %v", err)
			}
			dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
			if err != nil || !bytes.Equal(dec.Plaintext, pt) {
				t.Fatalf("Decrypt = %q, %v; want %q", dec.Plaintext, err, pt)
			}

			// ECDSA P-256 from the module: sign and verify.
			ec, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
			if err != nil {
				t.Fatalf("CreateKey ECC_NIST_P256: %v", err)
			}
			msg := []byte("signed in FIPS 140-3 mode")
			sig, err := c.Sign(ctx, &kms.SignInput{KeyId: ec.KeyMetadata.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			ver, err := c.Verify(ctx, &kms.VerifyInput{KeyId: ec.KeyMetadata.KeyId, Message: msg, Signature: sig.Signature, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
			if err != nil || !ver.SignatureValid {
				t.Fatalf("Verify: %v, %v", ver, err)
			}
		})
	}
}

// symmetricKey creates a SYMMETRIC_DEFAULT key and returns its id.
func symmetricKey(t *testing.T, c *kms.Client) string {
	t.Helper()
	out, err := c.CreateKey(t.Context(), &kms.CreateKeyInput{})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return *out.KeyMetadata.KeyId
}

// skipInFIPSMode skips a test whose fixture makes keys of every spec when
// this test process runs in FIPS 140-3 mode (GODEBUG=fips140=on): there
// Trent refuses secp256k1, ML-DSA and ML_KEM_512 by design, which
// TestFIPSMode and TestMLKEMFIPSMode check.
func skipInFIPSMode(t *testing.T) {
	t.Helper()
	if fips140.Enabled() {
		t.Skip("FIPS 140-3 mode: secp256k1, ML-DSA and ML_KEM_512 keys are refused by design")
	}
}

// skipSpecInFIPSMode skips the (sub)test that needs a key of spec when
// this test process runs in FIPS 140-3 mode and Trent refuses that spec
// there by design (TestFIPSMode and TestMLKEMFIPSMode check the refusal).
func skipSpecInFIPSMode(t testing.TB, spec types.KeySpec) {
	t.Helper()
	if !fips140.Enabled() {
		return
	}
	switch spec {
	case types.KeySpecEccSecgP256k1, types.KeySpecMlDsa44, types.KeySpecMlDsa65, types.KeySpecMlDsa87, types.KeySpecMlKem512:
		t.Skipf("FIPS 140-3 mode refuses %s keys by design", spec)
	}
}
