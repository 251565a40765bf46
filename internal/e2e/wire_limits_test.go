package e2e

import (
	"bytes"
	"fmt"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/awsproto"
	"github.com/trent-kms/trent/internal/kms"
)

const (
	// maxErrorBody is the most any error response may be, whatever the
	// request: a request of at most 1 MiB must not be able to make Trent
	// answer, or build, a larger one.
	maxErrorBody = 8 << 10
	// maxAllocPerByte and maxAllocFixed bound what the server may allocate
	// for a hostile request of n bytes: maxAllocPerByte*n + maxAllocFixed.
	// Reading the body into a growing buffer and copying its strings out
	// cost about 3 bytes per byte; the fixed part covers the slices and
	// maps a decoder may grow, up to awsproto.MaxElements elements (a map of
	// 10,000 pairs takes about 1 MB). Before the limits, 1 MiB of empty
	// GrantTokens cost 400 MB.
	maxAllocPerByte = 8
	maxAllocFixed   = 2 << 20
	// hostileSize is the size of every hostile body: just under the cap.
	hostileSize = awsproto.MaxBodyBytes - 1024
)

// hostileBody is one body of TestWireHostileBodies: the member it attacks
// and the JSON.
type hostileBody struct {
	name string
	body []byte
}

// member is a top-level member of an input type.
type member struct {
	name string
	typ  reflect.Type
}

