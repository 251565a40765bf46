package audit

import "encoding/binary"

// appendCompact appends src without the white space outside its strings
// — json.Compact's output — in one pass that also validates it as
// encoding/json's scanner does (json.Valid: any value, RFC 8259's
// grammar, strings not checked for UTF-8, at most maxNestingDepth nested
// arrays and objects). It reports false, with dst's contents past its
// length undefined, when src is not valid JSON.
//
// It replaces json.Valid followed by json.Compact on every event's
// requestParameters: encoding/json's scanner takes an indirect call per
// byte, which made it a measurable share of an Encrypt's audit cost.
// FuzzAppendCompact holds it to encoding/json.
func appendCompact(dst, src []byte) ([]byte, bool) {
	c := compactor{src: src, dst: dst}
	c.space()
	if !c.value() {
		return dst, false
	}
	c.space()
	if c.i != len(src) {
		return dst, false
	}
	return append(c.dst, src[c.start:]...), true
}

// maxNestingDepth is encoding/json's bound on nested arrays and objects.
const maxNestingDepth = 10000

type compactor struct {
	src, dst []byte
	i        int // the next byte to read
	start    int // the first byte read but not yet copied to dst
	depth    int
}

// space skips white space, copying what came before it.
func (c *compactor) space() {
	j := c.i
	for j < len(c.src) && isJSONSpace(c.src[j]) {
		j++
	}
	if j > c.i {
		c.dst = append(c.dst, c.src[c.start:c.i]...)
		c.i, c.start = j, j
	}
}

func isJSONSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

func (c *compactor) peek() (byte, bool) {
	if c.i < len(c.src) {
		return c.src[c.i], true
	}
	return 0, false
}

func (c *compactor) value() bool {
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

func (c *compactor) object() bool {
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
		c.space()
		switch b, _ := c.peek(); b {
		case ',':
			c.i++
			c.space()
		case '}':
			c.i++
			c.depth--
			return true
		default:
			return false
		}
	}
}

func (c *compactor) array() bool {
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
		c.space()
		switch b, _ := c.peek(); b {
		case ',':
			c.i++
			c.space()
		case ']':
			c.i++
			c.depth--
			return true
		default:
			return false
		}
	}
}

// str reads a string: its bytes are copied as they are.
func (c *compactor) str() bool {
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
func (c *compactor) number() bool {
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

func (c *compactor) literal(lit string) bool {
	if len(c.src)-c.i < len(lit) || string(c.src[c.i:c.i+len(lit)]) != lit {
		return false
	}
	c.i += len(lit)
	return true
}
