package ids

import (
	"regexp"
	"testing"
)

var v4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestNewUUID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		u := NewUUID()
		if !v4.MatchString(u) {
			t.Fatalf("%q is not a canonical version-4 UUID", u)
		}
		if seen[u] {
			t.Fatalf("%q repeated", u)
		}
		seen[u] = true
	}
}

func TestFormatUUID(t *testing.T) {
	u := [16]byte{0x12, 0x34, 0xab, 0xcd, 0x12, 0xab, 0x34, 0xcd, 0x56, 0xef, 0x12, 0x34, 0x56, 0x78, 0x90, 0xab}
	if got, want := FormatUUID(&u), "1234abcd-12ab-34cd-56ef-1234567890ab"; got != want {
		t.Fatalf("FormatUUID = %s, want %s", got, want)
	}
}

func TestIsAccountID(t *testing.T) {
	for s, want := range map[string]bool{
		"111122223333":  true,
		"000000000000":  true,
		"11112222333":   false, // 11 digits
		"1111222233334": false,
		"11112222333a":  false,
		"1111-2222-333": false,
		"１２３４":          false, // 12 bytes: four fullwidth digits
		"":              false,
	} {
		if got := IsAccountID(s); got != want {
			t.Errorf("IsAccountID(%q) = %v, want %v", s, got, want)
		}
	}
}
