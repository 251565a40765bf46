package awsproto

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
)

// wantSerialization fails t unless err is an *apierr.Error with code
// SerializationException.
func wantSerialization(t *testing.T, err error) {
	t.Helper()
	var e *apierr.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *apierr.Error", err, err)
	}
	if e.Code != apierr.Serialization {
		t.Fatalf("code = %s (%q), want %s", e.Code, e.Message, apierr.Serialization)
	}
}

func TestDecodeEmptyBodyIsEmptyObject(t *testing.T) {
	for _, body := range []string{"", " ", "\n\t \r\n", "{}", " { } "} {
		var in EncryptInput
		if err := Decode([]byte(body), &in); err != nil {
			t.Errorf("Decode(%q) = %v, want nil", body, err)
		}
		if in.KeyId != nil || in.Plaintext != nil || in.EncryptionContext != nil {
			t.Errorf("Decode(%q) set members: %+v", body, in)
		}
	}
}

func TestDecodeValid(t *testing.T) {
	body := `{"KeyId":"alias/app","Plaintext":"aGVsbG8=","EncryptionContext":{"a":"b"},` +
		`"GrantTokens":["t"],"DryRun":true,"SomethingNew":{"x":[1,2,{"y":null}]}}`
	var in EncryptInput
	if err := Decode([]byte(body), &in); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if in.KeyId == nil || *in.KeyId != "alias/app" || string(in.Plaintext) != "hello" ||
		in.EncryptionContext["a"] != "b" || len(in.GrantTokens) != 1 || !in.DryRun {
		t.Fatalf("Decode = %+v", in)
	}
}

func TestDecodeUnknownMembersIgnored(t *testing.T) {
	var in CreateKeyInput
	body := `{"Description":"d","NotAMember":[[["deep but fine"]]],"AnotherOne":{"a":1},"Third":null}`
	if err := Decode([]byte(body), &in); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if in.Description == nil || *in.Description != "d" {
		t.Fatalf("Description = %v", in.Description)
	}
}

func TestDecodeSerializationErrors(t *testing.T) {
	deep := `{"Description":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}`
	for _, tc := range []struct {
		name, body string
	}{
		{"top-level array", `[]`},
		{"top-level string", `"KeyId"`},
		{"top-level number", `42`},
		{"top-level null", `null`},
		{"top-level true", `true`},
		{"leading garbage", `x{}`},
		{"truncated", `{"KeyId":"a"`},
		{"trailing garbage", `{"KeyId":"a"} x`},
		{"two objects", `{}{}`},
		{"trailing comma", `{"KeyId":"a",}`},
		{"single quotes", `{'KeyId':'a'}`},
		{"unquoted member", `{KeyId:"a"}`},
		{"bad escape", `{"KeyId":"\q"}`},
		{"control character in string", "{\"KeyId\":\"a\x01b\"}"},
		{"number for string", `{"KeyId":5}`},
		{"object for string", `{"KeyId":{}}`},
		{"array for string", `{"KeyId":["a"]}`},
		{"bool for string", `{"KeyId":true}`},
		{"string for bool", `{"DryRun":"true"}`},
		{"string for map", `{"EncryptionContext":"a=b"}`},
		{"number in map", `{"EncryptionContext":{"a":1}}`},
		{"string for list", `{"GrantTokens":"t"}`},
		{"number for blob", `{"Plaintext":12}`},
		{"object for blob", `{"Plaintext":{}}`},
		{"blob not base64", `{"Plaintext":"not base64!"}`},
		{"blob bad padding", `{"Plaintext":"aGVsbG8"}`},
		{"blob url alphabet", `{"Plaintext":"_-_-"}`},
		{"too deep", deep},
		{"too deep in unknown member", `{"X":` + strings.Repeat("[", 100000) + `}`},
		{"invalid UTF-8 in string", "{\"KeyId\":\"\xff\xfe\"}"},
		{"invalid UTF-8 in member name", "{\"\xc3\x28\":\"a\"}"},
		{"truncated UTF-8 sequence", "{\"KeyId\":\"a\xe2\x82\"}"},
		{"UTF-8 encoded surrogate", "{\"KeyId\":\"\xed\xa0\x80\"}"},
		{"overlong UTF-8", "{\"KeyId\":\"\xc0\xaf\"}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var in EncryptInput
			wantSerialization(t, Decode([]byte(tc.body), &in))
		})
	}
}

