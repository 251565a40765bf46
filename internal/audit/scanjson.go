package audit

import "encoding/binary"

// scanJSON reports whether src is valid JSON as encoding/json's scanner
// judges it (json.Valid: any value, RFC 8259's grammar, strings not
// checked for UTF-8, at most maxNestingDepth nested arrays and objects),
// and whether it is compact: no white space outside its strings, so that
// json.Compact would return it unchanged.
//
// It replaces json.Valid on every event's raw members: encoding/json's
// scanner takes an indirect call per byte, which made it a measurable
// share of an Encrypt's audit cost. TestScanJSON and FuzzScanJSON hold it
// to encoding/json.
func scanJSON(src []byte) (valid, compact bool) {
	c := scanner{src: src}
	c.space()
	if !c.value() {
		return false, false
	}
	c.space()
	if c.i != len(src) {
		return false, false
	}
	return true, !c.spaced
}

// maxNestingDepth is encoding/json's bound on nested arrays and objects.
const maxNestingDepth = 10000

type scanner struct {
	src    []byte
	i      int // the next byte to read
	depth  int
	spaced bool // white space was skipped
}

// space skips white space.
func (c *scanner) space() {
	for c.i < len(c.src) && isJSONSpace(c.src[c.i]) {
		c.i++
		c.spaced = true
	}
}

func isJSONSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

func (c *scanner) peek() (byte, bool) {
	if c.i < len(c.src) {
		return c.src[c.i], true
	}
	return 0, false
}

func (c *scanner) value() bool {
	b, ok := c.peek()
	switch {
	case !ok:
		return false
	case b == '{':
		return c.object()
	case b == '[':
		return c.array()
	case b == '"':
		return c.str()
	case b == '-' || '0' <= b && b <= '9':
		return c.number()
	case b == 't':
		return c.literal("true")
	case b == 'f':
		return c.literal("false")
	case b == 'n':
		return c.literal("null")
	}
	return false
}

func (c *scanner) object() bool {
	if c.depth++; c.depth > maxNestingDepth {
		return false
	}
	c.i++ // {
	c.space()
	if b, _ := c.peek(); b == '}' {
		c.i++
		c.depth--
		return true
	}
	for {
		if b, _ := c.peek(); b != '"' || !c.str() {
			return false
		}
		c.space()
		if b, _ := c.peek(); b != ':' {
			return false
		}
		c.i++
		c.space()
		if !c.value() {
			return false
		}
		if more, ok := c.next('}'); !more {
			return ok
		}
	}
}

func (c *scanner) array() bool {
	if c.depth++; c.depth > maxNestingDepth {
		return false
	}
	c.i++ // [
	c.space()
	if b, _ := c.peek(); b == ']' {
		c.i++
		c.depth--
		return true
	}
	for {
		if !c.value() {
			return false
		}
		if more, ok := c.next(']'); !more {
			return ok
		}
	}
}

// next reads what follows a member or an element: a comma, after which
// more follow, or the closing byte, which ends the object or array; ok
// is false for anything else.
func (c *scanner) next(closing byte) (more, ok bool) {
	c.space()
	switch b, _ := c.peek(); b {
	case ',':
		c.i++
		c.space()
		return true, true
	case closing:
		c.i++
		c.depth--
		return false, true
	}
	return false, false
}

// str reads a string.
func (c *scanner) str() bool {
	s := c.src
	i := c.i + 1 // "
	for i < len(s) {
		// Eight bytes at a time while none is a quote, a backslash or a
		// control character (non-ASCII bytes stop it too, needlessly).
		if len(s)-i >= 8 && !mayNeedEscape(binary.LittleEndian.Uint64(s[i:i+8])) {
			i += 8
			continue
		}
		switch b := s[i]; {
		case b == '"':
			c.i = i + 1
			return true
		case b == '\\':
			if i+1 >= len(s) {
				return false
			}
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(s)-i < 6 || !isHex(s[i+2]) || !isHex(s[i+3]) || !isHex(s[i+4]) || !isHex(s[i+5]) {
					return false
				}
				i += 6
			default:
				return false
			}
		case b < 0x20:
			return false
		default:
			i++
		}
	}
	return false
}

func isHex(b byte) bool { return '0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F' }

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (c *scanner) number() bool {
	s, i := c.src, c.i
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		i = digits(s, i)
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		j := digits(s, i+1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := digits(s, i)
		if j == i {
			return false
		}
		i = j
	}
	c.i = i
	return true
}

// digits returns the index of the first byte from i on that is not a
// decimal digit.
func digits(s []byte, i int) int {
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return i
}

func (c *scanner) literal(lit string) bool {
	if len(c.src)-c.i < len(lit) || string(c.src[c.i:c.i+len(lit)]) != lit {
		return false
	}
	c.i += len(lit)
	return true
}
