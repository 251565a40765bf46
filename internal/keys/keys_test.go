package keys

import (
	"bytes"
	"regexp"
	"testing"

	"github.com/trent-kms/trent/internal/ids"
)

func TestNewSymmetricMaterial(t *testing.T) {
	a, err := NewSymmetricMaterial()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSymmetricMaterial()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != SymmetricKeySize || len(b) != SymmetricKeySize {
		t.Fatalf("lengths %d, %d; want %d", len(a), len(b), SymmetricKeySize)
	}
	if bytes.Equal(a, b) {
		t.Fatal("two calls returned the same material")
	}
}

func TestNewMaterialID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{64}$`)
	seen := map[string]bool{}
	for range 16 {
		id, err := NewMaterialID()
		if err != nil {
			t.Fatal(err)
		}
		if !re.MatchString(id) {
			t.Fatalf("NewMaterialID() = %q, want 64 lowercase hex digits", id)
		}
		if seen[id] {
			t.Fatalf("NewMaterialID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestParseUUID(t *testing.T) {
	tests := []struct {
		in   string
		want []byte // nil: must be refused
	}{
		{"1234abcd-12ab-34cd-56ef-1234567890ab", []byte{0x12, 0x34, 0xab, 0xcd, 0x12, 0xab, 0x34, 0xcd, 0x56, 0xef, 0x12, 0x34, 0x56, 0x78, 0x90, 0xab}},
		{"00000000-0000-0000-0000-000000000000", make([]byte, 16)},
		{"ffffffff-ffff-ffff-ffff-ffffffffffff", bytes.Repeat([]byte{0xff}, 16)},
		{"1234ABCD-12ab-34cd-56ef-1234567890ab", nil}, // upper case: not canonical
		{"1234abcd12ab34cd56ef1234567890ab", nil},
		{"{1234abcd-12ab-34cd-56ef-1234567890ab}", nil},
		{"urn:uuid:1234abcd-12ab-34cd-56ef-1234567890ab", nil},
		{"1234abcd-12ab-34cd-56ef-1234567890a", nil},
		{"1234abcd-12ab-34cd-56ef-1234567890abc", nil},
		{"1234abcd-12ab-34cd-56ef_1234567890ab", nil},
		{"1234abcd-12ab-34cd-56e-f1234567890ab", nil},
		{"1234abcg-12ab-34cd-56ef-1234567890ab", nil},
		{"1234abcd-12ab-34cd-56ef-1234567890a\x00", nil},
		{"alias/my-key", nil},
		{"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", nil},
		{"", nil},
	}
	for _, tt := range tests {
		got, ok := parseUUID(tt.in)
		if tt.want == nil {
			if ok {
				t.Errorf("parseUUID(%q) accepted, want refused", tt.in)
			}
			continue
		}
		if !ok || !bytes.Equal(got[:], tt.want) {
			t.Errorf("parseUUID(%q) = %x, %v; want %x", tt.in, got, ok, tt.want)
			continue
		}
		if s := ids.FormatUUID(&got); s != tt.in {
			t.Errorf("ids.FormatUUID(parseUUID(%q)) = %q", tt.in, s)
		}
	}
}
