package awsquery

import (
	"bytes"
	"cmp"
	"encoding/xml"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
)

// ContentType is the media type of Query responses: IAM and STS send
// text/xml.
const ContentType = "text/xml"

// timeFormat is ISO 8601 in UTC to the second, as IAM and STS send
// timestamps (e.g. 2026-12-06T10:13:12Z).
const timeFormat = "2006-01-02T15:04:05Z"

// WriteResult writes a 200 response for op:
//
//	<OpResponse xmlns="…"><OpResult>…</OpResult><ResponseMetadata><RequestId>…</RequestId></ResponseMetadata></OpResponse>
//
// out must be a non-nil pointer to op's output type, or nil for an
// operation without a result, whose response has no Result element. A
// mismatch is a bug in the caller and is answered as an internal failure.
func (s *Service) WriteResult(w http.ResponseWriter, requestID string, op *Operation, out any) {
	body, err := s.marshalResult(requestID, op, out)
	if err != nil {
		s.WriteError(w, requestID, err)
		return
	}
	write(w, requestID, http.StatusOK, body)
}

// WriteError writes err as an IAM or STS error response with the status
// AWS sends for its code (see WireError for how err becomes a code):
//
//	<ErrorResponse xmlns="…"><Error><Type>Sender</Type><Code>…</Code><Message>…</Message></Error><RequestId>…</RequestId></ErrorResponse>
//
// The message element is left out when the message is empty.
func (s *Service) WriteError(w http.ResponseWriter, requestID string, err error) {
	status, body := s.marshalError(requestID, err)
	write(w, requestID, status, body)
}

func write(w http.ResponseWriter, requestID string, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Amzn-RequestId", requestID)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *Service) marshalResult(requestID string, op *Operation, out any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("<" + op.Name + `Response xmlns="` + s.Namespace + `">`)
	if op.output == nil {
		if out != nil {
			return nil, fmt.Errorf("awsquery: %s has no result but was given a %T", op.Name, out)
		}
	} else {
		v := reflect.ValueOf(out)
		if !v.IsValid() || v.Type() != reflect.PointerTo(op.output) || v.IsNil() {
			return nil, fmt.Errorf("awsquery: %s result is a %T, want a non-nil *%s", op.Name, out, op.output)
		}
		b.WriteString("<" + op.Name + "Result>")
		encodeStruct(&b, v.Elem())
		b.WriteString("</" + op.Name + "Result>")
	}
	b.WriteString("<ResponseMetadata>")
	element(&b, "RequestId", requestID)
	b.WriteString("</ResponseMetadata></" + op.Name + "Response>")
	return b.Bytes(), nil
}

// MaxErrorMessageBytes bounds an error message as it is sent, before
// escaping. Messages repeat parts of the request (an IAM AccessDenied
// names the resource), and a request may be 1 MiB: a hostile one must not
// be echoed whole. The JSON APIs bound theirs the same way
// (awsproto.MaxErrorMessageBytes).
const MaxErrorMessageBytes = 6 << 10

func (s *Service) marshalError(requestID string, err error) (int, []byte) {
	e := s.WireError(err)
	status := HTTPStatus(e.Code)
	var b bytes.Buffer
	b.WriteString(`<ErrorResponse xmlns="` + s.Namespace + `"><Error>`)
	element(&b, "Type", errorType(status))
	element(&b, "Code", e.Code)
	if e.Message != "" {
		element(&b, "Message", apierr.ClipMessage(e.Message, MaxErrorMessageBytes))
	}
	b.WriteString("</Error>")
	element(&b, "RequestId", requestID)
	b.WriteString("</ErrorResponse>")
	return status, b.Bytes()
}

// element writes <name>text</name> with text escaped. Characters XML
// cannot carry at all (most C0 controls) become U+FFFD, which is the most
// any XML encoder can do with them.
func element(b *bytes.Buffer, name, text string) {
	b.WriteString("<" + name + ">")
	_ = xml.EscapeText(b, []byte(text))
	b.WriteString("</" + name + ">")
}

func encodeStruct(b *bytes.Buffer, v reflect.Value) {
	for _, f := range fieldsOf(v.Type()) {
		encodeMember(b, f.name, v.Field(f.index), f.omitEmpty)
	}
}

// encodeMember writes v as the element name. A nil pointer is left out,
// and so is any zero value or empty list tagged omitempty. A list without
// omitempty is always sent, empty or nil alike, as AWS sends <Users/> when
// there are none: the CLI then shows "Users": [] rather than nothing. The
// shape, not the handler's choice between nil and empty, decides.
func encodeMember(b *bytes.Buffer, name string, v reflect.Value, omitEmpty bool) {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	} else if omitEmpty && v.IsZero() {
		return
	}
	switch v.Type() {
	case timeType:
		element(b, name, v.Interface().(time.Time).UTC().Format(timeFormat))
		return
	case policyType:
		element(b, name, escapePolicy(v.String()))
		return
	}
	switch v.Kind() {
	case reflect.String:
		element(b, name, v.String())
	case reflect.Bool:
		element(b, name, strconv.FormatBool(v.Bool()))
	case reflect.Int32, reflect.Int64:
		element(b, name, strconv.FormatInt(v.Int(), 10))
	case reflect.Struct:
		b.WriteString("<" + name + ">")
		encodeStruct(b, v)
		b.WriteString("</" + name + ">")
	case reflect.Slice:
		if omitEmpty && v.Len() == 0 {
			return
		}
		b.WriteString("<" + name + ">")
		for i := range v.Len() {
			encodeMember(b, "member", v.Index(i), false)
		}
		b.WriteString("</" + name + ">")
	case reflect.Map:
		if omitEmpty && v.Len() == 0 {
			return
		}
		// Sorted, so that a response is a function of its value.
		keys := v.MapKeys()
		slices.SortFunc(keys, func(x, y reflect.Value) int {
			return cmp.Compare(x.String(), y.String())
		})
		b.WriteString("<" + name + ">")
		for _, k := range keys {
			b.WriteString("<entry>")
			element(b, "key", k.String())
			element(b, "value", v.MapIndex(k).String())
			b.WriteString("</entry>")
		}
		b.WriteString("</" + name + ">")
	default:
		// checkShape refuses every other kind when the tables are built.
		panic(fmt.Sprintf("awsquery: cannot encode %s", v.Type()))
	}
}

// escapePolicy percent-encodes a policy document as IAM does: RFC 3986,
// every byte outside the unreserved set (ALPHA DIGIT - . _ ~) as %XX. A
// space is %20, never '+', and '+' itself is escaped, so both
// url.QueryUnescape and url.PathUnescape (and Python's unquote, which the
// AWS CLI uses) give the document back unchanged.
func escapePolicy(s string) string {
	const hex = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	out := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			out = append(out, c)
		} else {
			out = append(out, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(out)
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
