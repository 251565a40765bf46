package iam

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsquery"
)

// checker collects violations of the API model's constraints and reports
// them as AWS's Coral framework does: "N validation error(s) detected: a; b",
// with code ValidationError.
//
// IAM leaves the offending value out of its messages ("Value at 'status'
// failed to satisfy constraint: Member must satisfy enum value set",
// recorded from AWS in 2025); STS puts it in ("Value 'Session1:2' at
// 'roleSessionName' …", recorded likewise). showValues picks STS's form.
type checker struct {
	errs       []string
	showValues bool
}

func iamChecker() *checker { return &checker{} }
func stsChecker() *checker { return &checker{showValues: true} }

func (c *checker) fail(member, value, constraint string) {
	if c.showValues {
		c.errs = append(c.errs, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must %s", clip(value), member, constraint))
		return
	}
	c.errs = append(c.errs, fmt.Sprintf("Value at '%s' failed to satisfy constraint: Member must %s", member, constraint))
}

// clip bounds how much of a caller's value goes into a message.
func clip(s string) string {
	const max = 256
	if len(s) > max {
		return strings.ToValidUTF8(s[:max], "") + "..."
	}
	return s
}

// err returns the collected violations as one error, or nil.
func (c *checker) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	n := "1 validation error detected: "
	if len(c.errs) > 1 {
		n = strconv.Itoa(len(c.errs)) + " validation errors detected: "
	}
	return apierr.New(awsquery.ValidationError, "%s", n+strings.Join(c.errs, "; "))
}

// length checks a string's length in characters (AWS counts code points).
func (c *checker) length(member string, s *string, min, max int) bool {
	if s == nil {
		return true
	}
	n := utf8.RuneCountInString(*s)
	switch {
	case n < min:
		c.fail(member, *s, "have length greater than or equal to "+strconv.Itoa(min))
		return false
	case n > max:
		c.fail(member, *s, "have length less than or equal to "+strconv.Itoa(max))
		return false
	}
	return true
}

// pattern checks s against a pattern, shown in the message as AWS writes it.
func (c *checker) pattern(member string, s *string, shown string, ok func(string) bool) bool {
	if s == nil || ok(*s) {
		return true
	}
	c.fail(member, *s, "satisfy regular expression pattern: "+shown)
	return false
}

// str checks length, then pattern; Coral reports every constraint a value
// breaks, so a value can earn two messages.
func (c *checker) str(member string, s *string, min, max int, shown string, ok func(string) bool) {
	c.length(member, s, min, max)
	c.pattern(member, s, shown, ok)
}

func (c *checker) intRange(member string, n *int32, min, max int32) {
	if n == nil {
		return
	}
	v := strconv.Itoa(int(*n))
	switch {
	case *n < min:
		c.fail(member, v, "have value greater than or equal to "+strconv.Itoa(int(min)))
	case *n > max:
		c.fail(member, v, "have value less than or equal to "+strconv.Itoa(int(max)))
	}
}

// enum checks s against a set. IAM's message names neither the value nor
// the set (recorded from AWS).
func (c *checker) enum(member string, s *string, set ...string) {
	if s == nil {
		return
	}
	for _, e := range set {
		if *s == e {
			return
		}
	}
	if c.showValues {
		c.fail(member, *s, "satisfy enum value set: ["+strings.Join(set, ", ")+"]")
		return
	}
	c.fail(member, *s, "satisfy enum value set")
}

func (c *checker) listLength(member string, n, max int) {
	if n > max {
		c.fail(member, fmt.Sprint(n), "have length less than or equal to "+strconv.Itoa(max))
	}
}

// The patterns of the IAM and STS API models.

const (
	patName        = `[\w+=,.@-]+`
	patSessionName = `[\w+=,.@-]*`
	patPath        = `(\u002F)|(\u002F[\u0021-\u007E]+\u002F)`
	patPathPrefix  = `\u002F[\u0021-\u007F]*`
	patPolicyPath  = `((/[A-Za-z0-9\.,\+@=_-]+)*)/`
	patDocument    = `[\u0009\u000A\u000D\u0020-\u00FF]+`
	patAccessKeyID = `[\w]+`
	patVersionID   = `v[1-9][0-9]*(\.[A-Za-z0-9-]*)?`
	patTagKey      = `[\p{L}\p{Z}\p{N}_.:/=+\-@]+`
	patTagValue    = `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`
	patExternalID  = `[\w+=,./@:-]*`
	patRoleDesc    = `[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*`
	patMarker      = `[\u0020-\u00FF]+`
)

// isWord reports whether r is in Java's \w: [a-zA-Z_0-9].
func isWord(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_'
}

func all(s string, ok func(rune) bool) bool {
	for _, r := range s {
		if !ok(r) {
			return false
		}
	}
	return true
}

// validName is [\w+=,.@-]+ (users, groups, roles, policies) and, empty
// allowed, the session-name pattern.
func validName(s string) bool { return s != "" && validSessionName(s) }

