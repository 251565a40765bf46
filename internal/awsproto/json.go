// Package awsproto is the AWS JSON 1.1 wire format of the KMS API: decoding
// request bodies into typed inputs, encoding outputs, and turning
// *apierr.Error values into AWS-shaped error responses. It is the only place
// that picks HTTP status codes. It never interprets what a request means.
package awsproto

import (
	"bytes"
	jsonv1 "encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	// The candidate for encoding/json/v2 (stable in Go 1.27, where this
	// import becomes "encoding/json/v2"): unlike encoding/json it decodes
	// without loss — exact member names, no duplicate names, no silent
	// replacement of invalid text.
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/jsonlimit"
)

const (
	// MaxBodyBytes caps a request body. The largest legitimate KMS request is
	// a key policy (32 KB, up to 6× longer once JSON-escaped) or a 6 KB
	// ciphertext in base64, so 1 MiB leaves ample room and bounds memory.
	MaxBodyBytes = 1 << 20
	// MaxDepth bounds JSON nesting. KMS inputs nest at most three levels
	// (Tags → [] → {}); anything deeper is not a KMS request.
	MaxDepth = 16
	// MaxElements bounds the elements of any one array and the members of
	// any one object. No KMS input comes near it (the longest lists AWS
	// allows hold 50 tags; an encryption context within its size limit has
	// fewer than 4,200 pairs), and it keeps a decoder from growing a slice
	// or map over hundreds of thousands of elements — at five times their
	// bytes and more — only for validation to refuse them.
	MaxElements = 10_000
	// ContentType is the AWS JSON 1.1 media type.
	ContentType = "application/x-amz-json-1.1"
	// MaxErrorMessageBytes bounds the message of an error response as it
	// is sent (see EscapedLen), so that every error body, whatever the
	// request, stays under 8 KiB with its __type.
	MaxErrorMessageBytes = 6 << 10
)

// Decode parses body into v, a pointer to an input struct. An empty body is
// taken as {}. Member names match exactly, as AWS's parser matches them: a
// member spelled in another case is unknown, and unknown members are
// ignored. Malformed JSON, nesting deeper than MaxDepth, an array or object
// of more than MaxElements elements, a top-level value
// that is not an object, a member of the wrong type, a blob that is not
// base64, text that is not valid UTF-8 (including escaped unpaired
// surrogates) and a member name that appears twice in one object (at any
// depth, encryption context maps included) are SerializationException, as
// AWS's JSON services answer: what Trent authenticates and binds into
// ciphertexts must be exactly what the caller sent, never a lossy reading
// of it.
func Decode(body []byte, v any) error {
	// JSON's whitespace only: bytes.TrimSpace would also drop \v, \f,
	// U+0085 and U+00A0 and so accept bodies that are not JSON.
	body = bytes.Trim(body, " \t\r\n")
	if len(body) == 0 {
		return nil
	}
	if body[0] != '{' {
		return apierr.New(apierr.Serialization, "Start of structure or map expected.")
	}
	switch jsonlimit.Check(body, jsonlimit.Limits{Depth: MaxDepth, Elements: MaxElements}) {
	case jsonlimit.ErrTooDeep:
		return apierr.New(apierr.Serialization, "Request body is nested too deeply.")
	case jsonlimit.ErrTooLong:
		return apierr.New(apierr.Serialization, "Request body has a list or map of more than %d elements.", MaxElements)
	}
	// json (v2) refuses duplicate names, invalid UTF-8 and unpaired
	// surrogates and matches names case-sensitively by default; no option
	// here may loosen that.
	if err := json.Unmarshal(body, v); err != nil {
		return serializationError(err)
	}
	return nil
}

// maxEchoedMember bounds how much of a member's path a serialization error
// repeats: paths through maps hold the caller's own keys.
const maxEchoedMember = 256

func serializationError(err error) error {
	var semErr *json.SemanticError
	var synErr *jsontext.SyntacticError
	switch {
	case errors.As(err, &synErr):
		switch {
		case errors.Is(synErr.Err, jsontext.ErrDuplicateName):
			return apierr.New(apierr.Serialization, "Duplicate member name at offset %d.", synErr.ByteOffset)
		case errors.Is(synErr.Err, errInvalidUTF8):
			return apierr.New(apierr.Serialization, "Request body is not valid UTF-8.")
		}
		return apierr.New(apierr.Serialization, "Malformed JSON at offset %d.", synErr.ByteOffset)
	case errors.As(err, &semErr):
		if semErr.GoType == bytesType && semErr.JSONKind == '"' {
			return apierr.New(apierr.Serialization, "Blob value is not valid base64.")
		}
		found := kindName(semErr.JSONKind)
		if semErr.JSONKind == '0' && len(semErr.JSONValue) > 0 {
			found += " " + Clip(string(semErr.JSONValue), 32)
		}
		member := memberPath(semErr.JSONPointer)
		if member != "" && semErr.GoType != nil {
			return apierr.New(apierr.Serialization, "Unexpected value type for member %s: expected %s, found %s.", member, typeName(semErr.GoType.Kind()), found)
		}
		return apierr.New(apierr.Serialization, "Unexpected value type: found %s.", found)
	}
	return apierr.New(apierr.Serialization, "Could not parse the request body.")
}

