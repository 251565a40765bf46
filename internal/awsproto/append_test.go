package awsproto

import (
	"bytes"
	jsonv1 "encoding/json"
	"reflect"
	"testing"
	"time"
)

// fill sets every member of the struct v points to, recursively, to a
// non-zero value drawn from s: a member added to an output type then shows
// up in the comparison, whatever its encoder does with it.
func fill(t *testing.T, v reflect.Value, s string, n int) {
	t.Helper()
	switch v.Kind() {
	case reflect.Pointer:
		if v.Type() == reflect.TypeFor[*Timestamp]() {
			v.Set(reflect.ValueOf(Time(time.UnixMilli(1_499_288_695_918 + int64(n)))))
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), s, n)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(t, v.Field(i), s+string(rune('a'+i)), n+i)
		}
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int32:
		v.SetInt(int64(n))
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte(s))
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		fill(t, v.Index(0), s+"0", n)
		fill(t, v.Index(1), s+"1", n+1)
	default:
		t.Fatalf("fill: no rule for %s", v.Type())
	}
}

// TestAppendersMatchEncodingJSON holds the hand-written encoders to
// encoding/json's output, byte for byte: every member set, every member
// zero, and strings that need escaping.
func TestAppendersMatchEncodingJSON(t *testing.T) {
	outputs := []appender{
		&EncryptOutput{}, &DecryptOutput{}, &GenerateDataKeyOutput{},
		&SignOutput{}, &GenerateMacOutput{}, &KeyMetadataOutput{},
	}
	strs := []string{"", "arn:aws:kms:us-east-1:111122223333:key/x", "a\"b\\c", "<script>&amp;", "tab\there\nnl\x00\x1f\x7f",
		"é ü 中文", "\u2028\u2029", "bad \xff utf8", "~ !#$%'()*+,-./09:;=?@AZ[]^_`az{|}"}
	for _, o := range outputs {
		typ := reflect.TypeOf(o).Elem()
		check := func(what string) {
			t.Helper()
			want, err := jsonv1.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			if got := o.appendJSON(nil); !bytes.Equal(got, want) {
				t.Errorf("%s, %s:\n got %s\nwant %s", typ.Name(), what, got, want)
			}
		}
		check("zero")
		for _, s := range strs {
			reflect.ValueOf(o).Elem().SetZero()
			fill(t, reflect.ValueOf(o).Elem(), s, 7)
			check("filled with " + s)
		}
		// Empty, not nil, slices and the sensitive members taken out.
		v := reflect.ValueOf(o).Elem()
		for i := range v.NumField() {
			if f := v.Field(i); f.Kind() == reflect.Slice {
				f.Set(reflect.MakeSlice(f.Type(), 0, 0))
			}
			if typ.Field(i).Tag.Get("awsproto") == sensitiveTag {
				v.Field(i).SetBytes(nil)
			}
		}
		check("empty slices")
	}
	// A multi-Region key's configuration with a nil primary and replicas.
	md := &KeyMetadataOutput{KeyMetadata: &KeyMetadata{MultiRegionConfiguration: &MultiRegionConfiguration{MultiRegionKeyType: "PRIMARY"}}}
	want, _ := jsonv1.Marshal(md)
	if got := md.appendJSON(nil); !bytes.Equal(got, want) {
		t.Errorf("nil primary and replicas:\n got %s\nwant %s", got, want)
	}
}
