package audit

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// The event encoder. Every request's event is encoded on the request's
// path, so it is written by hand instead of through encoding/json's
// reflection: the bytes are the same as json.Encoder with SetEscapeHTML
// (false) gives for an Event (TestEncoderMatchesEncodingJSON and
// FuzzEventEncoding hold it to that), so the line format, the hash chain
// over it and every reader are unchanged.

// appendEvent appends e's JSON object. The caller has checked the fields
// marshal relies on (a non-zero eventTime among them).
func (e *Event) appendJSON(dst []byte) ([]byte, error) {
	var err error
	dst = append(dst, `{"eventVersion":`...)
	dst = appendKnown(dst, e.EventVersion, EventVersion, quotedEventVersion)
	dst = append(dst, `,"userIdentity":`...)
	if dst, err = e.UserIdentity.appendJSON(dst); err != nil {
		return nil, err
	}
	dst = append(dst, `,"eventTime":`...)
	dst = appendTimestamp(dst, e.EventTime)
	dst = append(dst, `,"eventSource":`...)
	dst = appendKnown(dst, e.EventSource, SourceKMS, quotedSourceKMS)
	dst = append(dst, `,"eventName":`...)
	dst = appendString(dst, e.EventName)
	dst = append(dst, `,"awsRegion":`...)
	dst = appendString(dst, e.AWSRegion)
	dst = append(dst, `,"sourceIPAddress":`...)
	dst = appendString(dst, e.SourceIPAddress)
	dst = append(dst, `,"userAgent":`...)
	dst = appendString(dst, e.UserAgent)
	if e.ErrorCode != "" {
		dst = append(dst, `,"errorCode":`...)
		dst = appendString(dst, e.ErrorCode)
	}
	if e.ErrorMessage != "" {
		dst = append(dst, `,"errorMessage":`...)
		dst = appendString(dst, e.ErrorMessage)
	}
	dst = append(dst, `,"requestParameters":`...)
	if e.paramsMark.marks(e.RequestParameters) {
		dst = append(dst, e.RequestParameters...)
	} else if dst, err = appendRaw(dst, e.RequestParameters); err != nil {
		return nil, err
	}
	dst = append(dst, `,"responseElements":`...)
	if dst, err = appendRaw(dst, e.ResponseElements); err != nil {
		return nil, err
	}
	if len(e.AdditionalEventData) > 0 {
		dst = append(dst, `,"additionalEventData":`...)
		if dst, err = appendRaw(dst, e.AdditionalEventData); err != nil {
			return nil, err
		}
	}
	if e.RequestID != "" {
		dst = append(dst, `,"requestID":`...)
		dst = appendString(dst, e.RequestID)
	}
	dst = append(dst, `,"eventID":`...)
	dst = appendString(dst, e.EventID)
	dst = append(dst, `,"readOnly":`...)
	dst = strconv.AppendBool(dst, e.ReadOnly)
	if len(e.Resources) > 0 {
		dst = append(dst, `,"resources":[`...)
		for i, r := range e.Resources {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"accountId":`...)
			dst = appendString(dst, r.AccountID)
			dst = append(dst, `,"type":`...)
			dst = appendKnown(dst, r.Type, ResourceTypeKey, quotedResourceTypeKey)
			dst = append(dst, `,"ARN":`...)
			dst = appendString(dst, r.ARN)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"eventType":`...)
	dst = appendKnown(dst, e.EventType, TypeAPICall, quotedTypeAPICall)
	dst = append(dst, `,"managementEvent":`...)
	dst = strconv.AppendBool(dst, e.ManagementEvent)
	dst = append(dst, `,"recipientAccountId":`...)
	dst = appendString(dst, e.RecipientAccountID)
	if len(e.ServiceEventDetails) > 0 {
		dst = append(dst, `,"serviceEventDetails":`...)
		if dst, err = appendRaw(dst, e.ServiceEventDetails); err != nil {
			return nil, err
		}
	}
	dst = append(dst, `,"eventCategory":`...)
	dst = appendKnown(dst, e.EventCategory, CategoryManagement, quotedCategoryManagement)
	if t := e.TLSDetails; t != nil {
		dst = append(dst, `,"tlsDetails":{"tlsVersion":`...)
		dst = appendString(dst, t.TLSVersion)
		dst = append(dst, `,"cipherSuite":`...)
		dst = appendString(dst, t.CipherSuite)
		dst = append(dst, `,"clientProvidedHostHeader":`...)
		dst = appendString(dst, t.ClientProvidedHostHeader)
		dst = append(dst, '}')
	}
	return append(dst, '}'), nil
}

func (u *UserIdentity) appendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, '{')
	n := len(dst)
	dst = appendOmitEmpty(dst, n, `"type":`, u.Type)
	dst = appendOmitEmpty(dst, n, `"principalId":`, u.PrincipalID)
	dst = appendOmitEmpty(dst, n, `"arn":`, u.ARN)
	dst = appendOmitEmpty(dst, n, `"accountId":`, u.AccountID)
	dst = appendOmitEmpty(dst, n, `"accessKeyId":`, u.AccessKeyID)
	dst = appendOmitEmpty(dst, n, `"userName":`, u.UserName)
	if s := u.SessionContext; s != nil {
		if len(dst) > n {
			dst = append(dst, ',')
		}
		dst = append(dst, `"sessionContext":{`...)
		if i := s.SessionIssuer; i != nil {
			dst = append(dst, `"sessionIssuer":{"type":`...)
			dst = appendString(dst, i.Type)
			dst = append(dst, `,"principalId":`...)
			dst = appendString(dst, i.PrincipalID)
			dst = append(dst, `,"arn":`...)
			dst = appendString(dst, i.ARN)
			dst = append(dst, `,"accountId":`...)
			dst = appendString(dst, i.AccountID)
			dst = append(dst, `,"userName":`...)
			dst = appendString(dst, i.UserName)
			dst = append(dst, "},"...)
		}
		if s.Attributes.CreationDate.IsZero() {
			// As encoding/json fails on Timestamp's MarshalJSON.
			_, err := s.Attributes.CreationDate.MarshalJSON()
			return nil, err
		}
		dst = append(dst, `"attributes":{"creationDate":`...)
		dst = appendTimestamp(dst, s.Attributes.CreationDate)
		dst = append(dst, `,"mfaAuthenticated":`...)
		dst = appendString(dst, s.Attributes.MFAAuthenticated)
		dst = append(dst, '}')
		if s.SourceIdentity != "" {
			dst = append(dst, `,"sourceIdentity":`...)
			dst = appendString(dst, s.SourceIdentity)
		}
		dst = append(dst, '}')
	}
	dst = appendOmitEmpty(dst, n, `"invokedBy":`, u.InvokedBy)
	return append(dst, '}'), nil
}

