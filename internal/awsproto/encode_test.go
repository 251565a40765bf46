package awsproto

import (
	"bytes"
	jsonv1 "encoding/json"
	"net/http/httptest"
	"reflect"
	"strconv"
	"testing"
)

// aliasingWriter is a ResponseWriter that keeps the very slices Encode
// writes, not copies, to see what is left in them afterwards.
type aliasingWriter struct {
	*httptest.ResponseRecorder
	written [][]byte
}

func (w *aliasingWriter) Write(p []byte) (int, error) {
	w.written = append(w.written, p)
	return w.ResponseRecorder.Write(p)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func secretBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(0xA5 ^ i)
	}
	return b
}

// TestEncodeClearsItsBuffer checks that the buffer a response is written
// from holds nothing once Encode returns.
func TestEncodeClearsItsBuffer(t *testing.T) {
	for _, out := range []any{
		&DecryptOutput{KeyId: "k", Plaintext: secretBytes(4096), EncryptionAlgorithm: "SYMMETRIC_DEFAULT"},
		&GenerateDataKeyOutput{CiphertextBlob: []byte("blob"), Plaintext: secretBytes(32), KeyId: "k"},
		&GenerateRandomOutput{Plaintext: secretBytes(1024)},
		&EncryptOutput{CiphertextBlob: []byte("blob"), KeyId: "k", EncryptionAlgorithm: "SYMMETRIC_DEFAULT"},
	} {
		w := &aliasingWriter{ResponseRecorder: httptest.NewRecorder()}
		Encode(w, out)
		if w.Code != 200 || w.Body.Len() == 0 {
			t.Fatalf("Encode(%T) = %d %s", out, w.Code, w.Body.Bytes())
		}
		for _, p := range w.written {
			if !allZero(p) {
				t.Errorf("Encode(%T): the buffer written from still holds %.40q…", out, p)
			}
		}
	}
}

// TestEncodeZeroesSensitiveMembers checks that Encode writes each sensitive
// member as encoding/json would and then zeroes the caller's slice, and
// that it leaves other members alone.
func TestEncodeZeroesSensitiveMembers(t *testing.T) {
	for _, tc := range []struct {
		out    any
		secret func(any) []byte
		other  func(any) []byte
	}{
		{&DecryptOutput{KeyId: "k", Plaintext: secretBytes(33)},
			func(o any) []byte { return o.(*DecryptOutput).Plaintext }, nil},
		{&GenerateDataKeyOutput{CiphertextBlob: secretBytes(90), Plaintext: secretBytes(32), KeyId: "k"},
			func(o any) []byte { return o.(*GenerateDataKeyOutput).Plaintext },
			func(o any) []byte { return o.(*GenerateDataKeyOutput).CiphertextBlob }},
		{&GenerateRandomOutput{Plaintext: secretBytes(7)},
			func(o any) []byte { return o.(*GenerateRandomOutput).Plaintext }, nil},
		{&GenerateDataKeyPairOutput{PrivateKeyCiphertextBlob: secretBytes(200), PrivateKeyPlaintext: secretBytes(121), PublicKey: secretBytes(91), KeyId: "k", KeyPairSpec: "ECC_NIST_P256"},
			func(o any) []byte { return o.(*GenerateDataKeyPairOutput).PrivateKeyPlaintext },
			func(o any) []byte { return o.(*GenerateDataKeyPairOutput).PublicKey }},
		{&DeriveSharedSecretOutput{KeyId: "k", SharedSecret: secretBytes(32), KeyAgreementAlgorithm: "ECDH", KeyOrigin: "AWS_KMS"},
			func(o any) []byte { return o.(*DeriveSharedSecretOutput).SharedSecret }, nil},
	} {
		name := reflect.TypeOf(tc.out).Elem().Name()
		want, err := jsonv1.Marshal(tc.out)
		if err != nil {
			t.Fatal(err)
		}
		secret := tc.secret(tc.out)
		var other, otherCopy []byte
		if tc.other != nil {
			other = tc.other(tc.out)
			otherCopy = bytes.Clone(other)
		}
		w := httptest.NewRecorder()
		Encode(w, tc.out)
		if !sameJSON(t, w.Body.Bytes(), want) {
			t.Errorf("%s: Encode wrote %s, encoding/json %s", name, w.Body.Bytes(), want)
		}
		if !allZero(secret) {
			t.Errorf("%s: sensitive member not zeroed after Encode", name)
		}
		if other != nil && !bytes.Equal(other, otherCopy) {
			t.Errorf("%s: a member that is not sensitive was changed", name)
		}
	}
}

// TestEncodeLikeEncodingJSON checks the corner cases of writing sensitive
// members apart: absent, empty, alone.
func TestEncodeLikeEncodingJSON(t *testing.T) {
	for _, out := range []any{
		&DecryptOutput{KeyId: "k"},                                         // omitempty, nil
		&DecryptOutput{KeyId: "k", Plaintext: []byte{}},                    // omitempty, empty
		&GenerateRandomOutput{},                                            // no omitempty, nil: null
		&GenerateRandomOutput{Plaintext: []byte{}},                         // no omitempty, empty: ""
		&GenerateRandomOutput{Plaintext: []byte("<&>")},                    // alone in its object
		&DecryptOutput{KeyId: "<a&b>", Plaintext: []byte{0xff}},            // escaping around it
		&GenerateDataKeyPairOutput{PrivateKeyPlaintext: secretBytes(3)},    // among empty members
		&KeyMetadataOutput{KeyMetadata: &KeyMetadata{KeyId: "no secrets"}}, // none at all
	} {
		want, err := jsonv1.Marshal(out)
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		Encode(w, out)
		if !sameJSON(t, w.Body.Bytes(), want) {
			t.Errorf("Encode(%T) wrote %s, encoding/json %s", out, w.Body.Bytes(), want)
		}
		if got := w.Header().Get("Content-Length"); got != strconv.Itoa(w.Body.Len()) {
			t.Errorf("Content-Length %s for a body of %d bytes", got, w.Body.Len())
		}
	}
}

// sameJSON reports whether a and b are the same JSON value.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := jsonv1.Unmarshal(a, &va); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := jsonv1.Unmarshal(b, &vb); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

// TestSensitiveMembersTagged checks that every output member that carries
// plaintext is tagged, so that Encode zeroes it.
func TestSensitiveMembersTagged(t *testing.T) {
	plaintextNames := map[string]bool{"Plaintext": true, "PrivateKeyPlaintext": true, "SharedSecret": true}
	for _, v := range []any{
		DecryptOutput{}, GenerateDataKeyOutput{}, GenerateRandomOutput{}, GenerateDataKeyPairOutput{},
		DeriveSharedSecretOutput{}, EncryptOutput{}, ReEncryptOutput{}, SignOutput{}, GenerateMacOutput{},
		GetPublicKeyOutput{},
	} {
		typ := reflect.TypeOf(v)
		tagged := map[string]bool{}
		for _, f := range sensitiveFieldsOf(typ) {
			tagged[f.name] = true
		}
		for f := range typ.Fields() {
			if plaintextNames[f.Name] != tagged[f.Name] {
				t.Errorf("%s.%s: tagged sensitive %v, carries plaintext %v", typ.Name(), f.Name, tagged[f.Name], plaintextNames[f.Name])
			}
		}
	}
}