func TestDecodeCreateKeyWrongTypes(t *testing.T) {
	for _, body := range []string{
		`{"Tags":{"TagKey":"a"}}`,
		`{"Tags":[{"TagKey":1}]}`,
		`{"Tags":["a"]}`,
		`{"MultiRegion":"yes"}`,
		`{"BypassPolicyLockoutSafetyCheck":1}`,
		`{"Policy":{"Version":"2012-10-17"}}`,
	} {
		var in CreateKeyInput
		err := Decode([]byte(body), &in)
		var e *apierr.Error
		if !errors.As(err, &e) || e.Code != apierr.Serialization {
			t.Errorf("Decode(%s) = %v, want SerializationException", body, err)
		}
	}
}

func TestDecodeNumbers(t *testing.T) {
	for _, body := range []string{`{"Limit":"5"}`, `{"Limit":4294967296}`, `{"Limit":1e100}`, `{"Limit":1.5}`, `{"Limit":true}`} {
		var in ListInput
		err := Decode([]byte(body), &in)
		var e *apierr.Error
		if !errors.As(err, &e) || e.Code != apierr.Serialization {
			t.Errorf("Decode(%s) = %v, want SerializationException", body, err)
		}
	}
}

func TestDecodeDepth(t *testing.T) {
	// Exactly MaxDepth levels, counting the top-level object, is accepted.
	ok := `{"X":` + strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1) + `}`
	var in EncryptInput
	if err := Decode([]byte(ok), &in); err != nil {
		t.Fatalf("Decode at MaxDepth: %v", err)
	}
	tooDeep := `{"X":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}`
	wantSerialization(t, Decode([]byte(tooDeep), &in))

	// Objects count as much as arrays.
	objs := `{"X":` + strings.Repeat(`{"a":`, MaxDepth) + `1` + strings.Repeat("}", MaxDepth) + `}`
	wantSerialization(t, Decode([]byte(objs), &in))

	// Depth is not cumulative: many shallow siblings are fine.
	wide := `{"X":[` + strings.Repeat(`[[[]]],`, 1000) + `[]]}`
	if err := Decode([]byte(wide), &in); err != nil {
		t.Fatalf("Decode of a wide body: %v", err)
	}
}

func TestDecodeBracketsInStringsDoNotCount(t *testing.T) {
	brackets := strings.Repeat("[{", 10*MaxDepth)
	for _, body := range []string{
		`{"KeyId":"` + brackets + `"}`,
		// An escaped quote does not end the string early.
		`{"KeyId":"\"` + brackets + `"}`,
		// An escaped backslash before the closing quote does end it.
		`{"KeyId":"\\","Description":"` + brackets + `"}`,
		`{"EncryptionContext":{"` + brackets + `":"` + brackets + `"}}`,
	} {
		var in EncryptInput
		if err := Decode([]byte(body), &in); err != nil {
			t.Errorf("Decode(%.60s…) = %v, want nil", body, err)
		}
	}
	// Closing brackets inside strings must not lower the depth either.
	closers := strings.Repeat("]}", 10*MaxDepth)
	body := `{"X":` + strings.Repeat(`["`+closers+`",`, MaxDepth) + `1` + strings.Repeat("]", MaxDepth) + `}`
	var in EncryptInput
	wantSerialization(t, Decode([]byte(body), &in))
}

func TestDecodeValidUTF8Accepted(t *testing.T) {
	body := "{\"Description\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91 \\u00e9\"}"
	var in CreateKeyInput
	if err := Decode([]byte(body), &in); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if want := "café € 🔑 é"; in.Description == nil || *in.Description != want {
		t.Fatalf("Description = %q, want %q", *in.Description, want)
	}
}

