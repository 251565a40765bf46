package policy

import (
	"strings"
	"unicode/utf8"
)

// Wildcard patterns. A pattern's source text is the policy's text with
// '*' (any run of characters) and '?' (any one character) as wildcards, and
// a backslash escaping the next character. Policies have no escapes; the
// backslash lets a resolved policy variable stand for itself: ${*}, or a
// tag value holding '*', is inserted as "\*" and matches only a '*'.

type tokKind uint8

const (
	tokLit  tokKind = iota // literal text
	tokStar                // '*'
	tokOne                 // '?'
)

type token struct {
	kind tokKind
	lit  string
}

// pattern is a compiled wildcard pattern.
type pattern struct {
	toks   []token
	all    bool   // the pattern is "*"
	exact  bool   // no wildcards: matches lit only
	prefix bool   // lit followed by one star ("kms:Describe*", "key/*")
	lit    string // when exact or prefix
}

// policyGlob turns policy text into pattern source. Policies have no
// escapes, so a backslash in one is an ordinary character.
func policyGlob(s string) string {
	return strings.ReplaceAll(s, `\`, `\\`)
}

// escapeGlob makes s match itself when compiled as a pattern.
func escapeGlob(s string) string {
	if !strings.ContainsAny(s, `*?\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '*' || c == '?' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// compileGlob compiles pattern source. Consecutive stars collapse into one.
func compileGlob(src string) pattern {
	var toks []token
	var lit strings.Builder
	litStart, plain := 0, true // while plain, the literal is src[litStart:i]
	flush := func(end int) {
		var s string
		if plain {
			s = src[litStart:end]
		} else {
			s = lit.String()
			lit.Reset()
		}
		if s != "" {
			toks = append(toks, token{kind: tokLit, lit: s})
		}
		plain = true
	}
	for i := 0; i < len(src); i++ {
		switch c := src[i]; c {
		case '*', '?':
			flush(i)
			litStart = i + 1
			if c == '?' {
				toks = append(toks, token{kind: tokOne})
			} else if len(toks) == 0 || toks[len(toks)-1].kind != tokStar {
				toks = append(toks, token{kind: tokStar})
			}
		case '\\':
			if plain {
				lit.WriteString(src[litStart:i])
				plain = false
			}
			if i+1 < len(src) {
				i++
				lit.WriteByte(src[i])
			} else {
				lit.WriteByte('\\') // a trailing backslash stands for itself
			}
			litStart = i + 1
		default:
			if !plain {
				lit.WriteByte(c)
				litStart = i + 1
			}
		}
	}
	flush(len(src))
	p := pattern{toks: toks}
	switch {
	case len(toks) == 1 && toks[0].kind == tokStar:
		p.all = true
	case len(toks) == 0:
		p.exact = true
	case len(toks) == 1 && toks[0].kind == tokLit:
		p.exact, p.lit = true, toks[0].lit
	case len(toks) == 2 && toks[0].kind == tokLit && toks[1].kind == tokStar:
		p.prefix, p.lit = true, toks[0].lit
	}
	return p
}

// match reports whether s matches the pattern. With fold, ASCII letters in s
// match regardless of case; the pattern must then be in lower case.
func (p *pattern) match(s string, fold bool) bool {
	switch {
	case p.all:
		return true
	case p.exact && fold:
		return len(s) == len(p.lit) && hasPrefixFold(s, p.lit)
	case p.exact:
		return s == p.lit
	case p.prefix && fold:
		return hasPrefixFold(s, p.lit)
	case p.prefix:
		return strings.HasPrefix(s, p.lit)
	}
	return matchTokens(p.toks, s, fold)
}

// matchTokens is the classic wildcard match: greedy, backtracking only to
// the most recent star, which is enough because a star matches anything.
// It takes O(len(toks)·len(s)) time and never allocates. '?' matches one
// UTF-8 character (an invalid byte counts as one).
func matchTokens(toks []token, s string, fold bool) bool {
	ti, si := 0, 0
	starTi, starSi := -1, 0
	for {
		if ti < len(toks) {
			t := &toks[ti]
			switch t.kind {
			case tokStar:
				starTi, starSi = ti, si
				ti++
				continue
			case tokOne:
				if si < len(s) {
					_, n := utf8.DecodeRuneInString(s[si:])
					si += n
					ti++
					continue
				}
			case tokLit:
				if len(s)-si >= len(t.lit) && (fold && hasPrefixFold(s[si:], t.lit) || !fold && s[si:si+len(t.lit)] == t.lit) {
					si += len(t.lit)
					ti++
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		// Mismatch: let the last star swallow one more character.
		if starTi < 0 || starSi >= len(s) {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starSi:])
		starSi += n
		ti, si = starTi+1, starSi
	}
}

// hasPrefixFold reports whether s starts with lower, ignoring the case of
// ASCII letters in s.
func hasPrefixFold(s, lower string) bool {
	if len(s) < len(lower) {
		return false
	}
	for i := 0; i < len(lower); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// asciiLower lowers ASCII letters only, matching hasPrefixFold.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// arnSplit returns where each of an ARN's six fields starts and ends:
// field i is s[start[i]:end[i]], and the resource field keeps any further
// colons. ok is false unless s starts with "arn:" and has five colons.
func arnSplit(s string) (start, end [6]int, ok bool) {
	if !strings.HasPrefix(s, "arn:") {
		return start, end, false
	}
	field := 0
	for i := 0; i < len(s) && field < 5; i++ {
		if s[i] == ':' {
			end[field] = i
			field++
			start[field] = i + 1
		}
	}
	if field < 5 {
		return start, end, false
	}
	end[5] = len(s)
	return start, end, true
}

// arnPattern matches ARNs field by field, as ArnLike and Resource do.
type arnPattern struct {
	all    bool    // "*"
	arn    bool    // the pattern has six fields; else whole is used
	whole  pattern // a pattern that is not ARN-shaped, matched as one string
	fields [6]pattern
	// rest[i] is the pattern from field i on, for a field that ends in '*'
	// in a Resource element (restOK[i]).
	rest   [5]pattern
	restOK [5]bool
}

// compileARN compiles ARN pattern source. In a Resource element (resource
// true) a '*' that ends a field may also match beyond the colons after it
// (IAM User Guide, "IAM JSON policy elements: Resource": "If the * wildcard
// is the last character of a resource ARN segment, it can expand to match
// beyond the colon boundaries"). In ArnLike and ArnEquals each field is
// matched on its own, so no wildcard crosses a colon outside the resource
// field (IAM User Guide, condition operators, ARN).
//
// A pattern that does not have six fields is matched against the whole
// value, so "*" matches any ARN; AWS does not document this case.
func compileARN(src string, resource bool) arnPattern {
	if src == "*" {
		return arnPattern{all: true}
	}
	parts := strings.SplitN(src, ":", 6)
	if len(parts) != 6 {
		return arnPattern{whole: compileGlob(src)}
	}
	p := arnPattern{arn: true}
	for i, f := range parts {
		p.fields[i] = compileGlob(f)
	}
	if resource {
		for i := 0; i < 5; i++ {
			if t := p.fields[i].toks; len(t) > 0 && t[len(t)-1].kind == tokStar {
				p.rest[i] = compileGlob(strings.Join(parts[i:], ":"))
				p.restOK[i] = true
			}
		}
	}
	return p
}

func (p *arnPattern) match(s string) bool {
	if p.all {
		return true
	}
	if !p.arn {
		return p.whole.match(s, false)
	}
	start, end, ok := arnSplit(s)
	if !ok {
		return false
	}
	for i := 0; i < 5; i++ {
		if p.restOK[i] {
			return p.rest[i].match(s[start[i]:], false)
		}
		if !p.fields[i].match(s[start[i]:end[i]], false) {
			return false
		}
	}
	return p.fields[5].match(s[start[5]:], false)
}
