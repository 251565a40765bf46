//go:build !race

package keys

import "testing"

// TestContextCostsNoAllocations checks the hot path's own allocations do not
// grow with the encryption context: the AAD buffer is pooled and the keys are
// sorted on the stack. (Most allocations per call are inside crypto/hkdf and
// crypto/aes; their count is not asserted, so a Go upgrade cannot break this.)
// Not run under -race, whose sync.Pool drops items at random.
func TestContextCostsNoAllocations(t *testing.T) {
	backing := testBacking(t)
	pt := make([]byte, 32)
	ec := map[string]string{"tenant": "acme", "purpose": "test", "aws:s3:arn": "arn:aws:s3:::bucket/key"}
	allocs := func(ec map[string]string) (enc, dec float64) {
		blob, err := EncryptSymmetric(backing, testKeyID, 1, pt, ec)
		if err != nil {
			t.Fatal(err)
		}
		enc = testing.AllocsPerRun(200, func() { EncryptSymmetric(backing, testKeyID, 1, pt, ec) })
		dec = testing.AllocsPerRun(200, func() { DecryptSymmetric(backing, blob, ec) })
		return enc, dec
	}
	encNone, decNone := allocs(nil)
	encCtx, decCtx := allocs(ec)
	if encCtx > encNone || decCtx > decNone {
		t.Fatalf("allocations per call: encrypt %v without context, %v with; decrypt %v, %v", encNone, encCtx, decNone, decCtx)
	}
	t.Logf("allocations per call: encrypt %v, decrypt %v", encCtx, decCtx)
}

// TestMessageKeyDerivationAllocatesNothing keeps the per-message key
// derivation allocation-free outside FIPS mode.
func TestMessageKeyDerivationAllocatesNothing(t *testing.T) {
	backing, salt := make([]byte, 32), make([]byte, 32)
	withFastHMAC(t, true, func() {
		var k [32]byte
		if n := testing.AllocsPerRun(100, func() { _ = deriveMessageKey(&k, backing, salt, hkdfInfoBytes) }); n != 0 {
			t.Errorf("deriveMessageKey: %v allocations per call", n)
		}
	})
}
