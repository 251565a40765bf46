// Package identity holds the authenticated caller of a request as every
// layer after authentication sees it: the SigV4 verifier produces it, the
// authorization layer decides with it, handlers read it, and the audit log
// records it. It is plain data with no behaviour that reaches storage or the
// network, so that any package may import it.
//
// A Caller never holds a secret: the secret access key and the session
// token stay in the verifier and the identity directory.
package identity

import (
	"time"

	"github.com/trent-kms/trent/internal/policy"
)

// Caller is who signed a request.
type Caller struct {
	// Principal is the caller as policies see it: ARN, account, type,
	// aws:userid, aws:username and, for role sessions, the role's ARN.
	Principal policy.Principal
	// AccessKeyID is the access key that signed the request (AKIA… for
	// long-term keys, ASIA… for temporary ones).
	AccessKeyID string
	// Tags are aws:PrincipalTag/<key>: the user's or role's tags, and for a
	// role session its session tags, which win over the role's tags of the
	// same key (compared case-insensitively, as AWS does).
	Tags []Tag
	// Session is set for temporary credentials (STS AssumeRole or
	// GetSessionToken) and nil for long-term access keys.
	Session *Session
}

// Tag is a principal or session tag.
type Tag struct {
	Key   string
	Value string
}

// Session describes temporary credentials.
type Session struct {
	// Name is the RoleSessionName ("" for GetSessionToken credentials).
	Name string
	// RoleARN and RoleID name the assumed role ("" for GetSessionToken).
	RoleARN string
	RoleID  string
	Issued  time.Time
	Expires time.Time
	// Policy is the inline session policy passed to AssumeRole ("" for none)
	// and PolicyARNs the managed session policies; together they limit what
	// the session may do.
	Policy     string
	PolicyARNs []string
	// TransitiveTagKeys are the session tags that pass on to role chaining.
	TransitiveTagKeys []string
	// SourceIdentity is AssumeRole's SourceIdentity, if one was given.
	SourceIdentity string
}

// IsRoot reports whether the caller is an account's root user.
func (c *Caller) IsRoot() bool { return c.Principal.Type == policy.PrincipalRoot }

// Tag returns the value of the principal tag key, compared
// case-insensitively, and whether it is set.
func (c *Caller) Tag(key string) (string, bool) {
	for _, t := range c.Tags {
		if equalFold(t.Key, key) {
			return t.Value, true
		}
	}
	return "", false
}

// equalFold is ASCII case-insensitive equality: tag keys are compared the
// way IAM compares them, without Unicode folding surprises.
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Root returns the caller that an account's root access key names.
func Root(account, accessKeyID string) *Caller {
	return &Caller{
		Principal: policy.Principal{
			ARN: "arn:aws:iam::" + account + ":root", Account: account,
			Type: policy.PrincipalRoot, UserID: account,
		},
		AccessKeyID: accessKeyID,
	}
}
