package awsproto

import (
	"bytes"
	jsonv1 "encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/testenv/fuzzseeds"
)

// decodeSeeds is the seed corpus of FuzzDecode: real KMS request bodies and
// each way a body can be refused. TestFuzzDecodeSeeds keeps it from silently
// vanishing.
var decodeSeeds = []string{
	``,
	`{}`,
	` {} `,
	`null`,
	`[]`,
	`"x"`,
	`{"KeyId":"alias/app","Plaintext":"aGVsbG8=","EncryptionContext":{"a":"b"},"GrantTokens":["t"],"EncryptionAlgorithm":"SYMMETRIC_DEFAULT","DryRun":false}`,
	`{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab","Plaintext":""}`,
	`{"Description":"app","KeyUsage":"ENCRYPT_DECRYPT","KeySpec":"SYMMETRIC_DEFAULT","Tags":[{"TagKey":"k","TagValue":"v"}],"MultiRegion":false}`,
	`{"Policy":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"*\"},\"Action\":\"kms:*\",\"Resource\":\"*\"}]}","BypassPolicyLockoutSafetyCheck":true}`,
	`{"KeyId":5}`,
	`{"Plaintext":"not base64!"}`,
	`{"Plaintext":"aGVsbG8"}`,
	`{"Tags":{"TagKey":"a"}}`,
	`{"Tags":[{"TagKey":null,"TagValue":1}]}`,
	`{"KeyId":"a"`,
	`{"KeyId":"a"} {}`,
	`{"KeyId":"\"[[[[{{{{\\"}`,
	`{"X":[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]}`,
	`{"X":[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]}`,
	`{}]]]][[[[[[[[[[[[[[[[[[[[[[[`,
	"{\"KeyId\":\"\xff\xfe\"}",
	"{\"KeyId\":\"\\ud800\"}",
	`{"EncryptionContext":{"a":"b","a":"c"}}`,
	`{"Limit":1e400}`,
	`{"DryRun":tru}`,
	"{\"Description\":\"caf\xc3\xa9\"}",
	`{"X":` + strings.Repeat("[", 1000),
	// Lossy readings of authenticated input: case variants, duplicate
	// names at every depth, unpaired surrogates.
	`{"keyid":"alias/app"}`,
	`{"KeyId":"a","keyId":"b"}`,
	`{"EncryptionContext":{"a":"1"},"encryptionContext":{"b":"2"}}`,
	`{"EncryptionContext":{"a":"1","A":"2"}}`,
	`{"KeyId":"a","KeyId":"a"}`,
	`{"EncryptionContext":{"a":"1","\u0061":"2"}}`,
	`{"Tags":[{"TagKey":"a","TagKey":"b"}]}`,
	`{"X":{"y":[{"z":1,"z":2}]}}`,
	`{"EncryptionContext":{"k":"\ud800"}}`,
	`{"EncryptionContext":{"k":"\udfff"}}`,
	`{"EncryptionContext":{"\udc00\ud800":"v"}}`,
	`{"EncryptionContext":{"k":"\ud83d\udd11"}}`,
}

func TestFuzzDecodeSeeds(t *testing.T) {
	fuzzseeds.BothOutcomes(t, "FuzzDecode", decodeSeeds, func(s string) bool {
		return Decode([]byte(s), new(EncryptInput)) == nil
	})
}

func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, v := range []any{new(EncryptInput), new(CreateKeyInput)} {
			err := Decode(body, v)
			if err == nil {
				checkLossless(t, body, v)
				continue
			}
			var e *apierr.Error
			if !errors.As(err, &e) {
				t.Fatalf("Decode(%q) into %T: error %v is %T, not *apierr.Error", body, v, err, err)
			}
			if e.Code != apierr.Serialization {
				t.Fatalf("Decode(%q) into %T: code %s, want %s", body, v, e.Code, apierr.Serialization)
			}
		}
	})
}

// checkLossless checks an accepted body against encoding/json's tokenizer,
// an independent reading: the body is valid UTF-8, no object in it names a
// member twice, and the KeyId and EncryptionContext Decode read are those
// the body spells exactly so, not case variants of them.
func checkLossless(t *testing.T, body []byte, v any) {
	t.Helper()
	if !utf8.Valid(body) {
		t.Fatalf("Decode accepted invalid UTF-8: %q", body)
	}
	if len(bytes.Trim(body, " \t\r\n")) == 0 {
		return
	}
	dec := jsonv1.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	token := func() jsonv1.Token {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("Decode accepted %q, which encoding/json cannot tokenize: %v", body, err)
		}
		return tok
	}
	// value reads one JSON value: objects as maps, arrays as nil.
	var value func() any
	value = func() any {
		switch tok := token(); tok {
		case jsonv1.Delim('['):
			for dec.More() {
				value()
			}
			token()
			return nil
		case jsonv1.Delim('{'):
			members := map[string]any{}
			for dec.More() {
				name := token().(string)
				if _, dup := members[name]; dup {
					t.Fatalf("Decode accepted %q, which names %q twice in one object", body, name)
				}
				members[name] = value()
			}
			token()
			return members
		default:
			return tok
		}
	}
	top := value().(map[string]any)
	in, ok := v.(*EncryptInput)
	if !ok {
		return
	}
	keyID, hasKeyID := top["KeyId"].(string)
	if hasKeyID != (in.KeyId != nil) || hasKeyID && *in.KeyId != keyID {
		t.Fatalf("Decode(%q).KeyId = %v, but the body's KeyId is %v", body, in.KeyId, top["KeyId"])
	}
	ec, _ := top["EncryptionContext"].(map[string]any)
	if len(ec) != len(in.EncryptionContext) {
		t.Fatalf("Decode(%q).EncryptionContext = %q, but the body's is %v", body, in.EncryptionContext, ec)
	}
	for k, v := range ec {
		s, _ := v.(string) // null reads as ""
		if got, ok := in.EncryptionContext[k]; !ok || got != s {
			t.Fatalf("Decode(%q).EncryptionContext = %q, but the body's is %v", body, in.EncryptionContext, ec)
		}
	}
}
