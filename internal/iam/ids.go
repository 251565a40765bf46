package iam

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/trent-kms/trent/internal/store"
)

// Identifiers as AWS makes them.
//
// Unique IDs of users, groups, roles and managed policies are a four-letter
// prefix and 17 characters of base32 (A–Z, 2–7), 21 in all, as AWS's are
// ("AIDACKCEVSQ6C2EXAMPLE"). Access key IDs are a prefix (AKIA for long-term
// keys, ASIA for temporary ones) and 16 base32 characters, which encode 10
// bytes. Their first 6 bytes carry the account id in bits 7–46, the layout
// AWS has used since 2019 and which GetAccessKeyInfo decodes: so the account
// of a temporary key, of which Trent stores nothing, can still be told.
const (
	prefixUser      = "AIDA"
	prefixGroup     = "AGPA"
	prefixRole      = "AROA"
	prefixPolicy    = "ANPA"
	prefixLongTerm  = "AKIA"
	prefixTemporary = "ASIA"

	uniqueIDLength  = 21
	accessKeyLength = 20
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// newUniqueID returns prefix and 17 random base32 characters.
func newUniqueID(prefix string) string {
	var b [11]byte // 88 bits: 17 base32 characters need 85
	mustRandom(b[:])
	return prefix + b32.EncodeToString(b[:])[:uniqueIDLength-len(prefix)]
}

// newAccessKeyID returns an access key id of prefix AKIA or ASIA that
// encodes account, a 12-digit id.
func newAccessKeyID(prefix, account string) string {
	n, err := strconv.ParseUint(account, 10, 64)
	if err != nil || len(account) != 12 {
		// Every caller passes a stored account id; a key that decodes to
		// account 0 is still unique, just not decodable.
		n = 0
	}
	var b [10]byte
	mustRandom(b[:])
	// Bits 7..46 of the first 6 bytes hold the account; bit 47 and bits
	// 0..6 stay random, as do the last 4 bytes.
	hi := binary.BigEndian.Uint64(append([]byte{0, 0}, b[:6]...))
	hi = hi&^0x7fffffffff80 | (n<<7)&0x7fffffffff80
	var six [8]byte
	binary.BigEndian.PutUint64(six[:], hi)
	copy(b[:6], six[2:])
	return prefix + b32.EncodeToString(b[:])
}

// accountOfAccessKeyID decodes the account from an access key id in the
// layout newAccessKeyID writes (and AWS's since 2019). ok is false for an
// id that is not a prefix and 16 base32 characters.
func accountOfAccessKeyID(id string) (account string, ok bool) {
	if len(id) != accessKeyLength {
		return "", false
	}
	b, err := b32.DecodeString(id[4:])
	if err != nil || len(b) != 10 {
		return "", false
	}
	hi := binary.BigEndian.Uint64(append([]byte{0, 0}, b[:6]...))
	return fmt.Sprintf("%012d", (hi&0x7fffffffff80)>>7), true
}

// newSecret returns a secret access key: 40 characters of base64, as AWS's.
func newSecret() string {
	var s [30]byte
	mustRandom(s[:])
	return base64.StdEncoding.EncodeToString(s[:])
}

// newAccountID returns 12 random decimal digits.
func newAccountID() string {
	var b [8]byte
	mustRandom(b[:])
	return fmt.Sprintf("%012d", binary.BigEndian.Uint64(b[:])%1_000_000_000_000)
}

// mustRandom fills b from crypto/rand, which never fails on the platforms
// Go supports (since Go 1.24 it crashes the program rather than return an
// error).
func mustRandom(b []byte) {
	_, _ = rand.Read(b)
}

// ARNs. Trent serves the aws partition only.

func entityARN(account string, kind store.EntityKind, path, name string) string {
	return "arn:aws:iam::" + account + ":" + string(kind) + path + name
}

func userARN(account, path, name string) string {
	return entityARN(account, store.KindUser, path, name)
}

func groupARN(account, path, name string) string {
	return entityARN(account, store.KindGroup, path, name)
}

func roleARN(account, path, name string) string {
	return entityARN(account, store.KindRole, path, name)
}

func policyARN(account, path, name string) string {
	return "arn:aws:iam::" + account + ":policy" + path + name
}

// AssumedRoleARN is the ARN of a role session.
func AssumedRoleARN(account, role, session string) string {
	return "arn:aws:sts::" + account + ":assumed-role/" + role + "/" + session
}

// arn is an ARN split into its six fields.
type arn struct {
	partition, service, region, account, resource string
}

// parseARN splits s. ok is false unless s has six colon-separated fields
// with "arn" first and non-empty partition, service and resource, which is
// what IAM and STS call parseable.
func parseARN(s string) (a arn, ok bool) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[2] == "" || parts[5] == "" {
		return arn{}, false
	}
	return arn{partition: parts[1], service: parts[2], region: parts[3], account: parts[4], resource: parts[5]}, true
}

// iamResource splits an IAM resource ("user/path/name") into its type,
// path ("/" or "/…/") and name. ok is false for other shapes.
func iamResource(resource string) (typ, path, name string, ok bool) {
	typ, rest, found := strings.Cut(resource, "/")
	if !found || rest == "" {
		return "", "", "", false
	}
	i := strings.LastIndexByte(rest, '/')
	path, name = "/"+rest[:i+1], rest[i+1:]
	if name == "" {
		return "", "", "", false
	}
	return typ, path, name, true
}
