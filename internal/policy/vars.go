package policy

import "strings"

// Policy variables (IAM User Guide, "IAM policy elements: Variables and
// tags"). In a document whose Version is 2012-10-17, "${key}" in a Resource
// (after the ARN's fifth colon) or in the value of a String, ARN or Bool
// condition stands for the request's value of the condition key. Key names
// are case-insensitive. "${key, 'default'}" gives the value to use when the
// key has none. ${*}, ${?} and ${$} stand for the characters themselves, so
// a '*' can be matched literally. In any other Version the text is literal.
//
// A key that is absent, present with no values, or multivalued (AWS: "you
// cannot use a multivalued context key as a policy variable") leaves the
// variable unresolved, and AWS warns that this "might cause the entire
// statement to be invalid". Trent resolves that vagueness so that an
// unresolved variable never makes a statement cover more: an entry of a
// Resource list or a value of a positive condition that holds one matches
// nothing, and a NotResource entry or a value of a negated condition
// (StringNotEquals, ArnNotLike, …) that holds one makes the statement not
// apply at all.

// tpart is a piece of a template: literal text, or a variable.
type tpart struct {
	lit     string // literal policy text, wildcards and all
	name    string // lower-case key name of a variable; "" for literal text
	def     string
	hasDef  bool
	special bool // ${*}, ${?} or ${$}: lit is the character itself
}

type template []tpart

// parseTemplate splits s into literal text and variables. It returns nil
// when s holds no variable, so the caller can compile s once. Text that
// looks like the start of a variable but is not one ("${" without "}") is
// literal.
func parseTemplate(s string) template {
	if !strings.Contains(s, "${") {
		return nil
	}
	var t template
	hasVar := false
	for s != "" {
		i := strings.Index(s, "${")
		if i < 0 {
			t = append(t, tpart{lit: s})
			break
		}
		part, n, ok := parseVariable(s[i:])
		if !ok {
			t = append(t, tpart{lit: s[:i+2]})
			s = s[i+2:]
			continue
		}
		if i > 0 {
			t = append(t, tpart{lit: s[:i]})
		}
		t = append(t, part)
		hasVar = true
		s = s[i+n:]
	}
	if !hasVar {
		return nil
	}
	return t
}

// parseVariable reads "${key}" or "${key, 'default'}" at the start of s and
// returns it with its length.
func parseVariable(s string) (tpart, int, bool) {
	body := s[2:]
	end := strings.IndexAny(body, ",}")
	if end < 0 {
		return tpart{}, 0, false
	}
	key := strings.TrimSpace(body[:end])
	if key == "" {
		return tpart{}, 0, false
	}
	var p tpart
	switch key {
	case "*", "?", "$":
		p = tpart{lit: key, special: true}
	default:
		p = tpart{name: lowerKey(key)}
	}
	if body[end] == '}' {
		return p, 2 + end + 1, true
	}
	if p.special {
		return tpart{}, 0, false
	}
	// ", 'default'}": AWS documents a comma and a space; any spaces are
	// accepted here.
	rest := strings.TrimLeft(body[end+1:], " ")
	if !strings.HasPrefix(rest, "'") {
		return tpart{}, 0, false
	}
	closing := strings.IndexByte(rest[1:], '\'')
	if closing < 0 {
		return tpart{}, 0, false
	}
	p.def, p.hasDef = rest[1:1+closing], true
	after := strings.TrimLeft(rest[1+closing+1:], " ")
	if !strings.HasPrefix(after, "}") {
		return tpart{}, 0, false
	}
	consumed := len(s) - len(after) + 1
	return p, consumed, true
}

// resolve substitutes the request's values. With glob, the result is
// pattern source: literal text keeps its wildcards and substituted values
// are escaped to match themselves. ok is false when a variable has no value
// and no default.
func (t template) resolve(r *Request, glob bool) (string, bool) {
	var b strings.Builder
	for i := range t {
		p := &t[i]
		var s string
		switch {
		case p.name == "":
			s = p.lit
			if glob && !p.special {
				// Literal policy text has no escapes of its own; only a
				// backslash needs one to stay a backslash.
				s = strings.ReplaceAll(s, `\`, `\\`)
			}
		default:
			v, ok := r.lookup(p.name)
			switch {
			case ok && !v.multi && !v.amb:
				s = v.at(0)
			case p.hasDef:
				s = p.def
			default:
				return "", false
			}
		}
		if glob && (p.special || p.name != "") {
			s = escapeGlob(s)
		}
		b.WriteString(s)
	}
	return b.String(), true
}
