package kms

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsproto"
	"github.com/trent-kms/trent/internal/keys"
)

const (
	// maxListedErrors is how many violations a ValidationException lists.
	// AWS's Coral format lists each ("N validation errors detected: a; b");
	// a request may hold thousands, and an error must not grow with the
	// request, so Trent counts them all but lists the first few.
	maxListedErrors = 10
	// maxEchoedValue bounds, in bytes as sent (awsproto.EscapedLen), the
	// value a message repeats from the request. It keeps every value AWS
	// is recorded echoing (129- and 257-character tag keys and values)
	// whole; longer ones are clipped.
	maxEchoedValue = 1024
	// maxListedBytes bounds the listed violations together, leaving room in
	// awsproto.MaxErrorMessageBytes for the count before them.
	maxListedBytes = awsproto.MaxErrorMessageBytes - 64
	// maxGrantTokens is the longest GrantTokens list AWS's model allows.
	maxGrantTokens = 10
	// maxTagKeys is the longest TagKeys list UntagResource takes: a key has
	// at most maxTagsPerKey tags to remove.
	maxTagKeys = maxTagsPerKey
)

// validator collects model-constraint violations and reports them the way
// AWS's Coral framework does: "N validation error(s) detected: a; b". It
// counts every violation but formats only those it will list, so a request
// with a million invalid elements costs a counter, not a million messages.
type validator struct {
	n      int      // violations found
	listed []string // the first of them, in order
	size   int      // escaped length of listed, with separators
	full   bool     // no further violation will be listed
}

// violation counts one violation and reports whether its message will be
// listed; callers format the message only then.
func (v *validator) violation() bool {
	v.n++
	return !v.full
}

// list records the message of the violation just counted.
func (v *validator) list(msg string) {
	cost := awsproto.EscapedLen(msg) + len("; ")
	if len(v.listed) == maxListedErrors || v.size+cost > maxListedBytes {
		v.full = true
		return
	}
	v.listed = append(v.listed, msg)
	v.size += cost
}

// echo is how a message repeats a value from the request.
func echo(s string) string { return awsproto.Clip(s, maxEchoedValue) }

// required reports a missing member; it returns whether the member is there.
func (v *validator) required(member string, present bool) bool {
	if !present && v.violation() {
		v.list(fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", member))
	}
	return present
}

func (v *validator) requiredString(member string, s *string) bool {
	return v.required(member, s != nil)
}

// length checks a string member's length in characters.
func (v *validator) length(member string, s *string, least, most int) {
	if s == nil {
		return
	}
	// Counting stops past most: the exact length of a long string does
	// not matter, and a megabyte need not be walked rune by rune.
	n := utf8.RuneCountInString((*s)[:min(len(*s), utf8.UTFMax*(most+1))])
	switch {
	case n < least:
		if v.violation() {
			v.list(fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must have length greater than or equal to %d", echo(*s), member, least))
		}
	case n > most:
		if v.violation() {
			v.list(fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", echo(*s), member, most))
		}
	}
}

// blobLength checks a sensitive blob's length; AWS leaves the value out.
func (v *validator) blobLength(member string, b []byte, min, max int) {
	if b == nil {
		return
	}
	switch {
	case len(b) < min:
		if v.violation() {
			v.list(fmt.Sprintf("Value at '%s' failed to satisfy constraint: Member must have length greater than or equal to %d", member, min))
		}
	case len(b) > max:
		if v.violation() {
			v.list(fmt.Sprintf("Value at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", member, max))
		}
	}
}

func (v *validator) intRange(member string, n *int32, min, max int32) {
	if n == nil {
		return
	}
	switch {
	case *n < min:
		if v.violation() {
			v.list(fmt.Sprintf("Value '%d' at '%s' failed to satisfy constraint: Member must have value greater than or equal to %d", *n, member, min))
		}
	case *n > max:
		if v.violation() {
			v.list(fmt.Sprintf("Value '%d' at '%s' failed to satisfy constraint: Member must have value less than or equal to %d", *n, member, max))
		}
	}
}

func (v *validator) enum(member string, s *string, set []string) {
	if s == nil || slices.Contains(set, *s) {
		return
	}
	if v.violation() {
		v.list(enumMessage(*s, member, set))
	}
}

func enumMessage(s, member string, set []string) string {
	return fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]", echo(s), member, strings.Join(set, ", "))
}

func (v *validator) pattern(member string, s *string, pattern string, ok func(string) bool) {
	if s == nil || ok(*s) {
		return
	}
	if v.violation() {
		v.list(fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", echo(*s), member, pattern))
	}
}

// listLength checks a list's length. Callers check it before the elements
// and skip them when the list is too long: AWS's limits on lists are what
// bound the work a request can cause.
func (v *validator) listLength(member string, n, min, max int) bool {
	switch {
	case n < min:
		if v.violation() {
			v.list(fmt.Sprintf("Value at '%s' failed to satisfy constraint: Member must have length greater than or equal to %d", member, min))
		}
		return false
	case n > max:
		if v.violation() {
			v.list(fmt.Sprintf("Value at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", member, max))
		}
		return false
	}
	return true
}

func (v *validator) grantTokens(tokens []string) {
	if tokens == nil || !v.listLength("grantTokens", len(tokens), 0, maxGrantTokens) {
		return
	}
	for i := range tokens {
		v.length("grantTokens."+strconv.Itoa(i+1)+".member", &tokens[i], 1, 8192)
	}
}

// encryptionContext refuses a context larger than keys.MaxContextBytes.
// The wording is Trent's (AWS's is not recorded); like a blob's, the value
// is not repeated.
func (v *validator) encryptionContext(member string, ec map[string]string) {
	if keys.ContextSize(ec) > keys.MaxContextBytes && v.violation() {
		v.list(fmt.Sprintf("Value at '%s' failed to satisfy constraint: Member must have keys and values of at most %d bytes in all", member, keys.MaxContextBytes))
	}
}

func (v *validator) keyID(member string, s *string) {
	if v.requiredString(member, s) {
		v.length(member, s, 1, 2048)
	}
}

func (v *validator) err() error {
	switch {
	case v.n == 0:
		return nil
	case v.n == 1 && len(v.listed) == 1:
		return &apierr.Error{Code: apierr.Validation, Message: "1 validation error detected: " + v.listed[0]}
	}
	return &apierr.Error{Code: apierr.Validation, Message: strconv.Itoa(v.n) + " validation errors detected: " + strings.Join(v.listed, "; ")}
}

// policyChars reports whether s uses only the characters AWS allows in a key
// policy: tab, newline, carriage return and U+0020–U+00FF.
func policyChars(s string) bool {
	for _, r := range s {
		if r != '\t' && r != '\n' && r != '\r' && (r < 0x20 || r > 0xFF) {
			return false
		}
	}
	return true
}

// aliasChars reports whether s matches ^[a-zA-Z0-9:/_-]+$.
func aliasChars(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ':' || c == '/' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
