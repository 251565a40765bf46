package audit

import (
	"bytes"
	"slices"
	"time"
	"unicode/utf8"
)

// prefilter tells, from a line's bytes alone, that the line cannot match
// a query, so that Lookup decodes only the few lines that may. It may
// pass a line that does not match (the decoded line and Query.matches
// judge those) but never fails one that does: every test below holds
// for each line the event encoder writes (encode.go) that matches.
type prefilter struct {
	// needles: a line that may match holds at least one of them: the
	// attribute's, or else the account's.
	needles []needle
	// acct is the account as a line holds it; nil when the needles are
	// the account's, so that a line found holds it already.
	acct []byte
	// start and end bound eventTime as a line writes it
	// ("2006-01-02T15:04:05Z"), inclusive; nil is unbounded (or a bound
	// the line's fixed-width form cannot compare with).
	start, end []byte
}

func newPrefilter(q *Query) prefilter {
	p := prefilter{acct: []byte(`"recipientAccountId":"` + q.AccountID + `"`)}
	if !q.StartTime.IsZero() {
		p.start = lineTime(q.StartTime.Truncate(time.Second))
	}
	if !q.EndTime.IsZero() {
		// eventTime is whole seconds: t > EndTime exactly when t is after
		// EndTime's second.
		p.end = lineTime(q.EndTime.Truncate(time.Second))
	}
	if len(q.Attributes) == 1 {
		p.needles = attributeNeedles(q.Attributes[0])
	}
	if p.needles == nil {
		p.needles = []needle{newNeedle(q.AccountID+`"`, `"recipientAccountId":"`)}
		p.acct = nil
	}
	return p
}

// lineTime is t as a line writes an eventTime, or nil if that form does
// not sort as times do (years outside 1000 to 9999).
func lineTime(t time.Time) []byte {
	if y := t.UTC().Year(); y < 1000 || y > 9999 {
		return nil
	}
	return []byte(t.UTC().Format(timestampLayout))
}

// needle is what a line that may match holds: find, right after one of
// before (or anywhere, if before is empty). The search is for find, which
// starts with the value: a needle starting with a quote, as JSON members
// do, is searched for many times slower (a quote begins every member).
type needle struct {
	find   []byte
	before [][]byte
}

func newNeedle(find string, before ...string) needle {
	n := needle{find: []byte(find)}
	for _, b := range before {
		n.before = append(n.before, []byte(b))
	}
	return n
}

// at reports whether the needle is in chunk at h, where find was found.
func (n *needle) at(chunk []byte, h int) bool {
	if len(n.before) == 0 {
		return true
	}
	for _, b := range n.before {
		if h >= len(b) && bytes.Equal(chunk[h-len(b):h], b) {
			return true
		}
	}
	return false
}

// attributeNeedles returns what a line that matches a holds, as the
// encoder writes it. A value the encoder could write otherwise than as
// its own bytes — one needing an escape, or one the decoder could have
// made of other bytes (U+FFFD from invalid UTF-8 or a lone surrogate's
// escape) — gets none: those lines are all decoded. <, > and & are left
// out too, as encoding/json escapes them by default and a line written
// that way would still decode to the value.
func attributeNeedles(a Attribute) []needle {
	v := a.Value
	if !plainJSON(v) {
		return nil
	}
	switch a.Key {
	case AttrEventID:
		return []needle{newNeedle(v+`"`, `"eventID":"`)}
	case AttrEventName:
		return []needle{newNeedle(v+`"`, `"eventName":"`)}
	case AttrEventSource:
		return []needle{newNeedle(v+`"`, `"eventSource":"`)}
	case AttrAccessKeyID:
		return []needle{newNeedle(v+`"`, `"accessKeyId":"`)}
	case AttrReadOnly:
		// "true" or "false" (the API layer checks); any other value
		// matches no line and finds none here either.
		return []needle{newNeedle(`readOnly":`+v, `"`)}
	case AttrResourceType:
		return []needle{newNeedle(v+`"`, `"type":"`)}
	case AttrResourceName:
		// The whole ARN, or the key id that ends a key ARN.
		return []needle{newNeedle(v+`"`, `"ARN":"`, `:key/`)}
	case AttrUsername:
		// view.username: the userName member, the whole ARN of a role
		// session without a slash, or what follows its last slash; "root"
		// is any Root identity's.
		nd := []needle{newNeedle(v+`"`, `"`, `/`)}
		if v == "root" {
			nd = append(nd, newNeedle(`Root"`, `"type":"`))
		}
		return nd
	}
	return nil
}

