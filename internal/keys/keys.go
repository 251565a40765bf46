// Package keys owns Trent's key material and the crypto of every key spec:
// generating backing-key material and KeyMaterialIds, the canonical encoding of
// an encryption context, the symmetric ciphertext blob (header, per-message
// HKDF key, AES-256-GCM), and the asymmetric and HMAC operations (sign,
// verify, RSA-OAEP, MACs, ECDH, data key pairs) with their DER formats.
//
// Backing-key material is plaintext secret: this package takes it as an argument
// and never stores or logs it, and it must never be returned to a caller outside
// internal/kms (which unwraps it with internal/seal, caches it in memory and
// hands it only to the functions here). Secret results are: NewSymmetricMaterial's
// and GeneratePrivate's material, a parsed Private, DataKeyPair's private key
// and DeriveSharedSecret's secret; decrypted plaintext is returned only to the
// caller that supplied the ciphertext, after authentication succeeds.
//
// Every function here is safe for concurrent use and takes no locks; the hot
// path (EncryptSymmetric, DecryptSymmetric) allocates one output buffer plus
// what crypto/hkdf and crypto/aes allocate internally.
package keys

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// SymmetricKeySize is the size in bytes of a SYMMETRIC_DEFAULT backing key.
const SymmetricKeySize = 32

// NewSymmetricMaterial returns SymmetricKeySize fresh random bytes from
// crypto/rand, the material of one backing-key version. The caller owns the
// slice: it must wrap it with the root key before it is stored and zero it
// when done.
func NewSymmetricMaterial() ([]byte, error) {
	b := make([]byte, SymmetricKeySize)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("keys: generating key material: %w", err)
	}
	return b, nil
}

// NewMaterialID returns a new KeyMaterialId: 64 lowercase hex digits encoding
// 32 random bytes, the form AWS KMS uses. It identifies material; it is not
// derived from it.
func NewMaterialID() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("keys: generating key material id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// uuidLen is the length of a UUID in its canonical textual form.
const uuidLen = 36

// parseUUID parses the canonical form of a UUID: 8-4-4-4-12 lowercase hex
// digits. Anything else — upper case, braces, a "urn:uuid:" prefix — is
// refused, so one key has exactly one spelling. It does not check the UUID's
// version or variant bits: the blob stores whatever 16 bytes the key id names.
func parseUUID(s string) (u [16]byte, ok bool) {
	if len(s) != uuidLen || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < uuidLen; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
			continue
		}
		hi, ok1 := lowerHex(s[i])
		lo, ok2 := lowerHex(s[i+1])
		if !ok1 || !ok2 {
			return [16]byte{}, false
		}
		u[j] = hi<<4 | lo
		j++
		i += 2
	}
	return u, true
}

func lowerHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
