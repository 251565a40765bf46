package keys

import (
	"bytes"
	"errors"
	"testing"
)

// A multi-Region key's blob is format 2 with the id's 16 bytes, and its
// header cannot be turned into a single-Region key's (format 1, same bytes).
func TestMultiRegionBlob(t *testing.T) {
	backing := bytes.Repeat([]byte{7}, SymmetricKeySize)
	const id = "mrk-0123456789abcdef0123456789abcdef"
	blob, err := EncryptSymmetric(backing, id, 3, []byte("hello"), map[string]string{"a": "b"})
	if err != nil {
		t.Fatal(err)
	}
	if blob[0] != blobVersion2 {
		t.Fatalf("format %#x, want 2", blob[0])
	}
	h, err := ParseBlob(blob)
	if err != nil || h.KeyID != id || h.Version != 3 {
		t.Fatalf("ParseBlob = %+v, %v", h, err)
	}
	pt, err := DecryptSymmetric(backing, blob, map[string]string{"a": "b"})
	if err != nil || string(pt) != "hello" {
		t.Fatalf("DecryptSymmetric = %q, %v", pt, err)
	}
	flipped := bytes.Clone(blob)
	flipped[0] = blobVersion1
	if h, err := ParseBlob(flipped); err != nil || h.KeyID != "01234567-89ab-cdef-0123-456789abcdef" {
		t.Fatalf("ParseBlob(format 1) = %+v, %v", h, err)
	}
	if _, err := DecryptSymmetric(backing, flipped, map[string]string{"a": "b"}); !errors.Is(err, ErrInvalidCiphertext) {
		t.Fatalf("format byte switched: %v, want ErrInvalidCiphertext", err)
	}
	for _, bad := range []string{"mrk-0123456789ABCDEF0123456789abcdef", "mrk-0123", "mrk_0123456789abcdef0123456789abcdef"} {
		if _, err := EncryptSymmetric(backing, bad, 1, nil, nil); err == nil {
			t.Errorf("EncryptSymmetric accepted key id %q", bad)
		}
	}
}