// appendOmitEmpty appends the member key (`"name":`) with string value v
// unless v is empty, after a comma unless it is the first member of the
// object that starts at dst[n].
func appendOmitEmpty(dst []byte, n int, key, v string) []byte {
	if v == "" {
		return dst
	}
	if len(dst) > n {
		dst = append(dst, ',')
	}
	dst = append(dst, key...)
	return appendString(dst, v)
}

// The values nearly every event has, as JSON strings: appendKnown copies
// them instead of scanning them again.
var (
	quotedEventVersion       = string(appendString(nil, EventVersion))
	quotedSourceKMS          = string(appendString(nil, SourceKMS))
	quotedTypeAPICall        = string(appendString(nil, TypeAPICall))
	quotedCategoryManagement = string(appendString(nil, CategoryManagement))
	quotedResourceTypeKey    = string(appendString(nil, ResourceTypeKey))
)

// appendKnown appends s as a JSON string: quoted, when s is known, of
// which quoted is the JSON string.
func appendKnown(dst []byte, s, known, quoted string) []byte {
	if s == known {
		return append(dst, quoted...)
	}
	return appendString(dst, s)
}

// appendTimestamp appends a non-zero t as Timestamp.MarshalJSON does.
// Years of four digits, all of them in practice, are written digit by
// digit: time's layout interpreter was a measurable part of an event.
func appendTimestamp(dst []byte, t Timestamp) []byte {
	u := t.UTC()
	year, month, day := u.Date()
	if year < 0 || year > 9999 {
		dst = append(dst, '"')
		dst = u.AppendFormat(dst, timestampLayout)
		return append(dst, '"')
	}
	hour, minute, sec := u.Clock()
	return append(dst, '"',
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+month/10), byte('0'+month%10), '-', byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':', byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), 'Z', '"')
}

// appendRaw appends a json.RawMessage member as encoding/json does: null
// when nil, else compacted, and refused if it is not valid JSON.
func appendRaw(dst []byte, raw json.RawMessage) ([]byte, error) {
	if raw == nil {
		return append(dst, "null"...), nil
	}
	if valid, compact := scanJSON(raw); valid && compact {
		return append(dst, raw...), nil
	}
	// White space to take out, or not JSON (json.Compact says why); either
	// is rare, as every raw member Trent makes is compact already.
	buf := bytes.NewBuffer(dst)
	if err := json.Compact(buf, raw); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

const hexDigits = "0123456789abcdef"

// word is the eight bytes of w, little-endian. (Indexing w, of known
// length, lets the compiler drop the bounds checks and load it as one
// word.)
func word(w string) uint64 {
	_ = w[7]
	return uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
		uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
}

// mayNeedEscape reports whether any of the eight bytes in x is below
// 0x20, '"', '\\' or not ASCII. It may say yes for bytes that need nothing
// (a borrow between bytes), never no for one that does: the lowest such
// byte always sets its top bit in one of the terms.
func mayNeedEscape(x uint64) bool {
	const ones, tops = 0x0101010101010101, 0x8080808080808080
	quote, backslash := x^(ones*'"'), x^(ones*'\\')
	return ((x-ones*0x20)|(quote-ones)|(backslash-ones)|x)&tops != 0
}

// appendString appends s as a JSON string exactly as encoding/json does
// without HTML escaping: \b \f \n \r \t and the other control characters
// escaped, invalid UTF-8 replaced by \ufffd, U+2028 and U+2029 escaped.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	// Most strings of an event need no escape: found so a word at a time,
	// the last word overlapping the one before, they are copied whole.
	i := 0
	for len(s)-i >= 8 && !mayNeedEscape(word(s[i:i+8])) {
		i += 8
	}
	if i == len(s) || len(s) >= 8 && len(s)-i < 8 && !mayNeedEscape(word(s[len(s)-8:])) {
		dst = append(dst, s...)
		return append(dst, '"')
	}
	start := 0
	for i < len(s) {
		// Eight plain ASCII bytes at a time: most of an event is.
		if len(s)-i >= 8 && !mayNeedEscape(word(s[i:i+8])) {
			i += 8
			continue
		}
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
