package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/trent-kms/trent/internal/ids"
)

// The symmetric ciphertext blob, format version 1:
//
//	offset  size  field
//	     0     1  format version, 0x01
//	     1    16  key id: the KMS key's UUID, as 16 bytes
//	    17     4  backing-key version, uint32 big-endian
//	    21    32  salt for the per-message key
//	    53    12  AES-GCM nonce
//	    65     n  AES-GCM ciphertext (n = len(plaintext))
//	  65+n    16  AES-GCM tag
//
// Format version 2 is the same layout for a multi-Region key: its key id
// field holds the 16 bytes of the 32 hex digits after "mrk-". The version
// byte, not the bytes of the id, says which kind of id it is, and being in
// the authenticated header it cannot be switched.
//
// The per-message key is HKDF-SHA256(secret = backing key, salt = salt,
// info = "trent/symmetric/v1"), 32 bytes. The AEAD's additional data is the
// 53 header bytes followed by CanonicalContext(encryption context), so the
// header cannot be edited and the context must match exactly.
const (
	blobVersion1 = 0x01
	blobVersion2 = 0x02 // a multi-Region key's id

	offKeyID          = 1
	offBackingVersion = offKeyID + 16
	offSalt           = offBackingVersion + 4
	headerLen         = offSalt + saltLen

	saltLen  = 32
	nonceLen = 12
	tagLen   = 16

	hkdfInfo = "trent/symmetric/v1"

	// Overhead is the number of bytes EncryptSymmetric adds to the
	// plaintext: header (1+16+4+32), nonce (12) and tag (16). It is also the
	// length of the shortest well-formed blob (empty plaintext).
	Overhead = headerLen + nonceLen + tagLen
)

// ErrInvalidCiphertext reports a ciphertext blob that is malformed, of an
// unknown format version, or fails authentication (wrong backing key, wrong
// encryption context, or any modification). The reasons are deliberately not
// distinguishable by errors.Is: the wire layer maps all of them to
// InvalidCiphertextException.
var ErrInvalidCiphertext = errors.New("keys: invalid ciphertext")

// hkdfInfoBytes is hkdfInfo as the HKDF's input.
var hkdfInfoBytes = []byte(hkdfInfo)

var errBackingKeySize = fmt.Errorf("keys: backing key must be %d bytes", SymmetricKeySize)

// BlobHeader is the unencrypted header of a ciphertext blob: which key and
// which backing-key version encrypted it.
type BlobHeader struct {
	KeyID   string // the KMS key's id, a canonical lowercase UUID or "mrk-" and 32 lowercase hex
	Version uint32 // the backing-key version
}

// ParseBlob reads the header of a ciphertext blob without decrypting it, so
// Decrypt can find the key when the caller gave no KeyId. The header is not
// authenticated until DecryptSymmetric succeeds. Any blob that is not
// well-formed — wrong format version, or shorter than Overhead — yields an
// error wrapping ErrInvalidCiphertext.
func ParseBlob(blob []byte) (BlobHeader, error) {
	if err := checkBlob(blob); err != nil {
		return BlobHeader{}, err
	}
	id := [16]byte(blob[offKeyID:offBackingVersion])
	keyID := ""
	if blob[0] == blobVersion2 {
		keyID = formatMRK(&id)
	} else {
		keyID = ids.FormatUUID(&id)
	}
	return BlobHeader{
		KeyID:   keyID,
		Version: binary.BigEndian.Uint32(blob[offBackingVersion:offSalt]),
	}, nil
}

// checkBlob reports whether blob is well-formed. The format version is read
// from its fixed position and must be one this package knows: it is never
// guessed from the rest of the bytes.
func checkBlob(blob []byte) error {
	if len(blob) == 0 {
		return fmt.Errorf("%w: empty", ErrInvalidCiphertext)
	}
	if blob[0] != blobVersion1 && blob[0] != blobVersion2 {
		return fmt.Errorf("%w: unknown format version 0x%02x", ErrInvalidCiphertext, blob[0])
	}
	if len(blob) < Overhead {
		return fmt.Errorf("%w: %d bytes is too short", ErrInvalidCiphertext, len(blob))
	}
	return nil
}

// EncryptSymmetric encrypts plaintext under the backing key (version version
// of the KMS key keyID), bound to the encryption context ec, and returns the
// ciphertext blob (len(plaintext)+Overhead bytes). keyID must be a canonical
// lowercase UUID. backing must be SymmetricKeySize bytes; it is not retained.
// Plaintext size limits are the caller's (AWS allows 1 to 4096 bytes).
func EncryptSymmetric(backing []byte, keyID string, version uint32, plaintext []byte, ec map[string]string) ([]byte, error) {
	return encryptSymmetric(rand.Reader, backing, keyID, version, plaintext, ec)
}

