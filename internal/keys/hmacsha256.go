package keys

import (
	"crypto/fips140"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"sync"
)

// HMAC-SHA256 and HKDF-SHA256 without allocations, for the per-message key
// of every Encrypt and Decrypt and for GenerateMac with HMAC_256 keys.
//
// crypto/hmac and crypto/hkdf compute the same values but allocate two
// SHA-256 states, their pads and their sums on every call (18 allocations
// per message key, half of an Encrypt's); neither can take a new key
// without a new HMAC. Here the SHA-256 states are pooled and the pads live
// in the pooled value, so a derivation allocates nothing. The outputs are
// bit for bit those of crypto/hmac and crypto/hkdf (TestFastHMACMatchesStdlib,
// RFC 4231 and RFC 5869 vectors), so ciphertexts do not change.
//
// In FIPS 140-3 mode the standard packages are used instead: there HMAC and
// HKDF must be the module's own services, not a construction around its
// SHA-256. fastHMAC is read once at start, as the runtime reads GODEBUG's
// fips140 once.
var fastHMAC = !fips140.Enabled()

// hmacState is a SHA-256 state with room for one HMAC's pads and sums.
type hmacState struct {
	h   hash.Hash
	pad [sha256.BlockSize]byte
	sum [2 * sha256.Size]byte
}

// hkdfCounter1 is HKDF-Expand's first block counter; the one block of a
// 32-byte output needs no other.
var hkdfCounter1 = []byte{1}

var hmacStates = sync.Pool{New: func() any { return &hmacState{h: sha256.New()} }}

// mac sets out to HMAC-SHA256(key, msg1 ‖ msg2 ‖ msg3). Every slice
// handed to the hash escapes (an interface call), so the caller passes
// only slices that already live on the heap: the message parts, and out,
// which is written by copy from s.sum.
func (s *hmacState) mac(out *[sha256.Size]byte, key []byte, msg1, msg2, msg3 []byte) {
	if len(key) > sha256.BlockSize {
		// No caller has such keys (HMAC_256 keys are at most a block);
		// the copy keeps key itself from escaping.
		long := append([]byte(nil), key...)
		s.h.Reset()
		s.h.Write(long)
		clear(long)
		key = s.h.Sum(s.sum[:0])
	}
	// Inner hash: SHA-256((K ⊕ ipad) ‖ message).
	clear(s.pad[:])
	copy(s.pad[:], key)
	for i := range s.pad {
		s.pad[i] ^= 0x36
	}
	s.h.Reset()
	s.h.Write(s.pad[:])
	s.h.Write(msg1)
	s.h.Write(msg2)
	s.h.Write(msg3)
	inner := s.h.Sum(s.sum[sha256.Size:sha256.Size])
	// Outer hash: SHA-256((K ⊕ opad) ‖ inner). 0x36 ⊕ 0x5c turns ipad into opad.
	for i := range s.pad {
		s.pad[i] ^= 0x36 ^ 0x5c
	}
	s.h.Reset()
	s.h.Write(s.pad[:])
	s.h.Write(inner)
	copy(out[:], s.h.Sum(s.sum[:0]))
}

// release erases the key-derived bytes s held and returns it to the pool.
func (s *hmacState) release() {
	clear(s.pad[:])
	clear(s.sum[:])
	s.h.Reset()
	hmacStates.Put(s)
}

// deriveMessageKey sets key to HKDF-SHA256(secret, salt, info), 32 bytes
// (RFC 5869: PRK = HMAC(salt, secret), OKM = HMAC(PRK, info ‖ 0x01)).
func deriveMessageKey(key *[32]byte, secret, salt []byte, info []byte) error {
	if !fastHMAC {
		k, err := hkdf.Key(sha256.New, secret, salt, string(info), len(key))
		if err != nil {
			return err
		}
		copy(key[:], k)
		clear(k)
		return nil
	}
	s := hmacStates.Get().(*hmacState)
	defer s.release()
	var prk [sha256.Size]byte
	if len(salt) == 0 {
		// RFC 5869: an absent salt is HashLen zeros (no caller sends one).
		salt = make([]byte, sha256.Size)
	}
	s.mac(&prk, salt, secret, nil, nil)
	s.mac(key, prk[:], info, hkdfCounter1, nil)
	clear(prk[:])
	return nil
}

// hmacSHA256 returns HMAC-SHA256(key, message) in a new slice.
func hmacSHA256(key, message []byte) []byte {
	if !fastHMAC {
		m := hmac.New(sha256.New, key)
		m.Write(message)
		return m.Sum(nil)
	}
	s := hmacStates.Get().(*hmacState)
	defer s.release()
	var out [sha256.Size]byte
	s.mac(&out, key, message, nil, nil)
	return append([]byte(nil), out[:]...)
}
