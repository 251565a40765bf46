package keys

import (
	"fmt"
	"testing"
)

var benchContexts = []struct {
	name string
	ec   map[string]string
}{
	{"noctx", nil},
	{"ctx2", map[string]string{"tenant": "acme", "purpose": "benchmark"}},
}

var benchSizes = []int{32, 4096}

func BenchmarkEncryptSymmetric(b *testing.B) {
	backing := testBacking(b)
	for _, size := range benchSizes {
		for _, c := range benchContexts {
			b.Run(fmt.Sprintf("%dB/%s", size, c.name), func(b *testing.B) {
				pt := make([]byte, size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := EncryptSymmetric(backing, testKeyID, 1, pt, c.ec); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkDecryptSymmetric(b *testing.B) {
	backing := testBacking(b)
	for _, size := range benchSizes {
		for _, c := range benchContexts {
			b.Run(fmt.Sprintf("%dB/%s", size, c.name), func(b *testing.B) {
				blob, err := EncryptSymmetric(backing, testKeyID, 1, make([]byte, size), c.ec)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := DecryptSymmetric(backing, blob, c.ec); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkCanonicalContext(b *testing.B) {
	ec := map[string]string{"tenant": "acme", "purpose": "benchmark", "aws:s3:arn": "arn:aws:s3:::bucket/key"}
	b.ReportAllocs()
	buf := make([]byte, 0, 256)
	for b.Loop() {
		buf = appendCanonicalContext(buf[:0], ec)
	}
}
