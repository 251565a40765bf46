package keys

import (
	"bytes"
	"crypto/sha3"
	"testing"
)

// externalMu computes ML-DSA's message representative as FIPS 204
// (Algorithm 7, line 6) and AWS's EXTERNAL_MU describe it, for an empty
// context: μ = SHAKE256(tr ‖ M′, 64) with tr = SHAKE256(pk, 64) and
// M′ = 0x00 ‖ len(ctx) ‖ ctx ‖ M.
func externalMu(pk, msg []byte) []byte {
	tr := sha3.SumSHAKE256(pk, 64)
	in := append(append(tr, 0x00, 0x00), msg...)
	return sha3.SumSHAKE256(in, 64)
}

// TestMLDSAExternalMuFormula pins the μ formula that the EXTERNAL_MU tests
// (here and in internal/e2e) compute to Wycheproof's vectors that give
// both the message and μ, so a test of EXTERNAL_MU cannot pass with a
// wrong μ on both sides.
func TestMLDSAExternalMuFormula(t *testing.T) {
	type group struct {
		PublicKey string           `json:"publicKey"`
		Tests     []wycheproofTest `json:"tests"`
	}
	checked := 0
	for _, file := range []string{"mldsa_44_sign_seed_test", "mldsa_65_sign_seed_test", "mldsa_87_sign_seed_test"} {
		for _, g := range loadWycheproof[group](t, file) {
			for _, tc := range g.Tests {
				if tc.Msg == nil || tc.Mu == nil || g.PublicKey == "" {
					continue
				}
				if got := externalMu(mustHex(t, g.PublicKey), mustHex(t, *tc.Msg)); !bytes.Equal(got, mustHex(t, *tc.Mu)) {
					t.Errorf("%s tcId %d: μ = %x, want %s", file, tc.TcID, got, *tc.Mu)
				}
				checked++
			}
		}
	}
	if checked < 3 {
		t.Fatalf("only %d vectors give both a message and μ", checked)
	}
}
