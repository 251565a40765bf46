// Package jsonlimit bounds untrusted JSON before a decoder sees it, so that
// neither a deeply nested document (stack, time) nor a long array or object
// (a slice or map grown element by element, at several times the bytes of
// the document) can cost more than a small multiple of its size.
package jsonlimit

import (
	"bytes"
	"errors"
	"strings"
)

var (
	// ErrTooDeep reports arrays and objects nested deeper than allowed.
	ErrTooDeep = errors.New("jsonlimit: nested too deeply")
	// ErrTooLong reports an array or object with more elements than
	// allowed.
	ErrTooLong = errors.New("jsonlimit: array or object with too many elements")
)

// MaxCountedDepth is the deepest Limits.Depth with which Limits.Elements
// can be checked.
const MaxCountedDepth = 32

// Limits are what Check enforces.
type Limits struct {
	// Depth is how deeply arrays and objects may nest.
	Depth int
	// Elements is how many elements an array, or members an object, may
	// have; 0 for no limit. With a limit, Depth must be at most
	// MaxCountedDepth.
	Elements int
}

// Check returns ErrTooDeep or ErrTooLong if doc exceeds lim, and nil
// otherwise. It scans once without allocating; brackets and commas inside
// strings do not count. It does not check that doc is valid JSON: a
// malformed document may pass, and then fails in the decoder.
func Check[T string | []byte](doc T, lim Limits) error {
	if lim.Elements > 0 && lim.Depth > MaxCountedDepth {
		panic("jsonlimit: Elements checked deeper than MaxCountedDepth")
	}
	if withinByCount(doc, lim) {
		return nil
	}
	return scan(doc, lim)
}

// scan is Check without its shortcut.
func scan[T string | []byte](doc T, lim Limits) error {
	// commas[d-1] counts the commas of the open array or object at depth
	// d: n commas separate n+1 elements.
	var commas [MaxCountedDepth]int
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
			if depth > lim.Depth {
				return ErrTooDeep
			}
			if depth <= MaxCountedDepth {
				commas[depth-1] = 0
			}
		case '}', ']':
			if depth > 0 {
				depth--
			}
		case ',':
			if lim.Elements > 0 && depth > 0 {
				commas[depth-1]++
				if commas[depth-1] >= lim.Elements {
					return ErrTooLong
				}
			}
		}
	}
	return nil
}

// withinByCount reports whether doc is within lim by counting alone: a
// document with no more '{' and '[' bytes than Depth cannot nest deeper,
// and one with fewer commas than Elements cannot hold a longer array or
// object, whatever is inside strings. Every request body pays Check, and
// these counts are vectorized where the scan goes byte by byte (a tenth of
// the scan's instructions on an Encrypt's body), so only documents that
// might exceed a limit are scanned.
func withinByCount[T string | []byte](doc T, lim Limits) bool {
	var opens, commas int
	switch d := any(doc).(type) {
	case string:
		opens = strings.Count(d, "{") + strings.Count(d, "[")
		if lim.Elements > 0 {
			commas = strings.Count(d, ",")
		}
	case []byte:
		opens = bytes.Count(d, openBrace) + bytes.Count(d, openBracket)
		if lim.Elements > 0 {
			commas = bytes.Count(d, comma)
		}
	}
	return opens <= lim.Depth && (lim.Elements == 0 || commas < lim.Elements)
}

var openBrace, openBracket, comma = []byte("{"), []byte("["), []byte(",")

// TooDeep reports whether the arrays and objects of doc nest deeper than
// max; see Check.
func TooDeep[T string | []byte](doc T, max int) bool {
	return Check(doc, Limits{Depth: max}) != nil
}
