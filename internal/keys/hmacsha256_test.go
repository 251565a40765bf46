package keys

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// withFastHMAC runs f with the allocation-free HMAC on or off, restoring
// the process's setting after.
func withFastHMAC(t *testing.T, on bool, f func()) {
	t.Helper()
	was := fastHMAC
	fastHMAC = on
	defer func() { fastHMAC = was }()
	f()
}

// TestFastHMACMatchesStdlib checks the allocation-free HMAC-SHA256 and
// HKDF-SHA256 against crypto/hmac and crypto/hkdf for every key length
// from empty to past a block (longer keys are hashed first) and messages
// around the block boundaries, and both paths against RFC vectors.
func TestFastHMACMatchesStdlib(t *testing.T) {
	buf := make([]byte, 200)
	for i := range buf {
		buf[i] = byte(i*7 + 3)
	}
	for keyLen := 0; keyLen <= 130; keyLen++ {
		for _, msgLen := range []int{0, 1, 31, 32, 55, 56, 63, 64, 65, 119, 120, 200} {
			key, msg := buf[:keyLen], buf[200-msgLen:]
			want := hmac.New(sha256.New, key)
			want.Write(msg)
			var got []byte
			withFastHMAC(t, true, func() { got = hmacSHA256(key, msg) })
			if !bytes.Equal(got, want.Sum(nil)) {
				t.Fatalf("HMAC key %d bytes, message %d: %x, want %x", keyLen, msgLen, got, want.Sum(nil))
			}
		}
		for _, saltLen := range []int{0, 16, 32, 64, 65} {
			secret, salt := buf[:keyLen], buf[100:100+saltLen]
			want, err := hkdf.Key(sha256.New, secret, salt, hkdfInfo, 32)
			if err != nil {
				t.Fatal(err)
			}
			var got [32]byte
			withFastHMAC(t, true, func() {
				if err := deriveMessageKey(&got, secret, salt, hkdfInfoBytes); err != nil {
					t.Fatal(err)
				}
			})
			if !bytes.Equal(got[:], want) {
				t.Fatalf("HKDF secret %d bytes, salt %d: %x, want %x", keyLen, saltLen, got, want)
			}
		}
	}

	unhex := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, fast := range []bool{true, false} {
		withFastHMAC(t, fast, func() {
			// RFC 4231 test case 2.
			got := hmacSHA256([]byte("Jefe"), []byte("what do ya want for nothing?"))
			if want := "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"; hex.EncodeToString(got) != want {
				t.Errorf("fast=%v: RFC 4231 case 2: %x", fast, got)
			}
			// RFC 5869 test case 1, first 32 bytes of its OKM.
			var okm [32]byte
			err := deriveMessageKey(&okm, unhex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
				unhex("000102030405060708090a0b0c"), unhex("f0f1f2f3f4f5f6f7f8f9"))
			if err != nil {
				t.Fatal(err)
			}
			if want := "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"; hex.EncodeToString(okm[:]) != want {
				t.Errorf("fast=%v: RFC 5869 case 1: %x", fast, okm)
			}
		})
	}
}
