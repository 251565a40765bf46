package keys

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"hash"
	"slices"
)

func generateRSA(s *specInfo) ([]byte, error) {
	k, err := rsa.GenerateKey(rand.Reader, s.rsaBits)
	if err != nil {
		return nil, fmt.Errorf("keys: generating %s key: %w", s.name, err)
	}
	return x509.MarshalPKCS8PrivateKey(k)
}

// oaepHash returns the hash (also MGF1's hash) of an RSAES_OAEP algorithm.
func oaepHash(algorithm string) (crypto.Hash, func() hash.Hash, bool) {
	switch algorithm {
	case "RSAES_OAEP_SHA_1":
		return crypto.SHA1, sha1.New, true
	case "RSAES_OAEP_SHA_256":
		return crypto.SHA256, sha256.New, true
	}
	return 0, nil, false
}

// rsaEncryptionSetup checks that spec is an RSA spec and algorithm one of
// its encryption algorithms.
func rsaEncryptionSetup(spec, algorithm string) (*specInfo, crypto.Hash, func() hash.Hash, error) {
	s, err := lookupSpec(spec)
	if err != nil {
		return nil, 0, nil, err
	}
	if s.family != famRSA {
		return nil, 0, nil, fmt.Errorf("%w: %s cannot encrypt", ErrUnsupportedSpec, spec)
	}
	h, newHash, ok := oaepHash(algorithm)
	if !ok || !slices.Contains(s.encryption, algorithm) {
		return nil, 0, nil, fmt.Errorf("%w: %s with %s", ErrAlgorithmSpecMismatch, algorithm, spec)
	}
	return s, h, newHash, nil
}

// MaxPlaintext returns the largest plaintext EncryptRSA accepts for an RSA
// key spec and RSAES_OAEP algorithm: k − 2·hLen − 2 bytes for a k-byte
// modulus (RFC 8017 §7.1.1), which is AWS's table — 214/190 bytes for
// RSA_2048, 342/318 for RSA_3072, 470/446 for RSA_4096 with
// RSAES_OAEP_SHA_1/RSAES_OAEP_SHA_256. It returns 0 for any other spec or
// algorithm.
func MaxPlaintext(spec, algorithm string) int {
	s, h, _, err := rsaEncryptionSetup(spec, algorithm)
	if err != nil {
		return 0
	}
	return s.rsaBits/8 - 2*h.Size() - 2
}

// EncryptRSA encrypts plaintext with the public half of an RSA key using
// RSAES-OAEP (RFC 8017) with the algorithm's hash for both OAEP and MGF1 and
// an empty label, as AWS's Encrypt with RSAES_OAEP_SHA_1/SHA_256. A
// plaintext longer than MaxPlaintext is ErrPlaintextTooLarge.
func EncryptRSA(spec, algorithm string, private, plaintext []byte) ([]byte, error) {
	s, h, _, err := rsaEncryptionSetup(spec, algorithm)
	if err != nil {
		return nil, err
	}
	if max := s.rsaBits/8 - 2*h.Size() - 2; len(plaintext) > max {
		return nil, fmt.Errorf("%w: %s and %s cannot encrypt more than %d bytes", ErrPlaintextTooLarge, algorithm, spec, max)
	}
	p, err := parsePrivate(s, private)
	if err != nil {
		return nil, err
	}
	return p.EncryptRSA(algorithm, plaintext)
}

// DecryptRSA reverses EncryptRSA, and decrypts any RSAES-OAEP ciphertext made
// with the key's public key, the algorithm's hash for OAEP and MGF1, and an
// empty label. The ciphertext must be exactly the modulus size. Any failure —
// wrong length, wrong key, wrong algorithm, bad padding — is
// ErrInvalidCiphertext, with no further detail.
func DecryptRSA(spec, algorithm string, private, ciphertext []byte) ([]byte, error) {
	s, _, _, err := rsaEncryptionSetup(spec, algorithm)
	if err != nil {
		return nil, err
	}
	p, err := parsePrivate(s, private)
	if err != nil {
		return nil, err
	}
	return p.DecryptRSA(algorithm, ciphertext)
}
