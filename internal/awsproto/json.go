// Package awsproto is the AWS JSON 1.1 wire format of the KMS API: decoding
// request bodies into typed inputs, encoding outputs, and turning
// *apierr.Error values into AWS-shaped error responses. It is the only place
// that picks HTTP status codes. It never interprets what a request means.
package awsproto

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

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
	// ContentType is the AWS JSON 1.1 media type.
	ContentType = "application/x-amz-json-1.1"
)

// Decode parses body into v, a pointer to an input struct. An empty body is
// taken as {}. Malformed JSON, nesting deeper than MaxDepth, a top-level
// value that is not an object, a member of the wrong type, a blob that is
// not base64 and text that is not valid UTF-8 (which encoding/json would
// silently replace with U+FFFD) are SerializationException, as AWS's JSON
// services answer. Unknown members are ignored.
func Decode(body []byte, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	if body[0] != '{' {
		return apierr.New(apierr.Serialization, "Start of structure or map expected.")
	}
	if jsonlimit.TooDeep(body, MaxDepth) {
		return apierr.New(apierr.Serialization, "Request body is nested too deeply.")
	}
	if !utf8.Valid(body) {
		return apierr.New(apierr.Serialization, "Request body is not valid UTF-8.")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return serializationError(err)
	}
	return nil
}

func serializationError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	var b64Err base64.CorruptInputError
	switch {
	case errors.As(err, &typeErr):
		if typeErr.Field != "" && typeErr.Type != nil {
			return apierr.New(apierr.Serialization, "Unexpected value type for member %s: expected %s, found %s.", typeErr.Field, typeName(typeErr.Type.Kind().String()), typeErr.Value)
		}
		return apierr.New(apierr.Serialization, "Unexpected value type: found %s.", typeErr.Value)
	case errors.As(err, &syntaxErr):
		return apierr.New(apierr.Serialization, "Malformed JSON at offset %d.", syntaxErr.Offset)
	case errors.As(err, &b64Err):
		return apierr.New(apierr.Serialization, "Blob value is not valid base64.")
	}
	return apierr.New(apierr.Serialization, "Could not parse the request body.")
}

func typeName(kind string) string {
	switch kind {
	case "slice":
		return "list or blob"
	case "map", "struct", "ptr":
		return "structure"
	case "int", "int32", "int64", "uint32", "uint64", "float64":
		return "number"
	}
	return kind
}

// Encode writes a 200 response. A nil output is sent as an empty body with
// Content-Length 0, as AWS does for operations without output.
func Encode(w http.ResponseWriter, out any) {
	h := w.Header()
	h.Set("Content-Type", ContentType)
	if out == nil {
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	}
	body, err := json.Marshal(out)
	if err != nil {
		WriteError(w, apierr.Internal(fmt.Errorf("encode response: %w", err)))
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

type errorBody struct {
	Type    string `json:"__type"`
	Message string `json:"message,omitempty"`
}

// WriteError writes err as an AWS JSON error. Errors that are not
// *apierr.Error become KMSInternalException without detail.
func WriteError(w http.ResponseWriter, err error) {
	e := apierr.As(err)
	body, _ := json.Marshal(errorBody{Type: e.Code, Message: e.Message})
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
	tt := time.Time(t)
	secs := float64(tt.UnixMilli()) / 1000
	return strconv.AppendFloat(nil, secs, 'f', -1, 64), nil
}
