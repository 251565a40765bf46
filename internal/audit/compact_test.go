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

func checkCompact(t *testing.T, src []byte) {
	t.Helper()
	var want bytes.Buffer
	werr := json.Compact(&want, src)
	if valid := json.Valid(src); valid != (werr == nil) {
		t.Fatalf("json.Valid %v but json.Compact error %v for %q", valid, werr, src)
	}
	prefix := []byte("prefix")
	got, ok := appendCompact(bytes.Clone(prefix), src)
	if ok != (werr == nil) {
		t.Fatalf("appendCompact(%q) valid = %v, encoding/json: %v", src, ok, werr)
	}
	if ok && !bytes.Equal(got, append(prefix, want.Bytes()...)) {
		t.Fatalf("appendCompact(%q) = %q, json.Compact: %q", src, got[len(prefix):], want.Bytes())
	}
}

// TestAppendCompact: appendCompact accepts what json.Valid accepts and
// writes what json.Compact writes, at the grammar's edges and at
// encoding/json's nesting bound.
func TestAppendCompact(t *testing.T) {
	for _, s := range compactSeeds {
		checkCompact(t, []byte(s))
	}
	for _, depth := range []int{maxNestingDepth, maxNestingDepth + 1} {
		checkCompact(t, []byte(strings.Repeat("[", depth)+strings.Repeat("]", depth)))
		checkCompact(t, []byte(strings.Repeat(`{"a":`, depth)+"1"+strings.Repeat("}", depth)))
	}
}

func FuzzAppendCompact(f *testing.F) {
	for _, s := range compactSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) { checkCompact(t, src) })
}
