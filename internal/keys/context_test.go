package keys

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"testing"
)

func TestCanonicalContext(t *testing.T) {
	tests := []struct {
		name string
		ec   map[string]string
		want string // hex
	}{
		{"nil", nil, "00000000"},
		{"empty", map[string]string{}, "00000000"},
		{"one pair", map[string]string{"a": "b"}, "00000001" + "00000001" + "61" + "00000001" + "62"},
		{"empty key and value", map[string]string{"": ""}, "00000001" + "00000000" + "00000000"},
		{"ab:c", map[string]string{"ab": "c"}, "00000001" + "00000002" + "6162" + "00000001" + "63"},
		{"a:bc", map[string]string{"a": "bc"}, "00000001" + "00000001" + "61" + "00000002" + "6263"},
		{
			"sorted by key bytes", map[string]string{"b": "1", "B": "2", "a": "3"},
			"00000003" +
				"00000001" + "42" + "00000001" + "32" + // "B" (0x42) sorts before "a" (0x61)
				"00000001" + "61" + "00000001" + "33" +
				"00000001" + "62" + "00000001" + "31",
		},
		{
			"utf-8 is raw bytes", map[string]string{"é": "x", "z": "y"}, // "é" is c3 a9, after "z" (7a)
			"00000002" + "00000001" + "7a" + "00000001" + "79" + "00000002" + "c3a9" + "00000001" + "78",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CanonicalContext(tt.ec)
			if hex.EncodeToString(got) != tt.want {
				t.Fatalf("CanonicalContext(%q) = %x, want %s", tt.ec, got, tt.want)
			}
			if n := canonicalContextLen(tt.ec); n != len(got) {
				t.Fatalf("canonicalContextLen = %d, encoding is %d bytes", n, len(got))
			}
		})
	}
}

func TestCanonicalContextDistinguishes(t *testing.T) {
	pairs := [][2]map[string]string{
		{{"ab": "c"}, {"a": "bc"}},
		{{"a": "b", "c": "d"}, {"a": "b\x00\x00\x00\x01c\x00\x00\x00\x01d"}},
		{{"a": ""}, {"": "a"}},
		{{"a": "b"}, {"a": "b", "": ""}},
		{{"k": "v"}, {"K": "v"}},
		{nil, {"": ""}},
	}
	for _, p := range pairs {
		if bytes.Equal(CanonicalContext(p[0]), CanonicalContext(p[1])) {
			t.Errorf("CanonicalContext(%q) == CanonicalContext(%q)", p[0], p[1])
		}
	}
}

// TestCanonicalContextManyPairs covers the path that sorts more keys than fit
// on the stack, and checks the encoding does not depend on map order.
func TestCanonicalContextManyPairs(t *testing.T) {
	for _, n := range []int{2, sortedKeysOnStack - 1, sortedKeysOnStack, sortedKeysOnStack + 1, 100} {
		ec := map[string]string{}
		for i := range n {
			ec[fmt.Sprintf("key-%03d", n-i)] = fmt.Sprint(i)
		}
		want := CanonicalContext(ec)
		got, err := decodeCanonicalContext(want)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if !maps.Equal(got, ec) {
			t.Fatalf("n=%d: decoded %v, want %v", n, got, ec)
		}
		for range 5 {
			if !bytes.Equal(CanonicalContext(maps.Clone(ec)), want) {
				t.Fatalf("n=%d: encoding depends on map order", n)
			}
		}
	}
}

// decodeCanonicalContext is the strict inverse of CanonicalContext, used by
// tests to show the encoding is injective: it refuses trailing bytes, keys
// out of order and duplicate keys.
func decodeCanonicalContext(b []byte) (map[string]string, error) {
	field := func() (string, error) {
		if len(b) < 4 {
			return "", fmt.Errorf("short length prefix")
		}
		n := binary.BigEndian.Uint32(b)
		b = b[4:]
		if uint64(len(b)) < uint64(n) {
			return "", fmt.Errorf("short field")
		}
		s := string(b[:n])
		b = b[n:]
		return s, nil
	}
	if len(b) < 4 {
		return nil, fmt.Errorf("short count")
	}
	count := binary.BigEndian.Uint32(b)
	b = b[4:]
	ec := map[string]string{}
	prev := ""
	for i := range count {
		k, err := field()
		if err != nil {
			return nil, err
		}
		v, err := field()
		if err != nil {
			return nil, err
		}
		if i > 0 && k <= prev {
			return nil, fmt.Errorf("keys not strictly increasing")
		}
		prev = k
		ec[k] = v
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d trailing bytes", len(b))
	}
	return ec, nil
}

func TestContextSize(t *testing.T) {
	for _, tc := range []struct {
		ec   map[string]string
		want int
	}{
		{nil, 0},
		{map[string]string{}, 0},
		{map[string]string{"": ""}, 0},
		{map[string]string{"a": "bc"}, 3},
		{map[string]string{"a": "b", "cd": "ef"}, 6},
		{map[string]string{"é": "🔑"}, 6}, // bytes, not characters
	} {
		if got := ContextSize(tc.ec); got != tc.want {
			t.Errorf("ContextSize(%q) = %d, want %d", tc.ec, got, tc.want)
		}
	}
}
