package pkcs11

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/trent-kms/trent/internal/seal"
)

// Seed corpora are functions so TestFuzzSeedsNonEmpty can check they have
// not silently become empty.

func sealedSeeds() [][]byte {
	good := make([]byte, sealedLen)
	good[0] = sealedFormat1
	return [][]byte{
		good,
		good[:sealedLen-1],
		append(bytes.Clone(good), 0),
		append([]byte{0x02}, good[1:]...),
		{sealedFormat1},
		{},
	}
}

func settingsSeeds() []string {
	const id = "00112233445566778899aabbccddeeff"
	return []string{
		`{"version":1,"module":"/usr/lib/softhsm/libsofthsm2.so","token_label":"trent","key_label":"trent-root","installation":"` + id + `"}`,
		`{"version":2}`,
		`{"version":1,"module":"/m.so","token_label":"t ","key_label":"k","installation":"` + id + `"}`,
		`{}`,
		``,
		`[]`,
	}
}

func TestFuzzSeedsNonEmpty(t *testing.T) {
	if len(sealedSeeds()) == 0 || len(settingsSeeds()) == 0 {
		t.Fatal("a seed corpus is empty")
	}
}

// FuzzParseSealed: the sealed-blob parser never panics; it accepts exactly
// the format 1 length with the format 1 version byte, returns the IV and
// ciphertext that re-encode to its input, and refuses anything else with
// seal.ErrUnseal.
func FuzzParseSealed(f *testing.F) {
	for _, s := range sealedSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		iv, ct, err := parseSealed(b)
		valid := len(b) == sealedLen && b[0] == sealedFormat1
		if err != nil {
			if valid || !errors.Is(err, seal.ErrUnseal) || iv != nil || ct != nil {
				t.Fatalf("parseSealed(%x) = %x, %x, %v", b, iv, ct, err)
			}
			return
		}
		if !valid || len(iv) != ivLen || len(ct) != seal.RootKeySize+tagLen {
			t.Fatalf("parseSealed accepted %x as IV %x and ciphertext %x", b, iv, ct)
		}
		if re := encodeSealed(iv, ct); !bytes.Equal(re, b) {
			t.Fatalf("parseSealed(%x) re-encodes to %x", b, re)
		}
	})
}

// FuzzParseSettings: the stored-settings parser never panics, and what it
// accepts is one JSON document, nothing after it, valid, and survives a
// Marshal and a second parse unchanged.
func FuzzParseSettings(f *testing.F) {
	for _, s := range settingsSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSettings(b)
		if err != nil {
			return
		}
		if !json.Valid(b) {
			t.Fatalf("ParseSettings accepted %q, which is not one JSON document", b)
		}
		re, err := s.Marshal()
		if err != nil {
			t.Fatalf("ParseSettings accepted %q, which Marshal refuses: %v", b, err)
		}
		again, err := ParseSettings(re)
		if err != nil || again != s {
			t.Fatalf("ParseSettings(Marshal(%+v)) = %+v, %v", s, again, err)
		}
	})
}
