package audit

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// compactSeeds are valid and invalid JSON at the edges of the grammar.
var compactSeeds = []string{
	``, ` `, `{}`, `[]`, `null`, `true`, `false`, `nul`, `truex`, `0`, `-0`, `01`, `-`, `1.`, `1.5`, `1e`, `1E+9`,
	`1e-0`, `-12.5e3`, `.5`, `"a"`, `"`, `"\"`, `"\u00e9\/\b\f\n\r\t"`, `"\u12G4"`, `"\x"`, "\"ctl\x01\"",
	"\"\xff\xfe\"", "\"\u2028\"", `{"a":1,}`, `{"a" 1}`, `{,}`, `[1,]`, `[1 2]`, `{"a":[1,{"b":null}]}`,
	" {\n\t\"a\" :\r [ 1 , \"x y\" ] } ", `{"keyId":"alias/app","encryptionContext":{"n":"1"}}`, `{}}`, `{} {}`,
	`{"a":"12345678\"12345678"}`, `"0123456789abcdef\\"`, `[[[[]]]]`, `{"a":tru}`, `1 `, ` 1`,
}

func checkScan(t *testing.T, src []byte) {
	t.Helper()
	var compacted bytes.Buffer
	cerr := json.Compact(&compacted, src)
	wantValid := json.Valid(src)
	if wantValid != (cerr == nil) {
		t.Fatalf("json.Valid %v but json.Compact error %v for %q", wantValid, cerr, src)
	}
	wantCompact := wantValid && bytes.Equal(compacted.Bytes(), src)
	if valid, compact := scanJSON(src); valid != wantValid || compact != wantCompact {
		t.Fatalf("scanJSON(%q) = valid %v, compact %v; encoding/json: %v, %v", src, valid, compact, wantValid, wantCompact)
	}
}

// TestScanJSON: scanJSON accepts what json.Valid accepts and calls
// compact what json.Compact leaves unchanged, at the grammar's edges and
// at encoding/json's nesting bound.
func TestScanJSON(t *testing.T) {
	for _, s := range compactSeeds {
		checkScan(t, []byte(s))
	}
	for _, depth := range []int{maxNestingDepth, maxNestingDepth + 1} {
		checkScan(t, []byte(strings.Repeat("[", depth)+strings.Repeat("]", depth)))
		checkScan(t, []byte(strings.Repeat(`{"a":`, depth)+"1"+strings.Repeat("}", depth)))
	}
}

func FuzzScanJSON(f *testing.F) {
	for _, s := range compactSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) { checkScan(t, src) })
}
