package awsproto

import (
	"encoding/json"
	"errors"
	"maps"
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
		{"list too long", `{"GrantTokens":[` + strings.Repeat(`"",`, MaxElements) + `""]}`},
		{"map too long", `{"EncryptionContext":{` + strings.Repeat(`"":"",`, MaxElements) + `"":""}}`},
		{"list too long in unknown member", `{"X":[` + strings.Repeat(`0,`, MaxElements) + `0]}`},
		{"invalid UTF-8 in string", "{\"KeyId\":\"\xff\xfe\"}"},
		{"invalid UTF-8 in member name", "{\"\xc3\x28\":\"a\"}"},
		{"truncated UTF-8 sequence", "{\"KeyId\":\"a\xe2\x82\"}"},
		{"UTF-8 encoded surrogate", "{\"KeyId\":\"\xed\xa0\x80\"}"},
		{"overlong UTF-8", "{\"KeyId\":\"\xc0\xaf\"}"},
		{"vertical tab only", "\v"},
		{"form feed before", "\f{}"},
		{"NBSP after", "{}\u00a0"},
		{"NEL after", "{}\u0085"},
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

// TestDecodeMatchesNamesExactly checks that member names are matched as
// AWS matches them: exactly. A name in another case is an unknown member,
// ignored, never merged into the real one.
func TestDecodeMatchesNamesExactly(t *testing.T) {
	str := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return *p
	}
	for _, tc := range []struct {
		name, body string
		keyID      string
		ec         map[string]string
	}{
		{"lower case only", `{"keyid":"k"}`, "<nil>", nil},
		{"upper case only", `{"KEYID":"k"}`, "<nil>", nil},
		{"exact then variant", `{"KeyId":"a","keyId":"b"}`, "a", nil},
		{"variant then exact", `{"keyId":"b","KeyId":"a"}`, "a", nil},
		{"maps not merged", `{"EncryptionContext":{"a":"1"},"encryptionContext":{"b":"2"}}`, "<nil>", map[string]string{"a": "1"}},
		{"variant map ignored", `{"encryptionContext":{"b":"2"}}`, "<nil>", nil},
		{"map keys keep their case", `{"EncryptionContext":{"a":"1","A":"2"}}`, "<nil>", map[string]string{"a": "1", "A": "2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var in EncryptInput
			if err := Decode([]byte(tc.body), &in); err != nil {
				t.Fatalf("Decode(%s): %v", tc.body, err)
			}
			if got := str(in.KeyId); got != tc.keyID {
				t.Errorf("KeyId = %q, want %q", got, tc.keyID)
			}
			if !maps.Equal(in.EncryptionContext, tc.ec) {
				t.Errorf("EncryptionContext = %v, want %v", in.EncryptionContext, tc.ec)
			}
		})
	}
	// Nested structures too.
	var ck CreateKeyInput
	if err := Decode([]byte(`{"Tags":[{"tagKey":"k","TagValue":"v"}]}`), &ck); err != nil {
		t.Fatal(err)
	}
	if len(ck.Tags) != 1 || ck.Tags[0].TagKey != nil || str(ck.Tags[0].TagValue) != "v" {
		t.Errorf("Tags = %+v: tagKey was read as TagKey", ck.Tags)
	}
}

// TestDecodeRefusesDuplicateNames checks that a name given twice in one
// object is refused wherever it is: encoding/json would keep the last, so
// the request could mean one thing to a proxy or policy check and another
// to Trent.
func TestDecodeRefusesDuplicateNames(t *testing.T) {
	for _, body := range []string{
		`{"KeyId":"a","KeyId":"a"}`,
		`{"KeyId":"a","KeyId":"b"}`,
		`{"EncryptionContext":{"a":"1","a":"2"}}`,
		`{"EncryptionContext":{"a":"1","b":"2","a":"1"}}`,
		`{"EncryptionContext":{"a":"1","\u0061":"2"}}`, // the same name, escaped
		`{"Tags":[{"TagKey":"a","TagKey":"b","TagValue":"v"}]}`,
		`{"Unknown":{"x":[{"y":1,"y":2}]}}`,
		`{"EncryptionContext":{},"EncryptionContext":{"a":"1"}}`,
	} {
		for _, v := range []any{new(EncryptInput), new(CreateKeyInput)} {
			wantSerialization(t, Decode([]byte(body), v))
		}
	}
}

// TestDecodeRefusesUnpairedSurrogates checks that escapes which name no
// character are refused: encoding/json turns each into U+FFFD, so
// {"k":"\ud800"} and {"k":"\udfff"} became the same encryption context.
func TestDecodeRefusesUnpairedSurrogates(t *testing.T) {
	for _, s := range []string{`\ud800`, `\udfff`, `\udc00\ud800`, `\ud800\u0041`, `\ud800x`, `a\udbff`} {
		for _, body := range []string{
			`{"EncryptionContext":{"k":"` + s + `"}}`,
			`{"EncryptionContext":{"` + s + `":"v"}}`,
			`{"KeyId":"` + s + `"}`,
			`{"Unknown":"` + s + `"}`,
		} {
			wantSerialization(t, Decode([]byte(body), new(EncryptInput)))
		}
	}
	// A proper pair is one character.
	var in EncryptInput
	if err := Decode([]byte(`{"EncryptionContext":{"k":"\ud83d\udd11"}}`), &in); err != nil {
		t.Fatal(err)
	}
	if in.EncryptionContext["k"] != "🔑" {
		t.Fatalf("EncryptionContext = %q", in.EncryptionContext)
	}
}

