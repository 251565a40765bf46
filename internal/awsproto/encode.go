package awsproto

import (
	"bytes"
	"encoding/base64"
	jsonv1 "encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/trent-kms/trent/internal/apierr"
)

// sensitiveTag marks an output member that holds plaintext — data keys,
// private keys, shared secrets, random bytes — as `awsproto:"sensitive"`.
// It must be a []byte. Encode writes such members itself, from its own
// buffer, so that they never pass through encoding/json (whose internal
// buffers are pooled and never cleared), and zeroes both the buffer and
// the member once the response is written: a handler hands its plaintext
// to Encode and must not use it afterwards.
const sensitiveTag = "sensitive"

// maxPooledResponse is the largest response buffer kept for reuse; larger
// ones (no KMS response is) are cleared and left to the collector.
const maxPooledResponse = 64 << 10

// Header values every response shares. Each has length and capacity 1,
// so a handler that appended to one would get a new array, never write
// into the shared one; net/http only reads them.
var (
	contentTypeValue = []string{ContentType}
	zeroLengthValue  = []string{"0"}
)

var responseBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Encode writes a 200 response. A nil output is sent as an empty body with
// Content-Length 0, as AWS does for operations without output. The body is
// built in a pooled buffer that is cleared once written, and the output's
// sensitive members (see sensitiveTag) are zeroed.
func Encode(w http.ResponseWriter, out any) {
	h := w.Header()
	// Assigned under their canonical names: Set would canonicalize them
	// and allocate a slice for the constant value on every response.
	h["Content-Type"] = contentTypeValue
	if out == nil {
		h["Content-Length"] = zeroLengthValue
		w.WriteHeader(http.StatusOK)
		return
	}
	secrets := takeSecrets(out)
	defer func() {
		for _, s := range secrets {
			clear(s.value)
		}
	}()
	buf := responseBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		clear(buf.Bytes())
		if buf.Cap() <= maxPooledResponse {
			responseBuffers.Put(buf)
		}
	}()
	if err := encodeTo(buf, out, secrets); err != nil {
		WriteError(w, apierr.Internal(fmt.Errorf("encode response: %w", err)))
		return
	}
	h["Content-Length"] = []string{strconv.Itoa(buf.Len())}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// encodeTo writes out as JSON to buf: the members encoding/json may see,
// then the sensitive ones, written directly.
func encodeTo(buf *bytes.Buffer, out any, secrets []secret) error {
	if a, ok := out.(appender); ok {
		buf.Write(a.appendJSON(buf.AvailableBuffer()))
	} else {
		if err := jsonv1.NewEncoder(buf).Encode(out); err != nil {
			return err
		}
		buf.Truncate(buf.Len() - 1) // Encode's newline
	}
	if len(secrets) == 0 {
		return nil
	}
	if b := buf.Bytes(); len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return fmt.Errorf("%T with sensitive members is not a JSON object", out)
	}
	// Grow once, before any secret is written, so that no copy of one is
	// left behind in a smaller array the buffer outgrew.
	n := 0
	for _, s := range secrets {
		n += len(`,"":""`) + len(s.name) + base64.StdEncoding.EncodedLen(len(s.value))
	}
	buf.Grow(n)
	empty := buf.Len() == 2
	buf.Truncate(buf.Len() - 1) // the closing brace
	for _, s := range secrets {
		if s.omitEmpty && len(s.value) == 0 {
			continue
		}
		if !empty {
			buf.WriteByte(',')
		}
		empty = false
		buf.WriteString(`"` + s.name + `":`)
		if s.value == nil {
			buf.WriteString("null")
			continue
		}
		buf.WriteByte('"')
		buf.Write(base64.StdEncoding.AppendEncode(buf.AvailableBuffer(), s.value))
		buf.WriteByte('"')
	}
	buf.WriteByte('}')
	return nil
}

// secret is a sensitive member taken out of an output.
type secret struct {
	name      string
	omitEmpty bool
	value     []byte
}

// takeSecrets returns the sensitive members of out, a pointer to a struct,
// and sets them to nil in out so that encoding/json leaves them out.
func takeSecrets(out any) []secret {
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	v = v.Elem()
	fields := sensitiveFieldsOf(v.Type())
	if len(fields) == 0 {
		return nil
	}
	secrets := make([]secret, len(fields))
	for i, f := range fields {
		fv := v.FieldByIndex(f.index)
		secrets[i] = secret{name: f.name, omitEmpty: f.omitEmpty, value: fv.Bytes()}
		fv.SetBytes(nil)
	}
	return secrets
}

type sensitiveField struct {
	index     []int
	name      string
	omitEmpty bool
}

var sensitiveFields sync.Map // reflect.Type → []sensitiveField

// sensitiveFieldsOf returns the members of struct type t tagged sensitive,
// embedded structs' included. It panics on a tagged member that is not a
// []byte: that is a programming error in this package's types.
func sensitiveFieldsOf(t reflect.Type) []sensitiveField {
	if fs, ok := sensitiveFields.Load(t); ok {
		return fs.([]sensitiveField)
	}
	var fs []sensitiveField
	var walk func(t reflect.Type, index []int)
	walk = func(t reflect.Type, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			idx := append(append([]int(nil), index...), i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				walk(f.Type, idx)
				continue
			}
			if f.Tag.Get("awsproto") != sensitiveTag {
				continue
			}
			if f.Type != bytesType {
				panic(fmt.Sprintf("awsproto: sensitive member %s.%s is %s, not []byte", t, f.Name, f.Type))
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" {
				name = f.Name
			}
			fs = append(fs, sensitiveField{index: idx, name: name, omitEmpty: opts == "omitempty"})
		}
	}
	walk(t, nil)
	sensitiveFields.Store(t, fs)
	return fs
}
