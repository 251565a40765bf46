package audit

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/awsproto"
)

// encodingJSON is the encoder the hand-written one replaced, and its
// oracle: json.Encoder without HTML escaping, newline trimmed.
func encodingJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// hostileStrings exercise every escaping rule.
var hostileStrings = []string{
	"", "plain", `quote " and \ backslash`, "<b>&amp;</b>", "tab\tnl\ncr\rbs\bff\f", "\x00\x01\x1f\x7f",
	"line\u2028para\u2029", "bad utf8 \xff\xfe end", "\xc3", "emoji 😀 and ünïcödé", "\ufffd",
	strings.Repeat("x", 300),
}

func randomEvent(r *rand.Rand) *Event {
	s := func() string { return hostileStrings[r.IntN(len(hostileStrings))] }
	ev := NewAPICall(time.Unix(r.Int64N(4e9), r.Int64N(1e9)).In(time.FixedZone("x", 3600)), s(), s(), r.IntN(2) == 0)
	ev.UserIdentity = UserIdentity{Type: s(), PrincipalID: s(), ARN: s(), AccountID: s(), AccessKeyID: s(), UserName: s(), InvokedBy: s()}
	if r.IntN(2) == 0 {
		sc := &SessionContext{Attributes: SessionAttributes{CreationDate: Timestamp{time.Unix(r.Int64N(4e9), 0)}, MFAAuthenticated: s()}, SourceIdentity: s()}
		if r.IntN(2) == 0 {
			sc.SessionIssuer = &SessionIssuer{Type: s(), PrincipalID: s(), ARN: s(), AccountID: s(), UserName: s()}
		}
		ev.UserIdentity.SessionContext = sc
	}
	ev.AWSRegion, ev.SourceIPAddress, ev.UserAgent = s(), s(), s()
	if r.IntN(2) == 0 {
		ev.SetError(s(), s())
	}
	raws := []json.RawMessage{nil, json.RawMessage(`null`), json.RawMessage(`{"keyId":"k","n":1}`),
		json.RawMessage("{ \"a\" : [1, 2],\n\"b\":\"x y\\\" z\" }"), json.RawMessage(`{"s":"<\u2028>"}`)}
	ev.RequestParameters = raws[r.IntN(len(raws))]
	ev.ResponseElements = raws[r.IntN(len(raws))]
	ev.AdditionalEventData = raws[r.IntN(len(raws))]
	ev.ServiceEventDetails = raws[r.IntN(len(raws))]
	ev.RequestID = s()
	for range r.IntN(3) {
		ev.Resources = append(ev.Resources, Resource{AccountID: s(), Type: s(), ARN: s()})
	}
	ev.RecipientAccountID = s()
	ev.ManagementEvent = r.IntN(2) == 0
	if r.IntN(2) == 0 {
		ev.TLSDetails = &TLSDetails{TLSVersion: s(), CipherSuite: s(), ClientProvidedHostHeader: s()}
	}
	return ev
}

// TestEncoderMatchesEncodingJSON: the hand-written encoder writes exactly
// the bytes encoding/json wrote before it, so lines, hashes and readers
// are unchanged.
func TestEncoderMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	events := []*Event{testEvent(0), testEvent(1)}
	svc, err := NewServiceEvent(time.Now(), SourceKMS, "RotateKey", testAccount, "us-east-1", map[string]string{"keyId": testKeyARN})
	if err != nil {
		t.Fatal(err)
	}
	events = append(events, svc)
	for range 3000 {
		events = append(events, randomEvent(r))
	}
	for i, ev := range events {
		want, werr := encodingJSON(ev)
		got, gerr := ev.appendJSON(nil)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("event %d: encoding/json error %v, hand-written %v", i, werr, gerr)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("event %d:\n got %s\nwant %s", i, got, want)
		}
	}
	bad := testEvent(2)
	bad.RequestParameters = json.RawMessage(`{"a":`)
	if _, err := bad.appendJSON(nil); err == nil {
		t.Error("invalid requestParameters encoded without error")
	}
	zero := testEvent(3)
	zero.UserIdentity.SessionContext = &SessionContext{}
	if _, err := zero.appendJSON(nil); err == nil {
		t.Error("a session without creation date encoded without error")
	}
}

