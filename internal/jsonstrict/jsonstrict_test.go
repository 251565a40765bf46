package jsonstrict

import (
	"encoding/json"
	"errors"
	"io"
	"testing"
)

type doc struct {
	A int `json:"a"`
}

func TestDecode(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    int
		wantErr error // nil: any error, when ok is false
		ok      bool
	}{
		{in: `{"a":1}`, want: 1, ok: true},
		{in: " {\"a\":2}\n\t", want: 2, ok: true},
		{in: `{}`, ok: true},
		{in: ``, wantErr: io.EOF},
		{in: " \n", wantErr: io.EOF},
		{in: `{"a":1}}`},
		{in: `{"a":1}]`},
		{in: `{"a":1}{}`, wantErr: ErrTrailingData},
		{in: `{"a":1} 2`, wantErr: ErrTrailingData},
		{in: `{"a":1,"b":2}`},
		{in: `{"a":`},
		{in: `[1]`},
	} {
		var d doc
		err := Decode([]byte(tt.in), &d)
		switch {
		case tt.ok && (err != nil || d.A != tt.want):
			t.Errorf("Decode(%q) = %v, a=%d; want a=%d", tt.in, err, d.A, tt.want)
		case !tt.ok && err == nil:
			t.Errorf("Decode(%q) accepted it", tt.in)
		case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
			t.Errorf("Decode(%q) = %v, want %v", tt.in, err, tt.wantErr)
		}
	}
}

// FuzzDecode: what Decode accepts is one valid JSON document.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":1}}`, `{"a":1}]`, `{"a":1} {}`, ``, `{"b":1}`, `[`, `{"a":1e400}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var d doc
		if Decode(data, &d) == nil && !json.Valid(data) {
			t.Fatalf("Decode accepted %q, which is not one JSON document", data)
		}
	})
}
