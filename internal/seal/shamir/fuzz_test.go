package shamir

import (
	"strings"
	"testing"
)

// parseSeeds is a function so TestFuzzSeedsNonEmpty can check that the
// corpus has not silently become empty.
func parseSeeds() []string {
	return []string{
		"01b4d14ed9de3c4d9002019df317868c", // testdata/vectors.json, "one byte, 2 of 3"
		"01b9b6d8b4596d27850101000102030405060708090a0b0c0d0e0f72f5d7ba",
		"02b4d14ed9de3c4d9002019df317868c",
		"01b4d14ed9de3c4d9002009df317868c",
		"",
		"zz",
		" 01 ",
	}
}

func TestFuzzSeedsNonEmpty(t *testing.T) {
	if len(parseSeeds()) == 0 {
		t.Fatal("the Parse seed corpus is empty")
	}
	if _, err := Parse(parseSeeds()[0]); err != nil {
		t.Fatalf("the first seed no longer parses: %v", err)
	}
}

// FuzzParse: Parse never panics, and what it accepts is the encoding of
// the share it returns (one share, one text, up to case and white space).
func FuzzParse(f *testing.F) {
	for _, s := range parseSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s, err := Parse(text)
		if err != nil {
			return
		}
		if got := s.Encode(); got != strings.ToLower(strings.TrimSpace(text)) {
			t.Fatalf("Parse(%q) accepted a share that encodes as %q", text, got)
		}
		if _, err := Combine([]*Share{s}); err != nil && s.Threshold == 1 {
			t.Fatalf("Combine of a 1-of-1 share: %v", err)
		}
	})
}