var bytesType = reflect.TypeFor[[]byte]()

// errInvalidUTF8 is the error jsontext reports for text that is not UTF-8;
// it exports no sentinel for it, so Decode learns it from the package once.
var errInvalidUTF8 = func() error {
	var synErr *jsontext.SyntacticError
	if !errors.As(json.Unmarshal([]byte("\"\xff\""), new(string)), &synErr) {
		panic("awsproto: jsontext accepted invalid UTF-8")
	}
	return synErr.Err
}()

// memberPath renders a JSON pointer as AWS names members, dot-separated
// ("Tags.0.TagKey"), clipped to maxEchoedMember bytes.
func memberPath(p jsontext.Pointer) string {
	var b strings.Builder
	for tok := range p.Tokens() {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
		if b.Len() > maxEchoedMember {
			break
		}
	}
	return Clip(b.String(), maxEchoedMember)
}

func kindName(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 'f', 't':
		return "bool"
	case '"':
		return "string"
	case '0':
		return "number"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "value"
}

func typeName(kind reflect.Kind) string {
	switch kind {
	case reflect.Slice, reflect.Array:
		return "list or blob"
	case reflect.Map, reflect.Struct, reflect.Pointer:
		return "structure"
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint32, reflect.Uint64, reflect.Float64:
		return "number"
	}
	return kind.String()
}

type errorBody struct {
	Type    string `json:"__type"`
	Message string `json:"message,omitempty"`
}

// WriteError writes err as an AWS JSON error. Errors that are not
// *apierr.Error become KMSInternalException without detail. A message
// longer than MaxErrorMessageBytes is clipped: messages repeat parts of
// requests, and an error must never amplify the request that caused it.
func WriteError(w http.ResponseWriter, err error) {
	e := apierr.As(err)
	body, _ := jsonv1.Marshal(errorBody{Type: e.Code, Message: Clip(e.Message, MaxErrorMessageBytes)})
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Amzn-ErrorType", e.Code)
	w.WriteHeader(apierr.HTTPStatus(e.Code))
	_, _ = w.Write(body)
}

// Timestamp is a time sent as epoch seconds with a fraction, as AWS's JSON
// protocol sends timestamps (e.g. 1.499288695918E9).
type Timestamp time.Time

// Time returns t as a *Timestamp, or nil for the zero time so that
// omitempty drops it.
func Time(t time.Time) *Timestamp {
	if t.IsZero() {
		return nil
	}
	ts := Timestamp(t)
	return &ts
}

func (t Timestamp) MarshalJSON() ([]byte, error) {
	return t.appendJSON(nil), nil
}

// EscapedLen is the length of s once encoding/json has written it inside a
// JSON string: control characters, <, >, & and U+2028/U+2029 become six-byte
// \u escapes, " and \ two bytes, and each byte of invalid UTF-8 the six of
// \ufffd. An error body's size is judged by it, since escaping can make a
// message six times longer on the wire than in memory.
func EscapedLen(s string) int {
	n := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		n += escapedLen(r, size)
		i += size
	}
	return n
}

func escapedLen(r rune, size int) int {
	switch {
	case r == '"' || r == '\\':
		return 2
	case r < 0x20 || r == '<' || r == '>' || r == '&' || r == '\u2028' || r == '\u2029':
		return 6
	case r == utf8.RuneError && size == 1:
		return 6 // invalid UTF-8, written as \ufffd
	}
	return size
}

// clipMark ends a clipped string, so that a reader can tell it was cut.
const clipMark = "..."

// Clip returns s if EscapedLen(s) <= max, and otherwise the longest prefix of
// s, cut at a character boundary, that with clipMark appended escapes to at
// most max bytes. Every value an error message repeats from a request goes
// through it, so that no request can make its error larger than itself.
func Clip(s string, max int) string {
	if len(s) <= max/6 || EscapedLen(s) <= max {
		return s
	}
	budget := max - len(clipMark)
	n := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		n += escapedLen(r, size)
		if n > budget {
			return s[:i] + clipMark
		}
		i += size
	}
	return s
}
