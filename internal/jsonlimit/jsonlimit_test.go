package jsonlimit

import (
	"math/rand/v2"
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

func TestCheckElements(t *testing.T) {
	lim := Limits{Depth: 4, Elements: 3}
	for _, tc := range []struct {
		doc  string
		want error
	}{
		{`[]`, nil},
		{`[1,2,3]`, nil},
		{`[1,2,3,4]`, ErrTooLong},
		{`{"a":1,"b":2,"c":3}`, nil},
		{`{"a":1,"b":2,"c":3,"d":4}`, ErrTooLong},
		// Counted per array or object, not per document.
		{`[[1,2,3],[1,2,3],[1,2,3]]`, nil},
		{`[[1,2,3],[1,2,3,4]]`, ErrTooLong},
		// A closed inner array does not count against its parent.
		{`[1,[2,3,4],5]`, nil},
		{`[1,[2,3,4],5,6]`, ErrTooLong},
		// Commas inside strings are not separators.
		{`["a,b,c,d,e"]`, nil},
		{`{"a,b,c,d":"e,f,g,h"}`, nil},
		{`["\",\",\",\","]`, nil},
		{`[[[[[1]]]]]`, ErrTooDeep},
		{`[` + strings.Repeat("1,", 1000) + `1]`, ErrTooLong},
		// Stray closers do not make depth negative.
		{`]]]]]]]][[[[[`, ErrTooDeep},
	} {
		if got := Check(tc.doc, lim); got != tc.want {
			t.Errorf("Check(%.40q) = %v, want %v", tc.doc, got, tc.want)
		}
		if got := Check([]byte(tc.doc), lim); got != tc.want {
			t.Errorf("Check([]byte(%.40q)) = %v, want %v", tc.doc, got, tc.want)
		}
	}
	// Without an element limit, only depth counts.
	if err := Check(`[`+strings.Repeat("1,", 100000)+`1]`, Limits{Depth: 2}); err != nil {
		t.Errorf("Check without an element limit = %v", err)
	}
}

func TestCheckDoesNotAllocate(t *testing.T) {
	doc := []byte(`{"a":[1,2,{"b":"c,d"}],"e":"]]]"}`)
	if n := testing.AllocsPerRun(100, func() { _ = Check(doc, Limits{Depth: 16, Elements: 100}) }); n != 0 {
		t.Errorf("Check allocates %v times", n)
	}
}

// TestShortcutAgreesWithScan checks that counting never answers "within
// limits" for a document the scan refuses: random documents made of the
// bytes that matter, at limits around their counts.
func TestShortcutAgreesWithScan(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte(`{}[],"\a`)
	for range 20000 {
		doc := make([]byte, r.IntN(40))
		for i := range doc {
			doc[i] = alphabet[r.IntN(len(alphabet))]
		}
		lim := Limits{Depth: r.IntN(6), Elements: r.IntN(6)}
		if got, want := Check(doc, lim), scan(doc, lim); got != want {
			t.Fatalf("Check(%q, %+v) = %v, scan says %v", doc, lim, got, want)
		}
	}
}