// TestDecodeMessages pins the messages of SerializationException. They are
// those of the encoding/json decoder Trent used before, but that a wrong
// type inside a map now names the map key too.
func TestDecodeMessages(t *testing.T) {
	for _, tc := range []struct{ body, msg string }{
		{`[]`, "Start of structure or map expected."},
		{`{"X":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}`, "Request body is nested too deeply."},
		{"{\"KeyId\":\"\xff\"}", "Request body is not valid UTF-8."},
		{`{"KeyId":5}`, "Unexpected value type for member KeyId: expected string, found number."},
		{`{"DryRun":"true"}`, "Unexpected value type for member DryRun: expected bool, found string."},
		{`{"GrantTokens":{}}`, "Unexpected value type for member GrantTokens: expected list or blob, found object."},
		{`{"EncryptionContext":[]}`, "Unexpected value type for member EncryptionContext: expected structure, found array."},
		{`{"EncryptionContext":{"a":1}}`, "Unexpected value type for member EncryptionContext.a: expected string, found number."},
		{`{"Plaintext":"aGVsbG8"}`, "Blob value is not valid base64."},
		{`{"Plaintext":"aGVs\nbG8="}`, "Blob value is not valid base64."},
		{`{"KeyId":"a"`, "Malformed JSON at offset 12."},
		{`{"KeyId":"a","KeyId":"a"}`, "Duplicate member name at offset 13."},
	} {
		err := Decode([]byte(tc.body), new(EncryptInput))
		var e *apierr.Error
		if !errors.As(err, &e) || e.Code != apierr.Serialization || e.Message != tc.msg {
			t.Errorf("Decode(%.40q) = %v, want SerializationException %q", tc.body, err, tc.msg)
		}
	}
	var in ListInput
	err := Decode([]byte(`{"Limit":1e400}`), &in)
	if want := "Unexpected value type for member Limit: expected number, found number 1e400."; err == nil || err.Error() != want && !strings.HasSuffix(err.Error(), want) {
		t.Errorf("Decode(Limit 1e400) = %v, want %q", err, want)
	}
}

func TestClip(t *testing.T) {
	for _, tc := range []struct {
		s    string
		max  int
		want string
	}{
		{"", 10, ""},
		{"hello", 5, "hello"},
		{"hello!", 5, "he..."},
		{"<<", 12, "<<"},
		{"<<<", 12, "<..."},  // 6 + 3
		{"é€🔑x", 9, "é€..."}, // 2 + 3 + 3; the key (4) does not fit
		{`"\"\`, 8, `"\"\`},  // 2 each
		{"a\x01b", 8, "a\x01b"},
		{"a\x01b", 7, "a..."},
		{"a\xffb", 7, "a..."},                // invalid UTF-8 is written as \ufffd
		{"\u2028\u2029", 12, "\u2028\u2029"}, // escaped by encoding/json
	} {
		if got := Clip(tc.s, tc.max); got != tc.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", tc.s, tc.max, got, tc.want)
		}
		if got := Clip(tc.s, tc.max); EscapedLen(got) > tc.max {
			t.Errorf("Clip(%q, %d) = %q escapes to %d bytes", tc.s, tc.max, got, EscapedLen(got))
		}
	}
	// EscapedLen is what encoding/json writes.
	for _, s := range []string{"plain", "<a & b>", "\x00\x1f\"\\", "\u2028 €🔑", "\xff\xfe"} {
		b, _ := json.Marshal(s)
		if got, want := EscapedLen(s), len(b)-2; got != want {
			t.Errorf("EscapedLen(%q) = %d, encoding/json writes %d", s, got, want)
		}
	}
}

// TestWriteErrorClipsMessage checks that no error body, whatever its
// message, passes 8 KiB.
func TestWriteErrorClipsMessage(t *testing.T) {
	for _, msg := range []string{
		strings.Repeat("a", 1<<20),
		strings.Repeat("<", 1<<20),
		strings.Repeat("\x01", 1<<20),
		strings.Repeat("🔑", 1<<18),
	} {
		w := httptest.NewRecorder()
		WriteError(w, apierr.New(apierr.NotFound, "%s", msg))
		if w.Body.Len() > 8<<10 {
			t.Errorf("error body of %d bytes for a message of %d", w.Body.Len(), len(msg))
		}
		var got struct{ Message string }
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || !strings.HasSuffix(got.Message, "...") {
			t.Errorf("body %.60q…: %v, want a clipped message", w.Body.Bytes(), err)
		}
	}
	// Short messages are untouched.
	w := httptest.NewRecorder()
	WriteError(w, apierr.New(apierr.NotFound, "Key 'x' does not exist"))
	if want := `{"__type":"NotFoundException","message":"Key 'x' does not exist"}`; w.Body.String() != want {
		t.Errorf("body %s, want %s", w.Body.String(), want)
	}
}