func TestWriteErrorStatus(t *testing.T) {
	for _, tc := range []struct {
		code   string
		status int
	}{
		{apierr.KMSInternal, 500},
		{apierr.DependencyTimeout, 500},
		{apierr.KeyUnavailable, 500},
		{apierr.RequestEntityTooLarge, 413},
		{apierr.Serialization, 400},
		{apierr.NotFound, 400},
		{apierr.AccessDenied, 400},
		{apierr.InvalidCiphertext, 400},
		{apierr.KMSInvalidState, 400},
		{apierr.Disabled, 400},
		{apierr.Validation, 400},
		{apierr.Throttling, 400},
		{apierr.LimitExceeded, 400},
		{apierr.UnknownOperation, 400},
		{apierr.UnsupportedOperation, 400},
		{apierr.MissingAuthenticationToken, 400},
		{apierr.UnrecognizedClient, 400},
		{apierr.InvalidSignature, 400},
		{apierr.IncompleteSignature, 400},
	} {
		w := httptest.NewRecorder()
		WriteError(w, apierr.New(tc.code, "the message"))
		if w.Code != tc.status {
			t.Errorf("%s: status %d, want %d", tc.code, w.Code, tc.status)
		}
		if ct := w.Header().Get("Content-Type"); ct != ContentType {
			t.Errorf("%s: Content-Type %q", tc.code, ct)
		}
		if et := w.Header().Get("X-Amzn-ErrorType"); et != tc.code {
			t.Errorf("%s: X-Amzn-ErrorType %q", tc.code, et)
		}
		var got map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatalf("%s: body %q: %v", tc.code, w.Body.Bytes(), err)
		}
		want := map[string]any{"__type": tc.code, "message": "the message"}
		if len(got) != 2 || got["__type"] != want["__type"] || got["message"] != want["message"] {
			t.Errorf("%s: body %s, want %v", tc.code, w.Body.Bytes(), want)
		}
	}
}

func TestWriteErrorWithoutMessage(t *testing.T) {
	w := httptest.NewRecorder()
	WriteError(w, apierr.New(apierr.InvalidCiphertext, ""))
	if w.Code != 400 {
		t.Fatalf("status %d", w.Code)
	}
	if got, want := w.Body.String(), `{"__type":"InvalidCiphertextException"}`; got != want {
		t.Fatalf("body %s, want %s", got, want)
	}
}

func TestWriteErrorHidesNonAPIErrors(t *testing.T) {
	w := httptest.NewRecorder()
	WriteError(w, errors.New("sqlite: disk I/O error at /secret/path"))
	if w.Code != 500 {
		t.Fatalf("status %d, want 500", w.Code)
	}
	if got, want := w.Body.String(), `{"__type":"KMSInternalException"}`; got != want {
		t.Fatalf("body %s, want %s", got, want)
	}
	// The cause of an internal error is for logs only.
	w = httptest.NewRecorder()
	WriteError(w, apierr.Internal(errors.New("unwrap key 1234: authentication failed")))
	if got, want := w.Body.String(), `{"__type":"KMSInternalException"}`; got != want {
		t.Fatalf("body %s, want %s", got, want)
	}
}

func TestEncode(t *testing.T) {
	w := httptest.NewRecorder()
	Encode(w, nil)
	if w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("Content-Length") != "0" || w.Header().Get("Content-Type") != ContentType {
		t.Fatalf("Encode(nil) = %d %q %v", w.Code, w.Body.Bytes(), w.Header())
	}
	w = httptest.NewRecorder()
	Encode(w, &EncryptOutput{CiphertextBlob: []byte("hello"), KeyId: "k", EncryptionAlgorithm: "SYMMETRIC_DEFAULT"})
	want := `{"CiphertextBlob":"aGVsbG8=","KeyId":"k","EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}`
	if w.Code != 200 || w.Body.String() != want || w.Header().Get("Content-Type") != ContentType {
		t.Fatalf("Encode = %d %s, want %s", w.Code, w.Body.Bytes(), want)
	}
}

func TestTimestamp(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{time.Unix(1499288695, 918_000_000), "1499288695.918"},
		{time.Unix(1499288695, 918_999_999), "1499288695.918"}, // milliseconds, as AWS
		{time.Unix(1499288695, 5_000_000), "1499288695.005"},
		{time.Unix(1499288695, 0), "1499288695"},
		{time.Date(2025, 1, 2, 3, 4, 5, 600_000_000, time.FixedZone("x", 3600)), "1735783445.6"},
	} {
		b, err := json.Marshal(Timestamp(tc.t))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.want {
			t.Errorf("Timestamp(%v) = %s, want %s", tc.t, b, tc.want)
		}
		var f float64
		if err := json.Unmarshal(b, &f); err != nil {
			t.Errorf("Timestamp %s is not a JSON number: %v", b, err)
		}
	}
	if Time(time.Time{}) != nil {
		t.Error("Time(zero) is not nil")
	}
	type out struct {
		D *Timestamp `json:"D,omitempty"`
	}
	b, _ := json.Marshal(out{D: Time(time.Time{})})
	if string(b) != `{}` {
		t.Errorf("zero time marshals as %s, want {}", b)
	}
	b, _ = json.Marshal(out{D: Time(time.Unix(10, 250_000_000))})
	if string(b) != `{"D":10.25}` {
		t.Errorf("time marshals as %s", b)
	}
}
