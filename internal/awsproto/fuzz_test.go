package awsproto

import (
	"errors"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/apierr"
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
}

func TestFuzzDecodeSeeds(t *testing.T) {
	if len(decodeSeeds) == 0 {
		t.Fatal("FuzzDecode has no seeds")
	}
	var accepted, refused int
	for _, s := range decodeSeeds {
		if Decode([]byte(s), new(EncryptInput)) == nil {
			accepted++
		} else {
			refused++
		}
	}
	// The corpus must reach both outcomes, or the fuzzer starts blind.
	if accepted == 0 || refused == 0 {
		t.Fatalf("seeds: %d accepted, %d refused; want some of each", accepted, refused)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, v := range []any{new(EncryptInput), new(CreateKeyInput)} {
			err := Decode(body, v)
			if err == nil {
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
