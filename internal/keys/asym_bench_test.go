package keys

import (
	"testing"
)

// BenchmarkSign measures Sign end to end, including parsing the stored
// private material, which every call does.
func BenchmarkSign(b *testing.B) {
	for _, c := range []struct{ spec, alg string }{
		{"RSA_2048", "RSASSA_PSS_SHA_256"},
		{"RSA_4096", "RSASSA_PSS_SHA_256"},
		{"ECC_NIST_P256", "ECDSA_SHA_256"},
		{"ECC_SECG_P256K1", "ECDSA_SHA_256"},
		{"ECC_NIST_EDWARDS25519", "ED25519_SHA_512"},
		{"ML_DSA_65", "ML_DSA_SHAKE_256"},
	} {
		b.Run(c.spec, func(b *testing.B) {
			priv := testKey(b, c.spec)
			msg := make([]byte, 256)
			for b.Loop() {
				if _, err := Sign(c.spec, c.alg, "RAW", priv, msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParsePrivate measures only the parse of the stored material.
func BenchmarkParsePrivate(b *testing.B) {
	for _, spec := range []string{"RSA_2048", "RSA_4096", "ECC_NIST_P256", "ECC_SECG_P256K1", "ML_DSA_65"} {
		b.Run(spec, func(b *testing.B) {
			priv := testKey(b, spec)
			for b.Loop() {
				if _, err := PublicKeyDER(spec, priv); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