func FuzzEventEncoding(f *testing.F) {
	for _, s := range hostileStrings {
		f.Add(s, `{"a":1}`)
	}
	f.Add("x", "{ \"a\" :\n1 }")
	f.Add("x", "{}")
	f.Fuzz(func(t *testing.T, s, raw string) {
		ev := testEvent(0)
		ev.UserAgent, ev.UserIdentity.UserName, ev.ErrorMessage = s, s, s
		ev.RequestParameters = json.RawMessage(raw)
		want, werr := encodingJSON(ev)
		got, gerr := ev.appendJSON(nil)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("encoding/json error %v, hand-written %v", werr, gerr)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
}

// TestMayNeedEscape: every byte that appendString must escape or check
// (control, '"', '\\', non-ASCII), at each of the eight places among
// bytes that need nothing, is seen; a word of plain bytes is passed.
func TestMayNeedEscape(t *testing.T) {
	plain := uint64(0x6161616161616161) // "aaaaaaaa"
	if mayNeedEscape(plain) || mayNeedEscape(0x7e7e7e7e7e7e7e7e) || mayNeedEscape(0x2020202020202020) {
		t.Fatal("plain bytes flagged")
	}
	for b := range 256 {
		needs := b < 0x20 || b == '"' || b == '\\' || b >= 0x80
		for pos := range 8 {
			for _, fill := range []uint64{0x61, 0x20, 0x7f, 0x21, 0x5d} {
				x := fill * 0x0101010101010101
				x = x&^(0xff<<(8*pos)) | uint64(b)<<(8*pos)
				if needs && !mayNeedEscape(x) {
					t.Fatalf("byte %#x at %d among %#x not flagged", b, pos, fill)
				}
			}
		}
	}
}

// FuzzAppendString: appendString writes any string as encoding/json does
// (without HTML escaping).
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain ascii text!", "tab\there \"quoted\" back\\slash", "\x00\x1f\x7f", "é€😀\u2028\u2029", "\xff\xfe invalid", "0123456789abcdef\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if got := appendString(nil, s); !bytes.Equal(got, bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want.Bytes())
		}
	})
}

// TestAppendTimestamp: the digit-by-digit eventTime is Format's, in and
// out of the four-digit years it handles itself.
func TestAppendTimestamp(t *testing.T) {
	zone := time.FixedZone("x", -7*3600)
	for _, tm := range []time.Time{
		time.Date(2026, 12, 6, 10, 13, 12, 999999999, time.UTC), time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 6, 1, 12, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 3, 0, 0, 0, zone), time.Unix(1<<40, 0),
	} {
		want, err := Timestamp{tm}.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if got := appendTimestamp(nil, Timestamp{tm}); !bytes.Equal(got, want) {
			t.Errorf("appendTimestamp(%v) = %s, want %s", tm, got, want)
		}
	}
}

// TestSetRequestParameters: parameters an allow-list wrote are encoded as
// encoding/json encodes them, without a second check; once the member is
// replaced or cut, the encoder checks it again and refuses what is not
// JSON.
func TestSetRequestParameters(t *testing.T) {
	a := MustAllowList(reflect.TypeFor[awsproto.EncryptInput](), "KeyId", "EncryptionContext")
	ev := testEvent(0)
	if err := ev.SetRequestParameters(a, &awsproto.EncryptInput{
		KeyId: ptr("alias/x"), EncryptionContext: map[string]string{"b": "<2>", "a": "1"},
	}); err != nil {
		t.Fatal(err)
	}
	for _, e := range []*Event{ev, ev.CopyFor("444455556666")} {
		want, err := encodingJSON(e)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := e.appendJSON(nil); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("got %s (%v)\nwant %s", got, err, want)
		}
	}
	if !bytes.Contains(mustEncode(t, ev), []byte(`"requestParameters":{"keyId":"alias/x","encryptionContext":{"a":"1","b":"<2>"}}`)) {
		t.Fatalf("requestParameters not as the allow-list wrote them: %s", mustEncode(t, ev))
	}
	cut := *ev
	cut.RequestParameters = cut.RequestParameters[:len(cut.RequestParameters)-1]
	replaced := *ev
	replaced.RequestParameters = json.RawMessage(`{"a":`)
	for _, e := range []*Event{&cut, &replaced} {
		if got, err := e.appendJSON(nil); err == nil {
			t.Errorf("invalid requestParameters %s encoded: %s", e.RequestParameters, got)
		}
	}
	if err := ev.SetRequestParameters(a, &awsproto.DecryptInput{}); err == nil || ev.RequestParameters != nil {
		t.Errorf("a list applied to another type: err %v, requestParameters %s; want an error and null", err, ev.RequestParameters)
	}
	// No parameter to show is null, as AWS writes it, not {}.
	if err := ev.SetRequestParameters(a, &awsproto.EncryptInput{}); err != nil {
		t.Fatal(err)
	}
	if b := mustEncode(t, ev); !bytes.Contains(b, []byte(`"requestParameters":null,`)) {
		t.Errorf("empty requestParameters encoded as %s", b)
	}
}

func mustEncode(t *testing.T, e *Event) []byte {
	t.Helper()
	b, err := e.appendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAppendStringEveryPlace: a byte that needs escaping or checking is
// found wherever it sits in strings of every length around the word
// size, the overlapping last word included.
func TestAppendStringEveryPlace(t *testing.T) {
	for n := 1; n <= 26; n++ {
		for pos := range n {
			for _, bad := range []string{"\"", "\\", "\n", "\x00", "\x7f", "\xff", "é", "\u2028"} {
				s := strings.Repeat("a", pos) + bad + strings.Repeat("b", n-pos-1)
				want, err := encodingJSON(s)
				if err != nil {
					t.Fatal(err)
				}
				if got := appendString(nil, s); !bytes.Equal(got, want) {
					t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
				}
			}
		}
	}
}
