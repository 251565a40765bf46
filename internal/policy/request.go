package policy

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Principal types, spelled as CloudTrail's userIdentity.type spells them.
const (
	PrincipalRoot          = "Root"
	PrincipalIAMUser       = "IAMUser"
	PrincipalAssumedRole   = "AssumedRole"
	PrincipalFederatedUser = "FederatedUser"
)

// Principal is the authenticated caller of a request.
type Principal struct {
	// ARN is the caller's own ARN: arn:aws:iam::ACCOUNT:root,
	// arn:aws:iam::ACCOUNT:user/path/NAME,
	// arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION or
	// arn:aws:sts::ACCOUNT:federated-user/NAME.
	ARN     string
	Account string // the caller's 12-digit account id
	Type    string // PrincipalRoot, PrincipalIAMUser, …
	// UserID is aws:userid: the account id for the root user, AIDA… for a
	// user, AROA…:SESSION for a role session.
	UserID string
	// Username is aws:username: an IAM user's friendly name, "" for any
	// other caller.
	Username string
	// RoleARN is, for an assumed-role session, the role's ARN with its path
	// (arn:aws:iam::ACCOUNT:role/path/NAME). A policy that names the role
	// matches its sessions, and aws:PrincipalArn is this ARN.
	RoleARN string
}

// Request is what a policy is evaluated against: who asks to do what to
// which resource, and the condition keys of the request.
type Request struct {
	Principal Principal
	Action    string // "kms:Encrypt"; matched case-insensitively
	Resource  string // the resource's ARN; matched case-sensitively
	Context   Context
}

// Context holds a request's condition keys. Key names are case-insensitive:
// "kms:EncryptionContext:Dept" and "KMS:encryptioncontext:dept" are one key,
// which is also how AWS treats the key part of kms:EncryptionContext:<key>
// and of aws:ResourceTag/<key>, aws:RequestTag/<key> and
// aws:PrincipalTag/<key>. Values are case-sensitive.
//
// A key is absent until set. A multivalued key set with no values is present
// and empty, which is not the same as absent: an …IfExists operator checks
// it, where it would skip an absent key.
//
// Some keys need not be set, because Evaluate derives them when they are
// absent: aws:CurrentTime and aws:EpochTime from Time, and aws:username,
// aws:userid, aws:PrincipalArn, aws:PrincipalAccount and aws:PrincipalType
// from the request's Principal. A key that is set wins over the derived one.
//
// The zero Context is empty and ready to use. Set and SetMulti do not
// allocate once Grow has made room, so a caller can build one per request
// cheaply; a Context must not be changed while it is being evaluated.
type Context struct {
	// Time is when the request was made: the value of aws:CurrentTime and
	// aws:EpochTime. The zero Time leaves both keys absent. This package
	// never reads a clock.
	Time time.Time

	entries []entry
}

type entry struct {
	name  string // lower case
	one   string // the value of a single-valued key
	vals  []string
	multi bool
	// amb: a single-valued key that several request values fold onto
	// (Add); vals holds each distinct value. See condition.eval.
	amb bool
}

// Set sets the single-valued key to value, replacing any earlier value.
func (c *Context) Set(key, value string) {
	c.put(entry{name: lowerKey(key), one: value})
}

// Add sets the single-valued key to value, like Set, for a caller that
// derives key names from request data whose case matters where the key
// name's does not: kms:EncryptionContext:<k> from an encryption context,
// aws:RequestTag/<k> and aws:ResourceTag/<k> from tags. There {"purpose":
// "admin", "Purpose": "x"} yields two values for one key, and keeping only
// the last written would let map order, or a caller adding a case variant,
// pick the value a Deny sees. So when key already holds a value from Add,
// Add keeps both: the key becomes ambiguous, and a condition on it must
// hold under every one of its values to make an Allow apply and under any
// one to make a Deny apply (see condition.eval). Adding a value the key
// already holds changes nothing. Set on an ambiguous key replaces it.
func (c *Context) Add(key, value string) {
	name := lowerKey(key)
	old := c.find(name)
	switch {
	case old == nil:
		c.entries = append(c.entries, entry{name: name, one: value})
	case old.multi:
		*old = entry{name: name, one: value}
	case old.amb:
		if !slices.Contains(old.vals, value) {
			old.vals = append(old.vals, value)
		}
	case old.one != value:
		old.vals = []string{old.one, value}
		old.amb = true
	}
}