// encryptSymmetric is EncryptSymmetric with the salt drawn from random, so
// tests can fix it. The GCM nonce is always drawn from crypto/rand by
// cipher.NewGCMWithRandomNonce.
func encryptSymmetric(random io.Reader, backing []byte, keyID string, version uint32, plaintext []byte, ec map[string]string) ([]byte, error) {
	if len(backing) != SymmetricKeySize {
		return nil, errBackingKeySize
	}
	format := byte(blobVersion1)
	id, ok := parseUUID(keyID)
	if !ok {
		if id, ok = parseMRK(keyID); !ok {
			return nil, fmt.Errorf("keys: key id %q is not a canonical lowercase UUID or multi-Region key id", keyID)
		}
		format = blobVersion2
	}

	out := make([]byte, headerLen, len(plaintext)+Overhead)
	out[0] = format
	copy(out[offKeyID:], id[:])
	binary.BigEndian.PutUint32(out[offBackingVersion:], version)
	salt := out[offSalt:headerLen]
	if _, err := io.ReadFull(random, salt); err != nil {
		return nil, fmt.Errorf("keys: generating salt: %w", err)
	}

	aead, err := messageAEAD(backing, salt)
	if err != nil {
		return nil, err
	}
	aad := buildAAD(out[:headerLen], ec)
	out = aead.Seal(out, nil, plaintext, *aad)
	putAAD(aad)
	return out, nil
}

// DecryptSymmetric authenticates and decrypts a blob made by EncryptSymmetric
// with the same backing key and an equal encryption context (nil and empty
// are equal). A blob that is malformed, was made under another key or
// context, or was modified in any way yields an error wrapping
// ErrInvalidCiphertext, and no plaintext. The caller is expected to have
// chosen backing from the blob's header (ParseBlob); DecryptSymmetric does
// not check that the header names the key the caller meant — the header is
// authenticated, so a mismatched key simply fails.
func DecryptSymmetric(backing []byte, blob []byte, ec map[string]string) ([]byte, error) {
	if len(backing) != SymmetricKeySize {
		return nil, errBackingKeySize
	}
	if err := checkBlob(blob); err != nil {
		return nil, err
	}
	aead, err := messageAEAD(backing, blob[offSalt:headerLen])
	if err != nil {
		return nil, err
	}
	aad := buildAAD(blob[:headerLen], ec)
	plaintext, err := aead.Open(make([]byte, 0, len(blob)-Overhead), nil, blob[headerLen:], *aad)
	putAAD(aad)
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed", ErrInvalidCiphertext)
	}
	return plaintext, nil
}

// messageAEAD derives the per-message key from the backing key and salt and
// returns AES-256-GCM under it, with random nonces. The derived key is zeroed
// before returning; its AES key schedule lives inside crypto/aes, which
// offers no way to erase it, until the garbage collector reclaims it.
func messageAEAD(backing, salt []byte) (cipher.AEAD, error) {
	var k [32]byte
	if err := deriveMessageKey(&k, backing, salt, hkdfInfoBytes); err != nil {
		return nil, fmt.Errorf("keys: deriving message key: %w", err)
	}
	block, err := aes.NewCipher(k[:])
	clear(k[:])
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return aead, nil
}

// AAD buffers are pooled: an interface method call (cipher.AEAD) makes its
// arguments escape, so a stack buffer would be heap-allocated on every call.
// Buffers that grew past maxPooledAAD (a huge encryption context) are dropped
// rather than kept alive.
const (
	initialAAD   = 512
	maxPooledAAD = 16 << 10
)

var aadPool = sync.Pool{New: func() any {
	b := make([]byte, 0, initialAAD)
	return &b
}}

// buildAAD returns a pooled buffer holding header ‖ CanonicalContext(ec).
// Return it with putAAD once the AEAD call is done.
func buildAAD(header []byte, ec map[string]string) *[]byte {
	p := aadPool.Get().(*[]byte)
	b := append((*p)[:0], header...)
	*p = appendCanonicalContext(b, ec)
	return p
}

func putAAD(p *[]byte) {
	if cap(*p) > maxPooledAAD {
		return
	}
	*p = (*p)[:0]
	aadPool.Put(p)
}

// parseMRK parses a multi-Region key id, "mrk-" and 32 lowercase hex
// digits, into the 16 bytes the hex digits stand for.
func parseMRK(s string) (id [16]byte, ok bool) {
	const prefix = "mrk-"
	if len(s) != len(prefix)+32 || s[:len(prefix)] != prefix {
		return id, false
	}
	for i := len(prefix); i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return id, false
		}
	}
	if _, err := hex.Decode(id[:], []byte(s[len(prefix):])); err != nil {
		return id, false
	}
	return id, true
}

// formatMRK is the multi-Region key id whose hex digits are id.
func formatMRK(id *[16]byte) string {
	return "mrk-" + hex.EncodeToString(id[:])
}