func validSessionName(s string) bool {
	return all(s, func(r rune) bool { return isWord(r) || strings.ContainsRune("+=,.@-", r) })
}

func validPath(s string) bool {
	if s == "/" {
		return true
	}
	return len(s) >= 3 && s[0] == '/' && s[len(s)-1] == '/' &&
		all(s[1:len(s)-1], func(r rune) bool { return r >= 0x21 && r <= 0x7E })
}

func validPathPrefix(s string) bool {
	return strings.HasPrefix(s, "/") && all(s[1:], func(r rune) bool { return r >= 0x21 && r <= 0x7F })
}

// validPolicyPath is ((/[A-Za-z0-9\.,\+@=_-]+)*)/.
func validPolicyPath(s string) bool {
	if !strings.HasPrefix(s, "/") || !strings.HasSuffix(s, "/") {
		return false
	}
	if s == "/" {
		return true
	}
	for _, seg := range strings.Split(s[1:len(s)-1], "/") {
		if seg == "" || !all(seg, func(r rune) bool { return isWord(r) || strings.ContainsRune(".,+@=-", r) }) {
			return false
		}
	}
	return true
}

func validDocumentChars(s string) bool {
	return s != "" && all(s, func(r rune) bool { return r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0xFF })
}

func validAccessKeyIDChars(s string) bool { return s != "" && all(s, isWord) }

func validVersionID(s string) bool {
	rest, ok := strings.CutPrefix(s, "v")
	if !ok || rest == "" || rest[0] < '1' || rest[0] > '9' {
		return false
	}
	num, suffix, _ := strings.Cut(rest, ".")
	return all(num, func(r rune) bool { return r >= '0' && r <= '9' }) &&
		all(suffix, func(r rune) bool {
			return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-'
		})
}

func tagRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.In(r, unicode.Z) || unicode.IsNumber(r) || strings.ContainsRune("_.:/=+-@", r)
}

func validTagKey(s string) bool   { return s != "" && all(s, tagRune) }
func validTagValue(s string) bool { return all(s, tagRune) }

func validExternalID(s string) bool {
	return all(s, func(r rune) bool { return isWord(r) || strings.ContainsRune("+=,./@:-", r) })
}

func validRoleDescription(s string) bool {
	return all(s, func(r rune) bool {
		return r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0x7E || r >= 0xA1 && r <= 0xFF
	})
}

func validMarker(s string) bool {
	return s != "" && all(s, func(r rune) bool { return r >= 0x20 && r <= 0xFF })
}

// Member checks shared by many operations.

func (c *checker) userName(member string, s *string) {
	c.str(member, s, 1, 64, patName, validName)
}

// existingUserName is the looser constraint IAM's model puts on the name of
// a user that must already exist (existingUserNameType: 1–128).
func (c *checker) existingUserName(member string, s *string) {
	c.str(member, s, 1, 128, patName, validName)
}

func (c *checker) groupName(member string, s *string) {
	c.str(member, s, 1, 128, patName, validName)
}

func (c *checker) roleName(member string, s *string) {
	c.str(member, s, 1, 64, patName, validName)
}

func (c *checker) policyName(member string, s *string) {
	c.str(member, s, 1, 128, patName, validName)
}

func (c *checker) path(member string, s *string) {
	c.str(member, s, 1, 512, patPath, validPath)
}

func (c *checker) pathPrefix(member string, s *string) {
	c.str(member, s, 1, 512, patPathPrefix, validPathPrefix)
}

func (c *checker) policyPath(member string, s *string) {
	c.str(member, s, 1, 512, patPolicyPath, validPolicyPath)
}

func (c *checker) document(member string, s *string) {
	c.str(member, s, 1, 131072, patDocument, validDocumentChars)
}

func (c *checker) arn(member string, s *string) {
	c.length(member, s, 20, 2048)
}

func (c *checker) accessKeyID(member string, s *string) {
	c.str(member, s, 16, 128, patAccessKeyID, validAccessKeyIDChars)
}

func (c *checker) versionID(member string, s *string) {
	c.pattern(member, s, patVersionID, validVersionID)
}

func (c *checker) paging(marker *string, maxItems *int32) {
	c.str("marker", marker, 1, 320, patMarker, validMarker)
	c.intRange("maxItems", maxItems, 1, 1000)
}

// tags checks a request's tags: at most 50, each key 1–128 and value 0–256
// characters of the tag pattern.
func (c *checker) tags(member string, tags []awsquery.Tag) {
	c.listLength(member, len(tags), maxTags)
	for i, t := range tags {
		at := fmt.Sprintf("%s.%d.member.", member, i+1)
		c.str(at+"key", t.Key, 1, 128, patTagKey, validTagKey)
		c.str(at+"value", t.Value, 0, 256, patTagValue, validTagValue)
	}
}

// maxTags is how many tags a user, role or session may have.
const maxTags = 50

// pathOrRoot is a created entity's path: the one requested, or "/".
func pathOrRoot(p *string) string {
	if p == nil {
		return "/"
	}
	return *p
}

// str returns *p, or "" for nil.
func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
