package keys

import (
	"bytes"
	"encoding/binary"
	"errors"
	"maps"
	"testing"
)

// Seed corpora live in functions so TestFuzzSeedsNonEmpty can check they have
// not silently become empty.

// blobSeeds are well-formed blobs (built independently, under fuzzBacking's
// complement so they do not decrypt) and near-misses around the boundaries.
func blobSeeds(t testing.TB) [][]byte {
	other := bytes.Clone(fuzzBacking)
	for i := range other {
		other[i] ^= 0xff
	}
	id := []byte{0x12, 0x34, 0xab, 0xcd, 0x12, 0xab, 0x34, 0xcd, 0x56, 0xef, 0x12, 0x34, 0x56, 0x78, 0x90, 0xab}
	valid := buildBlobIndependently(t, other, id, 1, seq(0x20, 32), seq(0x40, 12), []byte("Hello, Trent!"), [][2]string{{"k", "v"}}, hkdfInfo)
	empty := buildBlobIndependently(t, other, id, 0, seq(0, 32), seq(0, 12), nil, nil, hkdfInfo)
	shortest := make([]byte, Overhead)
	shortest[0] = blobVersion1
	v2 := bytes.Clone(valid)
	v2[0] = 0x02
	return [][]byte{
		valid,
		empty,
		shortest,
		shortest[:Overhead-1],
		v2,
		valid[:headerLen],
		{},
		{0x01},
		bytes.Repeat([]byte{0xff}, 100),
		mustHex(t, kat.blob),
	}
}

var fuzzBacking = seq(0x80, SymmetricKeySize)

type ctxSeed struct{ k1, v1, k2, v2, k3, v3, k4, v4 string }

func contextSeeds() []ctxSeed {
	return []ctxSeed{
		{"ab", "c", "x", "y", "a", "bc", "x", "y"},
		{"a", "b", "a", "b", "a", "b", "", ""},
		{"", "", "", "", "", "", "", ""},
		{"k", "v", "k2", "v2", "k2", "v2", "k", "v"},
		{"a", "b\x00\x00\x00\x01c", "d", "", "a", "b", "c", "d"},
		{"\x00", "\x00\x00\x00\x00", "x", "y", "", "\x00", "x", "y"},
	}
}

func TestFuzzSeedsNonEmpty(t *testing.T) {
	if n := len(blobSeeds(t)); n == 0 {
		t.Fatal("blob seed corpus is empty")
	}
	if n := len(contextSeeds()); n == 0 {
		t.Fatal("context seed corpus is empty")
	}
	// The first seed must be well-formed, so the fuzzers start inside the
	// format rather than at its edge.
	if _, err := ParseBlob(blobSeeds(t)[0]); err != nil {
		t.Fatalf("first blob seed is not well-formed: %v", err)
	}
}

// FuzzParseBlob: ParseBlob never panics; when it accepts a blob, the blob is
// at least Overhead bytes of format 1 and its header re-encodes to the same
// bytes.
func FuzzParseBlob(f *testing.F) {
	for _, s := range blobSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, blob []byte) {
		h, err := ParseBlob(blob)
		if err != nil {
			if !errors.Is(err, ErrInvalidCiphertext) {
				t.Fatalf("ParseBlob error %v does not wrap ErrInvalidCiphertext", err)
			}
			if h != (BlobHeader{}) {
				t.Fatalf("ParseBlob returned %+v with an error", h)
			}
			return
		}
		if len(blob) < Overhead || blob[0] != blobVersion1 && blob[0] != blobVersion2 {
			t.Fatalf("ParseBlob accepted a malformed blob of %d bytes, version %#x", len(blob), blob[0])
		}
		id, ok := parseUUID(h.KeyID)
		if blob[0] == blobVersion2 {
			id, ok = parseMRK(h.KeyID)
		}
		if !ok {
			t.Fatalf("ParseBlob returned a non-canonical key id %q", h.KeyID)
		}
		re := append([]byte{blob[0]}, id[:]...)
		re = binary.BigEndian.AppendUint32(re, h.Version)
		if !bytes.Equal(re, blob[:offSalt]) {
			t.Fatalf("header re-encodes to %x, blob starts %x", re, blob[:offSalt])
		}
	})
}

// FuzzDecryptSymmetric: arbitrary bytes never decrypt under fuzzBacking and
// never panic; every failure is ErrInvalidCiphertext.
func FuzzDecryptSymmetric(f *testing.F) {
	for _, s := range blobSeeds(f) {
		f.Add(s, "k", "v")
	}
	f.Fuzz(func(t *testing.T, blob []byte, k, v string) {
		for _, ec := range []map[string]string{nil, {k: v}} {
			got, err := DecryptSymmetric(fuzzBacking, blob, ec)
			if err == nil {
				t.Fatalf("random blob %x decrypted to %q", blob, got)
			}
			if !errors.Is(err, ErrInvalidCiphertext) || got != nil {
				t.Fatalf("DecryptSymmetric = %q, %v; want ErrInvalidCiphertext", got, err)
			}
		}
	})
}

// FuzzCanonicalContext: on maps of up to two pairs, CanonicalContext is
// injective (different maps encode differently, equal maps identically) and
// decodes back to the map.
func FuzzCanonicalContext(f *testing.F) {
	for _, s := range contextSeeds() {
		f.Add(s.k1, s.v1, s.k2, s.v2, s.k3, s.v3, s.k4, s.v4)
	}
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3, v3, k4, v4 string) {
		a := map[string]string{k1: v1, k2: v2}
		b := map[string]string{k3: v3, k4: v4}
		ea, eb := CanonicalContext(a), CanonicalContext(b)
		if maps.Equal(a, b) != bytes.Equal(ea, eb) {
			t.Fatalf("maps %q and %q: equal=%v but encodings equal=%v", a, b, maps.Equal(a, b), bytes.Equal(ea, eb))
		}
		for _, m := range []map[string]string{a, b} {
			enc := CanonicalContext(m)
			dec, err := decodeCanonicalContext(enc)
			if err != nil || !maps.Equal(dec, m) {
				t.Fatalf("CanonicalContext(%q) = %x decodes to %q, %v", m, enc, dec, err)
			}
		}
	})
}