// members lists the JSON members of an input struct, those of embedded
// structs included.
func members(t reflect.Type) []member {
	var out []member
	for f := range t.Fields() {
		if f.Anonymous {
			out = append(out, members(f.Type)...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		out = append(out, member{name, f.Type})
	}
	return out
}

// repeatTo appends elem, separated by commas, until dst would pass n bytes.
func repeatTo(dst *bytes.Buffer, elem string, n int) {
	for i := 0; dst.Len()+len(elem)+1 < n; i++ {
		if i > 0 {
			dst.WriteByte(',')
		}
		dst.WriteString(elem)
	}
}

// hostileValues returns ways to fill a member of type typ with about n
// bytes of JSON that is well-formed but invalid, or costly, or both; nil
// for types with no room for many bytes (numbers, booleans).
func hostileValues(typ reflect.Type, n int) map[string]string {
	if typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	// '<' is one byte in a request and six (\u003c) in an echoing
	// response: the worst a message can do with what it repeats.
	long := func(n int) string { return `"` + strings.Repeat("<", max(n-2, 1)) + `"` }
	list := func(elem string) string {
		var b bytes.Buffer
		b.WriteByte('[')
		repeatTo(&b, elem, n-1)
		b.WriteByte(']')
		return b.String()
	}
	switch {
	case typ.Kind() == reflect.String:
		return map[string]string{"long string": long(n)}
	case typ == reflect.TypeFor[[]byte]():
		return map[string]string{"long blob": `"` + strings.Repeat("A", (n-2)/4*4) + `"`}
	case typ.Kind() == reflect.Slice && typ.Elem().Kind() == reflect.String:
		return map[string]string{
			"empty elements": list(`""`),
			// Few enough to pass any length check, each one too long.
			"long elements": list(long(n / 12)),
		}
	case typ.Kind() == reflect.Slice && typ.Elem().Kind() == reflect.Struct:
		return map[string]string{
			"empty elements": list(`{}`),
			"long elements":  list(`{"TagKey":` + long(n/24) + `,"TagValue":` + long(n/24) + `}`),
		}
	case typ.Kind() == reflect.Map:
		var pairs bytes.Buffer
		pairs.WriteByte('{')
		for i := 0; pairs.Len() < n-16; i++ {
			if i > 0 {
				pairs.WriteByte(',')
			}
			fmt.Fprintf(&pairs, `"%x":""`, i)
		}
		pairs.WriteByte('}')
		return map[string]string{
			"many pairs": pairs.String(),
			"long key":   `{` + long(n-8) + `:""}`,
		}
	}
	return nil
}

// hostileBodies returns the hostile bodies of an operation: each member
// attacked alone (beside a real KeyId, so that handlers get as far as they
// can), and all of them at once.
func hostileBodies(in reflect.Type, keyID string) []hostileBody {
	var out []hostileBody
	ms := members(in)
	base := `{"KeyId":"` + keyID + `"`
	for _, m := range ms {
		for kind, v := range hostileValues(m.typ, hostileSize-len(base)-len(m.name)-8) {
			b := base
			if m.name == "KeyId" {
				b = `{"_":0`
			}
			out = append(out, hostileBody{m.name + ": " + kind, []byte(b + `,"` + m.name + `":` + v + `}`)})
		}
	}
	// Every member at once, each with its share of the bytes.
	var all bytes.Buffer
	all.WriteByte('{')
	for _, m := range ms {
		for _, v := range hostileValues(m.typ, hostileSize/(2*len(ms)+1)) {
			if all.Len() > 1 {
				all.WriteByte(',')
			}
			all.WriteString(strconv.Quote(m.name) + ":" + v)
			break // one value per member: names must not repeat
		}
	}
	all.WriteByte('}')
	return append(out, hostileBody{"all members", all.Bytes()})
}

// TestWireHostileBodies sends every operation bodies of about 1 MiB built
// to make validation amplify them — long lists of empty or invalid
// elements in every list member, long strings in every string member, many
// pairs in every map — and checks that no answer is larger than
// maxErrorBody and that the server allocates no more than a small multiple
// of the request's size (the server runs in this process, so the process's
// allocation counter tells). Before the limits, 1 MiB of empty GrantTokens
// made a 42.5 MB error message, and 1 MiB of {} tags a 68 MB one.
func TestWireHostileBodies(t *testing.T) {
	w := startWire(t)
	keyID := w.createKey(t)
	// One request first, so that what a first request sets up once (pools,
	// caches) is not counted against a hostile one.
	w.post(t, "DescribeKey", []byte(`{"KeyId":"`+keyID+`"}`), true)
	var stats runtime.MemStats
	for _, op := range dispatchOps {
		row, ok := kms.Lookup(op)
		if !ok || row.Input == nil {
			t.Fatalf("%s: no operation with an input type", op)
		}
		for _, hb := range hostileBodies(row.Input, keyID) {
			if len(hb.body) > awsproto.MaxBodyBytes {
				t.Fatalf("%s %s: body of %d bytes is over the cap", op, hb.name, len(hb.body))
			}
			req := w.newRequest(t, op, hb.body)
			w.Sign(t, req, hb.body, time.Now())
			runtime.ReadMemStats(&stats)
			before := stats.TotalAlloc
			r := w.do(t, req)
			runtime.ReadMemStats(&stats)
			alloc := stats.TotalAlloc - before
			if len(r.body) > maxErrorBody {
				t.Errorf("%s %s (%d bytes): %d answered %d bytes (%.60q…), want at most %d",
					op, hb.name, len(hb.body), r.status, len(r.body), r.body, maxErrorBody)
			}
			if limit := uint64(maxAllocPerByte*len(hb.body) + maxAllocFixed); alloc > limit {
				t.Errorf("%s %s (%d bytes): %d MB allocated, want at most %d MB",
					op, hb.name, len(hb.body), alloc>>20, limit>>20)
			}
			if testing.Verbose() {
				t.Logf("%-36s %-28s %4d %6d B answered, %5.1f B allocated per request byte", op, hb.name, r.status, len(r.body), float64(alloc)/float64(len(hb.body)))
			}
		}
	}
}

// TestWireListLimits checks the answers to lists over AWS's limits: the
// length is judged before the elements, and lists longer than any KMS
// input has are refused before they are decoded.
func TestWireListLimits(t *testing.T) {
	w := startWire(t)
	keyID := w.createKey(t)
	list := func(elem string, n int) string { return "[" + strings.Repeat(elem+",", n-1) + elem + "]" }
	for _, tc := range []struct {
		op, body, typ, msg string
	}{
		{"Encrypt", `{"KeyId":"` + keyID + `","Plaintext":"AA==","GrantTokens":` + list(`""`, 11) + `}`, "ValidationException",
			"1 validation error detected: Value at 'grantTokens' failed to satisfy constraint: Member must have length less than or equal to 10"},
		{"UntagResource", `{"KeyId":"` + keyID + `","TagKeys":` + list(`""`, 51) + `}`, "ValidationException",
			"1 validation error detected: Value at 'tagKeys' failed to satisfy constraint: Member must have length less than or equal to 50"},
		{"TagResource", `{"KeyId":"` + keyID + `","Tags":` + list(`{}`, 51) + `}`, "TagException", "Too many tags"},
		{"CreateKey", `{"Tags":` + list(`{}`, 51) + `}`, "TagException", "Too many tags"},
		{"Decrypt", `{"DryRunModifiers":` + list(`"X"`, 1000) + `}`, "ValidationException",
			"1001 validation errors detected: Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null; " +
				"Value 'X' at 'dryRunModifiers.1.member' failed to satisfy constraint: Member must satisfy enum value set: [IGNORE_CIPHERTEXT]; "},
		{"Encrypt", `{"GrantTokens":` + list(`""`, awsproto.MaxElements+1) + `}`, "SerializationException",
			"Request body has a list or map of more than 10000 elements."},
		{"Encrypt", `{"Unknown":` + list(`0`, awsproto.MaxElements+1) + `}`, "SerializationException",
			"Request body has a list or map of more than 10000 elements."},
	} {
		msg := wantWireError(t, w.post(t, tc.op, []byte(tc.body), true), 400, tc.typ)
		if !strings.HasPrefix(msg, tc.msg) {
			t.Errorf("%s %.60s…: message %.300q, want prefix %q", tc.op, tc.body, msg, tc.msg)
		}
	}
}
