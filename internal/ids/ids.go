// Package ids makes the random identifiers Trent hands out in the forms AWS
// uses: version-4 UUIDs for key ids and request ids; and checks the one
// form every layer checks, an account id.
package ids

import (
	"crypto/rand"
	"encoding/hex"
)

// NewUUID returns a random version-4 UUID in canonical lowercase form.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails; it crashes the program instead.
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return FormatUUID(&b)
}

// FormatUUID returns the canonical lowercase form of a UUID's 16 bytes.
func FormatUUID(u *[16]byte) string {
	var buf [36]byte
	hex.Encode(buf[0:8], u[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], u[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], u[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], u[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:36], u[10:16])
	return string(buf[:])
}

// IsAccountID reports whether s is an AWS account id: 12 ASCII digits.
func IsAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
