package kms

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/trent-kms/trent/internal/ids"
)

// Grant tokens. AWS describes a grant token as an opaque, non-secret value
// that names a grant, so that the grantee can use the grant before it is
// visible everywhere. Trent's grants are visible at once on the node that
// made them; a token still counts its grant on a node whose cache has not
// heard of it yet (grantAllows reads it from the store), and RetireGrant
// takes one to name a grant.
//
// A token is unpadded base64url of
//
//	version (1) ‖ key id (16, the UUID's bytes) ‖ grant id (32) ‖ nonce (16)
//
// A multi-Region key's token has version 2, its key id field holding the
// 16 bytes of the hex digits after "mrk-"; it names the key in the region
// where the token is used.
//
// The nonce makes every token of a grant different, as AWS's are (a retried
// CreateGrant returns a new token for the same grant). Nothing in a token
// is trusted: it only names a grant, and the grant, read from the store,
// decides what it allows and to whom.

const (
	grantTokenVersion = 1
	grantTokenRawLen  = 1 + 16 + 32 + 16
	grantTokenLen     = (grantTokenRawLen*8 + 5) / 6 // base64 without padding
)

// grantTokenVersionMRK is the version of a multi-Region key's tokens.
const grantTokenVersionMRK = 2

// grantToken is what a grant token names.
type grantToken struct {
	keyID   string // the key's id, a lower-case UUID
	grantID string // 64 lower-case hex digits
}

var errGrantToken = errors.New("malformed grant token")

// mintGrantToken returns a new token naming grant grantID of key keyID.
func mintGrantToken(keyID, grantID string) (string, error) {
	var raw [grantTokenRawLen]byte
	raw[0] = grantTokenVersion
	if isMRKID(keyID) {
		raw[0] = grantTokenVersionMRK
		if _, err := hex.Decode(raw[1:17], []byte(keyID[len(mrkPrefix):])); err != nil {
			return "", fmt.Errorf("grant token: key id %q: %w", keyID, err)
		}
	} else if err := uuidBytes(raw[1:17], keyID); err != nil {
		return "", fmt.Errorf("grant token: key id %q: %w", keyID, err)
	}
	if len(grantID) != 64 {
		return "", fmt.Errorf("grant token: grant id %q is not 64 hex digits", grantID)
	}
	if _, err := hex.Decode(raw[17:49], []byte(grantID)); err != nil {
		return "", fmt.Errorf("grant token: grant id %q: %w", grantID, err)
	}
	if _, err := rand.Read(raw[49:]); err != nil {
		return "", fmt.Errorf("grant token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(raw[:]), nil
}

// parseGrantToken reads a token. Any input that mintGrantToken could not
// have made is errGrantToken; it never panics, whatever it is given.
func parseGrantToken(s string) (grantToken, error) {
	if len(s) != grantTokenLen {
		return grantToken{}, errGrantToken
	}
	var raw [grantTokenRawLen]byte
	n, err := base64.RawURLEncoding.Strict().Decode(raw[:], []byte(s))
	if err != nil || n != grantTokenRawLen || raw[0] != grantTokenVersion && raw[0] != grantTokenVersionMRK {
		return grantToken{}, errGrantToken
	}
	keyID := ids.FormatUUID((*[16]byte)(raw[1:17]))
	if raw[0] == grantTokenVersionMRK {
		keyID = mrkPrefix + hex.EncodeToString(raw[1:17])
	}
	return grantToken{keyID: keyID, grantID: hex.EncodeToString(raw[17:49])}, nil
}

// uuidBytes writes the 16 bytes of a UUID in its text form into dst.
func uuidBytes(dst []byte, id string) error {
	if !isUUID(id) {
		return errors.New("not a UUID")
	}
	var compact [32]byte
	j := 0
	for i := 0; i < len(id); i++ {
		if id[i] != '-' {
			compact[j] = id[i]
			j++
		}
	}
	_, err := hex.Decode(dst, compact[:])
	return err
}
