package jsonlimit

import (
	"strings"
	"testing"
)

func TestTooDeep(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		max  int
		want bool
	}{
		{`{}`, 1, false},
		{`{"a":[1]}`, 1, true},
		{`{"a":[1]}`, 2, false},
		{`{"a":"[[[[[["}`, 1, false},
		{`{"a":"\"[[[["}`, 1, false},
		{`{"a":"\\"}`, 1, false},
		{`{"a":"\\",[[`, 2, true},
		{strings.Repeat("[", 100000), 16, true},
		{`[{},{},{},{}]`, 2, false},
	} {
		if got := TooDeep(tc.doc, tc.max); got != tc.want {
			t.Errorf("TooDeep(%.40q, %d) = %v, want %v", tc.doc, tc.max, got, tc.want)
		}
		if got := TooDeep([]byte(tc.doc), tc.max); got != tc.want {
			t.Errorf("TooDeep([]byte(%.40q), %d) = %v, want %v", tc.doc, tc.max, got, tc.want)
		}
	}
}
