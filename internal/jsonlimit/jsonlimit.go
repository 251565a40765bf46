// Package jsonlimit bounds untrusted JSON before a decoder sees it, so a
// deeply nested document cannot make a recursive decoder use unbounded
// stack or time.
package jsonlimit

// TooDeep reports whether the arrays and objects of doc nest deeper than
// max. It scans once without allocating; brackets inside strings do not
// count. It does not check that doc is valid JSON.
func TooDeep[T string | []byte](doc T, max int) bool {
	depth := 0
	inString, escaped := false, false
	for i := 0; i < len(doc); i++ {
		c := doc[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > max {
				return true
			}
		case '}', ']':
			depth--
		}
	}
	return false
}