// SetMulti sets the multivalued key (aws:TagKeys, kms:EncryptionContextKeys,
// kms:GrantOperations, …) to values, which may be empty. The Context keeps
// values; the caller must not change it afterwards.
func (c *Context) SetMulti(key string, values []string) {
	if values == nil {
		values = []string{}
	}
	c.put(entry{name: lowerKey(key), vals: values, multi: true})
}

// Grow makes room for n more keys.
func (c *Context) Grow(n int) {
	c.entries = slices.Grow(c.entries, n)
}

// Reset empties c and clears Time, keeping the room it has, so a caller
// can reuse one Context for many requests.
func (c *Context) Reset() {
	clear(c.entries) // drop references to the old values
	c.entries = c.entries[:0]
	c.Time = time.Time{}
}

// Get returns the values of a key that was set, and whether it was set.
// It does not derive keys.
func (c *Context) Get(key string) (values []string, ok bool) {
	e := c.find(lowerKey(key))
	if e == nil {
		return nil, false
	}
	if e.multi || e.amb {
		return e.vals, true
	}
	return []string{e.one}, true
}

func (c *Context) put(e entry) {
	if old := c.find(e.name); old != nil {
		*old = e
		return
	}
	c.entries = append(c.entries, e)
}

func (c *Context) find(name string) *entry {
	for i := range c.entries {
		if c.entries[i].name == name {
			return &c.entries[i]
		}
	}
	return nil
}

// lowerKey folds a condition key name. Names are nearly always ASCII and
// often already lower case (the authz layer writes its well-known keys that
// way), so the common case returns key itself without allocating.
func lowerKey(key string) string {
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c >= 0x80 || 'A' <= c && c <= 'Z' {
			return strings.ToLower(key)
		}
	}
	return key
}

// Kinds of derived time value.
const (
	timeNone = iota
	timeCurrent
	timeEpoch
)

// values is a key's values as one condition sees them: a set key, a
// derived key, or (present false) nothing.
type values struct {
	one   string
	list  []string
	multi bool
	amb   bool  // an ambiguous single-valued key (Context.Add): list holds its values
	time  uint8 // timeCurrent or timeEpoch: the value is t, formatted on demand
	t     time.Time
}

func (v *values) len() int {
	if v.multi || v.amb {
		return len(v.list)
	}
	return 1
}

// at returns the i'th value as a string. A derived time is formatted as AWS
// shows it: ISO 8601 in UTC for aws:CurrentTime, seconds for aws:EpochTime.
func (v *values) at(i int) string {
	switch {
	case v.multi || v.amb:
		return v.list[i]
	case v.time == timeCurrent:
		return v.t.UTC().Format("2006-01-02T15:04:05Z")
	case v.time == timeEpoch:
		return strconv.FormatInt(v.t.Unix(), 10)
	}
	return v.one
}

// lookup finds the lower-case key name in the request: set keys first,
// then the keys Context derives.
func (r *Request) lookup(name string) (values, bool) {
	if e := r.Context.find(name); e != nil {
		return values{one: e.one, list: e.vals, multi: e.multi, amb: e.amb}, true
	}
	p := &r.Principal
	single := func(s string) (values, bool) { return values{one: s}, s != "" }
	switch name {
	case "aws:currenttime", "aws:epochtime":
		if r.Context.Time.IsZero() {
			return values{}, false
		}
		kind := uint8(timeCurrent)
		if name == "aws:epochtime" {
			kind = timeEpoch
		}
		return values{time: kind, t: r.Context.Time}, true
	case "aws:username":
		if p.Type != PrincipalIAMUser {
			return values{}, false
		}
		return single(p.Username)
	case "aws:userid":
		return single(p.UserID)
	case "aws:principalarn":
		// IAM User Guide, global condition keys: for a role session
		// aws:PrincipalArn is the role's ARN, not the session's.
		if p.Type == PrincipalAssumedRole && p.RoleARN != "" {
			return single(p.RoleARN)
		}
		return single(p.ARN)
	case "aws:principalaccount":
		return single(p.Account)
	case "aws:principaltype":
		return single(principalType(p.Type))
	}
	return values{}, false
}

// principalType maps a CloudTrail principal type to aws:PrincipalType's
// values (IAM User Guide, "Request information that you can use for policy
// variables").
func principalType(t string) string {
	switch t {
	case PrincipalRoot:
		return "Account"
	case PrincipalIAMUser:
		return "User"
	case PrincipalAssumedRole, PrincipalFederatedUser:
		return t
	}
	return ""
}
