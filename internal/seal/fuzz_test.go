package seal

import (
	"bytes"
	"errors"
	"testing"
)

// Seed corpora are functions so TestFuzzSeedsNonEmpty can check they have
// not silently become empty.

func unwrapSeeds(t testing.TB) [][]byte {
	return [][]byte{
		mustHex(t, katWrap),  // well-formed, under another root key than fuzzRoot
		mustHex(t, katWrap2), // format 2, a generation fuzzRoot does not hold
		mustHex(t, katSealed),
		{},
		{wrapFormat1},
		append([]byte{wrapFormat1}, make([]byte, wrapOverhead1-1)...),
		{0x02, 0, 0, 0},
	}
}

func keyFileSeeds() []string {
	return []string{
		katKeyFile,
		katKeyFile[:len(katKeyFile)-1],
		"trent-keyfile-v2\n",
		"trent-keyfile-v1\n=\n",
		"",
		"\n\n",
	}
}

func shamirConfigSeeds() [][]byte {
	good := append([]byte{shamirConfig1, 1, 2, 3, 4, 5, 6, 7, 8, 2, 3}, make([]byte, 3*32)...)
	return [][]byte{good, good[:20], {shamirConfig1}, {0x02}, {}}
}

var fuzzRoot = seq(0x80, RootKeySize)

func TestFuzzSeedsNonEmpty(t *testing.T) {
	if len(unwrapSeeds(t)) == 0 || len(keyFileSeeds()) == 0 || len(shamirConfigSeeds()) == 0 {
		t.Fatal("a seed corpus is empty")
	}
}

// FuzzUnwrap: arbitrary stored bytes never unwrap under fuzzRoot (held
// as generations 0 and 1, so both formats reach the AEAD), never panic,
// and always fail with ErrUnwrap; WrappedGeneration never panics either,
// and names generation 0 exactly for format 1.
func FuzzUnwrap(f *testing.F) {
	for _, s := range unwrapSeeds(f) {
		f.Add(s, []byte("aad"))
	}
	f.Add(append([]byte{wrapFormat2, 0, 0, 0, 1}, make([]byte, gcmOverhead)...), []byte("aad"))
	k, err := NewRootKey(fuzzRoot)
	if err != nil {
		f.Fatal(err)
	}
	if err := k.AddGeneration(seq(0x90, RootKeySize), 1); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, wrapped, aad []byte) {
		got, err := k.Unwrap(wrapped, aad)
		if !errors.Is(err, ErrUnwrap) || got != nil {
			t.Fatalf("Unwrap(%x) = %x, %v; want ErrUnwrap", wrapped, got, err)
		}
		g, err := WrappedGeneration(wrapped)
		if err == nil && wrapped[0] == wrapFormat1 && g != 0 {
			t.Fatalf("WrappedGeneration(format 1) = %d", g)
		}
	})
}

// FuzzDecodeKeyFile: the key-file parser never panics, and anything it
// accepts is the canonical encoding of what it returns (so one key has one
// file), give or take the optional final newline.
func FuzzDecodeKeyFile(f *testing.F) {
	for _, s := range keyFileSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		kek, err := decodeKeyFile(b)
		if err != nil {
			return
		}
		re := encodeKeyFile(kek)
		if !bytes.Equal(re, b) && !bytes.Equal(re[:len(re)-1], b) {
			t.Fatalf("decodeKeyFile accepted %q, which re-encodes to %q", b, re)
		}
	})
}

// FuzzParseShamirConfig: stored shamir settings are parsed strictly and
// never panic; what parses re-encodes to the same bytes.
func FuzzParseShamirConfig(f *testing.F) {
	for _, s := range shamirConfigSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseShamirConfig(b)
		if err != nil {
			return
		}
		if re, _ := c.MarshalBinary(); !bytes.Equal(re, b) {
			t.Fatalf("ParseShamirConfig(%x) re-encodes as %x", b, re)
		}
		u := NewShareUnsealer(c)
		if got, need := u.Progress(); got != 0 || need != c.Threshold {
			t.Fatalf("Progress = %d of %d", got, need)
		}
	})
}
