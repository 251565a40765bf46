package kms

import (
	"bytes"
	"testing"

	"github.com/trent-kms/trent/internal/awsproto"
)

// TestCloseZeroesCachedMaterial: after Close, the backing keys the cache
// held are zeros in place (whoever still had the slice sees zeros), the
// parsed private keys are dropped, and nothing is cached.
func TestCloseZeroesCachedMaterial(t *testing.T) {
	n := newTestNode(t)
	sym := n.createKey(t)
	spec, usage := "ECC_NIST_P256", UsageSignVerify
	out, err := n.run(t.Context(), "CreateKey", &awsproto.CreateKeyInput{KeySpec: &spec, KeyUsage: &usage})
	if err != nil {
		t.Fatal(err)
	}
	ecc := out.(*awsproto.KeyMetadataOutput).KeyMetadata.KeyId
	if _, err := n.run(t.Context(), "Encrypt", &awsproto.EncryptInput{KeyId: &sym, Plaintext: []byte("p")}); err != nil {
		t.Fatal(err)
	}
	var held []*backing
	for _, id := range []string{sym, ecc} {
		v, ok := n.keys.Load(id)
		if !ok {
			t.Fatalf("key %s is not cached: the test would check nothing", id)
		}
		for _, b := range v.versions {
			if bytes.Equal(b.material, make([]byte, len(b.material))) {
				t.Fatal("cached material is already zero")
			}
			held = append(held, b)
		}
	}
	n.Close()
	for _, b := range held {
		if !bytes.Equal(b.material, make([]byte, len(b.material))) || b.private != nil {
			t.Errorf("after Close, version %d still holds material (private key dropped: %v)", b.version, b.private == nil)
		}
	}
	count := 0
	n.keys.Range(func(string, *keyEntry) bool { count++; return true })
	if count != 0 {
		t.Errorf("%d keys still cached after Close", count)
	}
}