// plainJSON reports whether appendString writes s as its own bytes, and
// whether no other string that decodes to s could be written instead by
// any JSON encoder Trent used: valid UTF-8 without control characters,
// '"', '\\', HTML's <, > and &, U+2028, U+2029, or U+FFFD.
func plainJSON(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case r < 0x20, r == '"', r == '\\', r == '<', r == '>', r == '&',
			r == '\u2028', r == '\u2029', r == utf8.RuneError:
			return false
		}
	}
	return true
}

// mayMatch reports whether line, found by the needles (candidates), may
// match: it holds the account, and its eventTime is within the range.
func (p *prefilter) mayMatch(line []byte) bool {
	if p.acct != nil && !bytes.Contains(line, p.acct) {
		return false
	}
	if p.start == nil && p.end == nil {
		return true
	}
	t, ok := eventTimeOf(line)
	if !ok {
		return true // the decoder decides
	}
	return (p.start == nil || bytes.Compare(t, p.start) >= 0) && (p.end == nil || bytes.Compare(t, p.end) <= 0)
}

var eventTimeKey = []byte(`"eventTime":"`)

// eventTimeOf returns a line's eventTime as written, if it has the fixed
// form "dddd-dd-ddTdd:dd:ddZ" that compares as times do. Its first
// `"eventTime":"` is the event's own: inside a JSON string every quote is
// escaped, so those bytes are a member name, and the only object the
// encoder writes before eventTime, userIdentity, has no such member.
func eventTimeOf(line []byte) ([]byte, bool) {
	i := bytes.Index(line, eventTimeKey)
	if i < 0 {
		return nil, false
	}
	return timeShape(line[i+len(eventTimeKey):])
}

// timeShape returns the time t starts with, if it has the fixed form
// "dddd-dd-ddTdd:dd:ddZ" followed by a quote.
func timeShape(t []byte) ([]byte, bool) {
	const shape = "dddd-dd-ddTdd:dd:ddZ\""
	if len(t) < len(shape) {
		return nil, false
	}
	for j := 0; j < len(shape); j++ {
		c := t[j]
		if shape[j] == 'd' {
			if c < '0' || c > '9' {
				return nil, false
			}
		} else if c != shape[j] {
			return nil, false
		}
	}
	return t[:len(shape)-1], true
}

// lineStart returns where the line of chunk[h] starts, knowing that one
// starts at pos <= h. Near pos — hits on most lines, as the account's are
// — it looks forward with the vectorised IndexByte; far from it, back
// with LastIndexByte, a byte at a time but over one line only.
func lineStart(chunk []byte, pos, h int) int {
	if h-pos > 16<<10 {
		return bytes.LastIndexByte(chunk[:h], '\n') + 1
	}
	for {
		i := bytes.IndexByte(chunk[pos:h], '\n')
		if i < 0 {
			return pos
		}
		pos += i + 1
	}
}

// lineSpan is a line of a chunk: chunk[start:end], without its newline.
type lineSpan struct{ start, end int }

// candidates appends to dst the lines of chunk (whole lines, each ended
// by a newline but perhaps the last) that hold any of needles, in order.
// Searching the chunk rather than each line keeps the search in
// bytes.Index's vectorised loop for the long stretches of lines that
// hold none.
func candidates(dst []lineSpan, chunk []byte, needles []needle) []lineSpan {
	first := len(dst)
	for k := range needles {
		nd := &needles[k]
		// pos is where the search goes on; ls, at or before it, is where a
		// line starts (pos may be inside a line, after a hit refused).
		for pos, ls := 0, 0; pos < len(chunk); {
			j := bytes.Index(chunk[pos:], nd.find)
			if j < 0 {
				break
			}
			h := pos + j
			if !nd.at(chunk, h) {
				pos = h + 1
				continue
			}
			s := lineStart(chunk, ls, h)
			e := bytes.IndexByte(chunk[h:], '\n')
			if e < 0 {
				e = len(chunk)
			} else {
				e += h
			}
			dst = append(dst, lineSpan{s, e})
			pos, ls = e+1, e+1
		}
		if k > 0 {
			slices.SortFunc(dst[first:], func(a, b lineSpan) int { return a.start - b.start })
			dst = dst[:first+compactSpans(dst[first:])]
		}
	}
	return dst
}

// compactSpans drops repeated spans of a sorted slice and returns how
// many are left.
func compactSpans(s []lineSpan) int {
	if len(s) == 0 {
		return 0
	}
	n := 1
	for i := 1; i < len(s); i++ {
		if s[i] != s[n-1] {
			s[n] = s[i]
			n++
		}
	}
	return n
}
