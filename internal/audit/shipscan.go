package audit

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// The shipper reads every line once more after it is durable; with
// encoding/json that cost two full parses per event (parseLine, then the
// view), ~30 µs on an idle core, which at Encrypt rates would take a
// sizable share of a node's CPU away from requests. scanLine reads the
// same fields in one pass over the compact JSON the log writes, without
// reflection; any line it does not understand falls back to the
// encoding/json path, and FuzzScanLine holds the two to the same answers.

var errScan = errors.New("audit: line not in the log's compact form")

// scanLine reads the fields the shipper needs from a line (without its
// newline): the view's and the log's own two.
func scanLine(b []byte) (view, lineFields, error) {
	var (
		v             view
		lf            lineFields
		seqOK, prevOK bool
	)
	err := scanObject(b, func(key, val []byte) error {
		var err error
		switch string(key) {
		case "eventID":
			v.EventID, err = scanString(val)
		case "eventName":
			v.EventName, err = scanString(val)
		case "eventSource":
			v.EventSource, err = scanString(val)
		case "recipientAccountId":
			v.Recipient, err = scanString(val)
		case "readOnly":
			v.ReadOnly, err = scanBool(val)
		case "eventTime":
			var s string
			if s, err = scanString(val); err == nil {
				v.EventTime.Time, err = time.Parse(timestampLayout, s)
			}
		case "userIdentity":
			err = scanObject(val, func(k, x []byte) error {
				var err error
				switch string(k) {
				case "type":
					v.UserIdentity.Type, err = scanString(x)
				case "arn":
					v.UserIdentity.ARN, err = scanString(x)
				case "accessKeyId":
					v.UserIdentity.AccessKeyID, err = scanString(x)
				case "userName":
					v.UserIdentity.UserName, err = scanString(x)
				}
				return err
			})
		case "resources":
			v.Resources = nil
			err = scanArray(val, func(x []byte) error {
				var r Resource
				err := scanObject(x, func(k, y []byte) error {
					var err error
					switch string(k) {
					case "accountId":
						r.AccountID, err = scanString(y)
					case "type":
						r.Type, err = scanString(y)
					case "ARN":
						r.ARN, err = scanString(y)
					}
					return err
				})
				v.Resources = append(v.Resources, r)
				return err
			})
		case "trentNode":
			v.Node, err = scanString(val)
		case "eventType":
			v.EventType, err = scanString(val)
		case "requestID":
			v.RequestID, err = scanString(val)
		case "errorCode":
			v.ErrorCode, err = scanString(val)
		case "trentSeq":
			lf.Seq, err = strconv.ParseUint(string(val), 10, 64)
			seqOK = err == nil && lf.Seq > 0
		case "trentPrevHash":
			var s string
			if s, err = scanString(val); err == nil && len(s) == 64 && isLowerHex(s) {
				_, err = hex.Decode(lf.PrevHash[:], []byte(s))
				prevOK = err == nil
			}
		}
		return err
	})
	if err != nil || !seqOK || !prevOK {
		return view{}, lineFields{}, errScan
	}
	return v, lf, nil
}

// slowLines counts the lines readLine had to give to encoding/json: a log
// Trent wrote should need none, so tests can tell a caller that silently
// lost the fast path (a line passed with its newline, say).
var slowLines atomic.Uint64

// readLine is scanLine, or the encoding/json path for a line it does not
// take.
func readLine(b []byte) (view, lineFields, error) {
	if v, lf, err := scanLine(b); err == nil {
		return v, lf, nil
	}
	slowLines.Add(1)
	lf, err := parseLine(b)
	if err != nil {
		return view{}, lineFields{}, err
	}
	var v view
	if err := json.Unmarshal(b, &v); err != nil {
		return view{}, lineFields{}, err
	}
	return v, lf, nil
}

// scanObject calls f with each member of the JSON object b (compact: no
// whitespace), its key undecoded and its value as raw bytes. A key
// repeated is given each time (the last one wins, as in encoding/json).
func scanObject(b []byte, f func(key, val []byte) error) error {
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return errScan
	}
	i := 1
	if b[i] == '}' {
		if i+1 != len(b) {
			return errScan
		}
		return nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return errScan
		}
		kend := skipString(b, i)
		if kend < 0 || kend >= len(b) || b[kend] != ':' {
			return errScan
		}
		key := b[i+1 : kend-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			return errScan // no key the log writes needs escaping
		}
		vstart := kend + 1
		vend := skipValue(b, vstart)
		if vend < 0 || vend >= len(b) {
			return errScan
		}
		if err := f(key, b[vstart:vend]); err != nil {
			return err
		}
		switch b[vend] {
		case ',':
			i = vend + 1
		case '}':
			if vend+1 != len(b) {
				return errScan
			}
			return nil
		default:
			return errScan
		}
	}
}

// scanArray calls f with each element of the JSON array b.
func scanArray(b []byte, f func(val []byte) error) error {
	if len(b) == 4 && string(b) == "null" {
		return nil
	}
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return errScan
	}
	i := 1
	if b[i] == ']' {
		if i+1 != len(b) {
			return errScan
		}
		return nil
	}
	for {
		end := skipValue(b, i)
		if end < 0 || end >= len(b) {
			return errScan
		}
		if err := f(b[i:end]); err != nil {
			return err
		}
		switch b[end] {
		case ',':
			i = end + 1
		case ']':
			if end+1 != len(b) {
				return errScan
			}
			return nil
		default:
			return errScan
		}
	}
}

// skipString returns the index just past the string starting at b[i]
// (a quote), or -1.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '\\':
			j++
			if j >= len(b) || bytes.IndexByte([]byte(`"\\/bfnrtu`), b[j]) < 0 {
				return -1
			}
		case c == '"':
			return j + 1
		case c < 0x20:
			return -1
		}
	}
	return -1
}

// skipValue returns the index just past the value starting at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipString(b, j)
				if j < 0 {
					return -1
				}
				j--
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	for _, lit := range []string{"true", "false", "null"} {
		if bytes.HasPrefix(b[i:], []byte(lit)) {
			return i + len(lit)
		}
	}
	return skipNumber(b, i)
}

// skipNumber returns the index just past the JSON number at b[i], or -1.
func skipNumber(b []byte, i int) int {
	j := i
	digits := func() bool {
		k := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		return j > k
	}
	if j < len(b) && b[j] == '-' {
		j++
	}
	if j < len(b) && b[j] == '0' {
		j++
	} else if !digits() {
		return -1
	}
	if j < len(b) && b[j] == '.' {
		j++
		if !digits() {
			return -1
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if !digits() {
			return -1
		}
	}
	return j
}

// scanString decodes a JSON string value; null is "", as encoding/json
// leaves a string field.
func scanString(b []byte) (string, error) {
	if string(b) == "null" {
		return "", nil
	}
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", errScan
	}
	in := b[1 : len(b)-1]
	if bytes.IndexByte(in, '\\') < 0 && utf8.Valid(in) {
		return string(in), nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return "", errScan
	}
	return s, nil
}

func scanBool(b []byte) (bool, error) {
	switch string(b) {
	case "true":
		return true, nil
	case "false", "null":
		return false, nil
	}
	return false, errScan
}
