package keys

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
)

// hmacParams is one HMAC key spec.
type hmacParams struct {
	spec      string
	algorithm string
	size      int // generated key size = hash size
	maxKey    int // the hash's block size
	newHash   func() hash.Hash
}

var hmacSets = []*hmacParams{
	{"HMAC_224", "HMAC_SHA_224", 28, 64, sha256.New224},
	{"HMAC_256", "HMAC_SHA_256", 32, 64, sha256.New},
	{"HMAC_384", "HMAC_SHA_384", 48, 128, sha512.New384},
	{"HMAC_512", "HMAC_SHA_512", 64, 128, sha512.New},
}

// macSetup checks the spec, the algorithm and the key's length.
func macSetup(spec, algorithm string, key []byte) (*hmacParams, error) {
	s, err := lookupSpec(spec)
	if err != nil {
		return nil, err
	}
	if s.family != famHMAC {
		return nil, fmt.Errorf("%w: %s is not an HMAC key spec", ErrUnsupportedSpec, spec)
	}
	p := s.hmac
	if algorithm != p.algorithm {
		return nil, fmt.Errorf("%w: %s with %s", ErrAlgorithmSpecMismatch, algorithm, spec)
	}
	if len(key) < p.size || len(key) > p.maxKey {
		return nil, fmt.Errorf("%w: %s key of %d bytes", ErrInvalidKeyMaterial, spec, len(key))
	}
	return p, nil
}

// GenerateMac returns HMAC (RFC 2104) of message under key with the hash of an
// HMAC_224/256/384/512 key spec. algorithm must be the spec's one
// HMAC_SHA_224/256/384/512 algorithm, else ErrAlgorithmSpecMismatch. The key
// may be from the hash size to the hash's block size long (28–64, 32–64,
// 48–128, 64–128 bytes) — the range we believe AWS accepts for imported HMAC
// key material (not confirmed against AWS's documentation); GeneratePrivate
// makes hash-size keys. Shorter or longer keys are ErrInvalidKeyMaterial.
func GenerateMac(spec, algorithm string, key, message []byte) ([]byte, error) {
	p, err := macSetup(spec, algorithm, key)
	if err != nil {
		return nil, err
	}
	if p.spec == "HMAC_256" {
		return hmacSHA256(key, message), nil
	}
	m := hmac.New(p.newHash, key)
	m.Write(message)
	return m.Sum(nil), nil
}

// VerifyMac recomputes the MAC and compares it with mac in constant time:
// nil if they are equal, ErrInvalidMac otherwise (including a mac of the wrong
// length). Spec, algorithm and key errors are as for GenerateMac.
func VerifyMac(spec, algorithm string, key, message, mac []byte) error {
	want, err := GenerateMac(spec, algorithm, key, message)
	if err != nil {
		return err
	}
	if !hmac.Equal(want, mac) {
		return ErrInvalidMac
	}
	return nil
}
