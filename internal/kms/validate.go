package kms

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/trent-kms/trent/internal/apierr"
)

// validator collects model-constraint violations and reports them the way
// AWS's Coral framework does: "N validation error(s) detected: a; b".
type validator struct {
	errs []string
}

func (v *validator) add(msg string) { v.errs = append(v.errs, msg) }

// required reports a missing member; it returns whether the member is there.
func (v *validator) required(member string, present bool) bool {
	if !present {
		v.add(fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", member))
	}
	return present
}

func (v *validator) requiredString(member string, s *string) bool {
	return v.required(member, s != nil)
}

// length checks a string member's length in characters.
func (v *validator) length(member string, s *string, min, max int) {
	if s == nil {
		return
	}
	n := utf8.RuneCountInString(*s)
	if n < min {
		v.add(fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must have length greater than or equal to %d", *s, member, min))
	} else if n > max {
		v.add(fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", *s, member, max))
	}
}

// blobLength checks a sensitive blob's length; AWS leaves the value out.
func (v *validator) blobLength(member string, b []byte, min, max int) {
	if b == nil {
		return
	}
	if len(b) < min {
		v.add(fmt.Sprintf("Value at '%s' failed to satisfy constraint: Member must have length greater than or equal to %d", member, min))
	} else if len(b) > max {
		v.add(fmt.Sprintf("Value at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", member, max))
	}
}

func (v *validator) intRange(member string, n *int32, min, max int32) {
	if n == nil {
		return
	}
	if *n < min {
		v.add(fmt.Sprintf("Value '%d' at '%s' failed to satisfy constraint: Member must have value greater than or equal to %d", *n, member, min))
	} else if *n > max {
		v.add(fmt.Sprintf("Value '%d' at '%s' failed to satisfy constraint: Member must have value less than or equal to %d", *n, member, max))
	}
}

func (v *validator) enum(member string, s *string, set []string) {
	if s == nil {
		return
	}
	for _, e := range set {
		if *s == e {
			return
		}
	}
	v.add(fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]", *s, member, strings.Join(set, ", ")))
}

func (v *validator) pattern(member string, s *string, pattern string, ok func(string) bool) {
	if s == nil || ok(*s) {
		return
	}
	v.add(fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", *s, member, pattern))
}

func (v *validator) listLength(member string, n, min, max int) {
	if n < min {
		v.add(fmt.Sprintf("Value at '%s' failed to satisfy constraint: Member must have length greater than or equal to %d", member, min))
	} else if n > max {
		v.add(fmt.Sprintf("Value at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", member, max))
	}
}

func (v *validator) grantTokens(tokens []string) {
	if tokens == nil {
		return
	}
	v.listLength("grantTokens", len(tokens), 0, 10)
	for i := range tokens {
		v.length("grantTokens."+strconv.Itoa(i+1)+".member", &tokens[i], 1, 8192)
	}
}

func (v *validator) keyID(member string, s *string) {
	if v.requiredString(member, s) {
		v.length(member, s, 1, 2048)
	}
}

func (v *validator) err() error {
	switch len(v.errs) {
	case 0:
		return nil
	case 1:
		return &apierr.Error{Code: apierr.Validation, Message: "1 validation error detected: " + v.errs[0]}
	}
	return &apierr.Error{Code: apierr.Validation, Message: strconv.Itoa(len(v.errs)) + " validation errors detected: " + strings.Join(v.errs, "; ")}
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
