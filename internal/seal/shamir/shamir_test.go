package shamir

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// slowMul multiplies in GF(2^8) the schoolbook way — a carry-less product
// reduced by the AES polynomial — to check mul against something written
// differently.
func slowMul(a, b byte) byte {
	var p uint16
	for i := range 8 {
		if b>>i&1 == 1 {
			p ^= uint16(a) << i
		}
	}
	for i := 15; i >= 8; i-- {
		if p>>i&1 == 1 {
			p ^= 0x11b << (i - 8)
		}
	}
	return byte(p)
}

func TestMul(t *testing.T) {
	// FIPS 197 §4.2 and §5.1.1 state these.
	for _, tt := range []struct{ a, b, want byte }{
		{0x57, 0x83, 0xc1},
		{0x57, 0x13, 0xfe},
		{0x57, 0x02, 0xae},
		{0x57, 0x04, 0x47},
		{0x57, 0x08, 0x8e},
		{0x57, 0x10, 0x07},
		{0x53, 0xca, 0x01}, // {53} and {ca} are inverses
		{0x00, 0xff, 0x00},
		{0x01, 0xab, 0xab},
	} {
		if got := mul(tt.a, tt.b); got != tt.want {
			t.Errorf("mul(%#02x, %#02x) = %#02x, want %#02x", tt.a, tt.b, got, tt.want)
		}
	}
	for a := range 256 {
		for b := range 256 {
			if got, want := mul(byte(a), byte(b)), slowMul(byte(a), byte(b)); got != want {
				t.Fatalf("mul(%#02x, %#02x) = %#02x, schoolbook says %#02x", a, b, got, want)
			}
		}
	}
}

func TestInv(t *testing.T) {
	if inv(0) != 0 {
		t.Errorf("inv(0) = %#02x, want 0", inv(0))
	}
	if inv(0x53) != 0xca {
		t.Errorf("inv(0x53) = %#02x, want 0xca (FIPS 197 §4.2)", inv(0x53))
	}
	for a := 1; a < 256; a++ {
		if got := mul(byte(a), inv(byte(a))); got != 1 {
			t.Fatalf("a·inv(a) = %#02x for a = %#02x", got, a)
		}
	}
}

// TestHandComputed works a 2-of-3 split of one byte by hand. With secret
// {53} and coefficient {ca}, f(x) = {53} + {ca}·x:
//
//	f(1) = {53} ⊕ {ca}          = {99}
//	f(2) = {53} ⊕ {ca}·{02}     = {53} ⊕ {8f} = {dc}   ({ca}·2 = {194} ⊕ {11b})
//	f(3) = {53} ⊕ {ca}·{03}     = {53} ⊕ ({8f} ⊕ {ca}) = {53} ⊕ {45} = {16}
//
// and from shares 2 and 3 the secret is f(0) = y2·x3/(x2⊕x3) ⊕ y3·x2/(x2⊕x3)
// = ({dc}·3 ⊕ {16}·2) / 1 = {7f} ⊕ {2c} = {53}.
func TestHandComputed(t *testing.T) {
	set := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	shares, err := split(bytes.NewReader(append(set, 0xca)), []byte{0x53}, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []byte{0x99, 0xdc, 0x16} {
		if s := shares[i]; s.X != byte(i+1) || len(s.y) != 1 || s.y[0] != want {
			t.Errorf("share %d = (x %d, y %x), want (x %d, y %02x)", i+1, s.X, s.y, i+1, want)
		}
	}
	if mul(0xdc, 3) != 0x7f || mul(0x16, 2) != 0x2c {
		t.Fatal("the hand computation's products are wrong")
	}
	got, err := Combine([]*Share{shares[1], shares[2]})
	if err != nil || !bytes.Equal(got, []byte{0x53}) {
		t.Fatalf("Combine(shares 2, 3) = %x, %v; want 53", got, err)
	}
	// The encoded share: format, set, threshold, x, y, checksum.
	if enc := shares[0].Encode(); !strings.HasPrefix(enc, "01"+"0102030405060708"+"02"+"01"+"99") || len(enc) != 2*(headerSize+1+checksumSize) {
		t.Errorf("Encode = %s", enc)
	}
}

type vector struct {
	Name   string
	Secret string
	N, T   int
	Rand   string
	Shares []string
}

// TestVectors checks Split and Combine against shares made by
// testdata/vectors.py, an independent implementation (log/exp tables,
// term-by-term evaluation, Python) fed the same randomness.
func TestVectors(t *testing.T) {
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vectors []vector
	if err := json.Unmarshal(b, &vectors); err != nil {
		t.Fatal(err)
	}
	if len(vectors) < 5 {
		t.Fatalf("only %d vectors in testdata/vectors.json", len(vectors))
	}
	for _, v := range vectors {
		t.Run(v.Name, func(t *testing.T) {
			secret, _ := hex.DecodeString(v.Secret)
			r, _ := hex.DecodeString(v.Rand)
			shares, err := split(bytes.NewReader(r), secret, v.N, v.T)
			if err != nil {
				t.Fatal(err)
			}
			if len(shares) != len(v.Shares) {
				t.Fatalf("%d shares, want %d", len(shares), len(v.Shares))
			}
			for i, s := range shares {
				if got := s.Encode(); got != v.Shares[i] {
					t.Fatalf("share %d = %s\nwant      %s", i+1, got, v.Shares[i])
				}
			}
			// The last T shares, parsed from the Python text, rebuild it.
			var parsed []*Share
			for _, text := range v.Shares[len(v.Shares)-v.T:] {
				s, err := Parse(text)
				if err != nil {
					t.Fatal(err)
				}
				parsed = append(parsed, s)
			}
			got, err := Combine(parsed)
			if err != nil || !bytes.Equal(got, secret) {
				t.Fatalf("Combine = %x, %v; want %s", got, err, v.Secret)
			}
		})
	}
}

// subsets calls f with every subset of {0..n-1} of size k.
func subsets(n, k int, f func([]int)) {
	idx := make([]int, k)
	var rec func(start, depth int)
	rec = func(start, depth int) {
		if depth == k {
			f(idx)
			return
		}
		for i := start; i < n; i++ {
			idx[depth] = i
			rec(i+1, depth+1)
		}
	}
	rec(0, 0)
}

// TestAnyThresholdReconstructs: every subset of at least T of N shares, in
// any order, rebuilds the secret; every subset of T-1 is refused.
func TestAnyThresholdReconstructs(t *testing.T) {
	for _, tt := range []struct{ n, t, size int }{
		{1, 1, 32}, {2, 2, 32}, {3, 2, 1}, {5, 3, 32}, {6, 4, 7}, {7, 7, 32}, {8, 3, 64},
	} {
		t.Run(fmt.Sprintf("%d of %d", tt.t, tt.n), func(t *testing.T) {
			secret := make([]byte, tt.size)
			rand.Read(secret)
			shares, err := Split(secret, tt.n, tt.t)
			if err != nil {
				t.Fatal(err)
			}
			for k := tt.t; k <= tt.n; k++ {
				subsets(tt.n, k, func(idx []int) {
					sub := make([]*Share, len(idx))
					for i, j := range idx {
						// Reversed, so order is exercised too.
						sub[len(idx)-1-i] = shares[j]
					}
					got, err := Combine(sub)
					if err != nil || !bytes.Equal(got, secret) {
						t.Fatalf("Combine(shares %v) = %x, %v", idx, got, err)
					}
				})
			}
			if tt.t > 1 {
				subsets(tt.n, tt.t-1, func(idx []int) {
					sub := make([]*Share, len(idx))
					for i, j := range idx {
						sub[i] = shares[j]
					}
					if got, err := Combine(sub); !errors.Is(err, ErrTooFew) || got != nil {
						t.Fatalf("Combine of %d shares = %x, %v; want ErrTooFew", len(idx), got, err)
					}
				})
			}
		})
	}
}

func TestMaxShares(t *testing.T) {
	secret := bytes.Repeat([]byte{0xa5}, 32)
	shares, err := Split(secret, MaxShares, MaxShares)
	if err != nil {
		t.Fatal(err)
	}
	if shares[MaxShares-1].X != 255 {
		t.Fatalf("last index %d", shares[MaxShares-1].X)
	}
	got, err := Combine(shares)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Combine(255 of 255) = %x, %v", got, err)
	}
}

// TestFewerThanThresholdRevealNothing checks perfect secrecy exhaustively
// for a one-byte secret: over every choice of Split's random coefficients,
// the T-1 shares an attacker holds take each possible value equally often
// whatever the secret is. So those shares are consistent with every
// candidate secret, equally, and say nothing about which it is. A split
// that, say, avoided zero coefficients would fail this.
func TestFewerThanThresholdRevealNothing(t *testing.T) {
	t.Run("2 of 2, one share held", func(t *testing.T) {
		set := make([]byte, setSize)
		for s := range 256 {
			var count [256]int
			for c := range 256 {
				shares, err := split(bytes.NewReader(append(set, byte(c))), []byte{byte(s)}, 2, 2)
				if err != nil {
					t.Fatal(err)
				}
				count[shares[0].y[0]]++
			}
			for y, n := range count {
				if n != 1 {
					t.Fatalf("secret %#02x: share 1 = %#02x for %d of 256 coefficients, want 1", s, y, n)
				}
			}
		}
	})
	t.Run("3 of 3, shares 1 and 3 held", func(t *testing.T) {
		// Through eval, which Split uses, to keep to 2^24 evaluations.
		for _, s := range []byte{0x00, 0x01, 0x53, 0xff} {
			count := make([]uint8, 1<<16)
			for c := range 1 << 16 {
				coef := []byte{byte(c), byte(c >> 8)}
				count[int(eval(s, coef, 1))<<8|int(eval(s, coef, 3))]++
			}
			for yy, n := range count {
				if n != 1 {
					t.Fatalf("secret %#02x: shares (1, 3) = %04x for %d of 65536 coefficient pairs, want 1", s, yy, n)
				}
			}
		}
	})
	// And Split reads its coefficients into eval as the test above assumes.
	shares, err := split(bytes.NewReader(append(make([]byte, setSize), 7, 9)), []byte{0x53}, 3, 3)
	if err != nil {
		t.Fatal(err)
	}
	if shares[0].y[0] != eval(0x53, []byte{7, 9}, 1) || shares[2].y[0] != eval(0x53, []byte{7, 9}, 3) {
		t.Fatal("split does not evaluate through eval with its coefficients in order")
	}
}

func TestSplitRefuses(t *testing.T) {
	for _, tt := range []struct {
		name       string
		size, n, t int
	}{
		{"empty secret", 0, 3, 2},
		{"secret too long", MaxSecretSize + 1, 3, 2},
		{"no shares", 32, 0, 0},
		{"256 shares", 32, 256, 2},
		{"threshold 0", 32, 3, 0},
		{"threshold above shares", 32, 3, 4},
		{"threshold 1 of 2", 32, 2, 1},
		{"threshold 1 of 255", 32, 255, 1},
		{"negative", 32, -1, -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := Split(make([]byte, tt.size), tt.n, tt.t); err == nil {
				t.Fatalf("Split(%d bytes, %d, %d) = %d shares", tt.size, tt.n, tt.t, len(s))
			}
		})
	}
}

func TestCombineRefuses(t *testing.T) {
	secret := bytes.Repeat([]byte{0x42}, 32)
	a, err := Split(secret, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Split(secret, 5, 3) // another split of the same secret
	if err != nil {
		t.Fatal(err)
	}
	c, err := Split(secret, 5, 2)
	if err != nil {
		t.Fatal(err)
	}
	forged := *a[2]
	forged.y = bytes.Clone(a[2].y)
	forged.y[0] ^= 1
	sameIndex := *a[1]
	sameIndex.y = bytes.Clone(a[2].y)
	for _, tt := range []struct {
		name   string
		shares []*Share
		want   error
	}{
		{"none", nil, ErrTooFew},
		{"two of three", a[:2], ErrTooFew},
		{"duplicate", []*Share{a[0], a[1], a[0]}, ErrDuplicate},
		{"duplicate makes up the count", []*Share{a[0], a[1], a[1]}, ErrDuplicate},
		{"two different shares with one index", []*Share{a[0], a[1], &sameIndex}, ErrDuplicate},
		{"another split", []*Share{a[0], a[1], b[2]}, ErrMismatch},
		{"another threshold", []*Share{c[0], a[1], a[2]}, ErrMismatch},
		{"one more that does not fit", []*Share{a[0], a[1], a[3], &forged}, ErrInconsistent},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Combine(tt.shares)
			if !errors.Is(err, tt.want) || got != nil {
				t.Fatalf("Combine = %x, %v; want %v", got, err, tt.want)
			}
		})
	}
	// Exactly the threshold with a forged share yields a wrong secret
	// without error: the documented limit, which the seal covers.
	got, err := Combine([]*Share{a[0], a[1], &forged})
	if err != nil || bytes.Equal(got, secret) {
		t.Fatalf("Combine with a forged share = %x, %v; the test expected a silent wrong answer", got, err)
	}
}

func TestParse(t *testing.T) {
	shares, err := Split(bytes.Repeat([]byte{0x11}, 32), 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	good := shares[1].Encode()
	flip := func(i int) string {
		b := []byte(good)
		if b[i] == '0' {
			b[i] = '1'
		} else {
			b[i] = '0'
		}
		return string(b)
	}
	reframed := func(mod func(b []byte)) string {
		b, _ := hex.DecodeString(good)
		mod(b)
		sum := checksum(b[:len(b)-checksumSize])
		copy(b[len(b)-checksumSize:], sum[:])
		return hex.EncodeToString(b)
	}
	// Two neighbouring digits that differ, swapped: a common typo.
	i := 2 * headerSize
	for good[i] == good[i+1] {
		i++
	}
	swapped := good[:i] + good[i+1:i+2] + good[i:i+1] + good[i+2:]
	for _, tt := range []struct {
		name string
		text string
		want error // nil: parses to shares[1]
	}{
		{"as encoded", good, nil},
		{"uppercase with white space", "  " + strings.ToUpper(good) + "\n", nil},
		{"empty", "", ErrCorrupt},
		{"not hex", strings.Repeat("zz", 48), ErrCorrupt},
		{"odd length", good[:len(good)-1], ErrCorrupt},
		{"truncated", good[:len(good)-2], ErrCorrupt},
		{"extended", good + "00", ErrCorrupt},
		{"first y digit mistyped", flip(2 * headerSize), ErrCorrupt},
		{"index mistyped", flip(2*headerSize - 1), ErrCorrupt},
		{"checksum mistyped", flip(len(good) - 1), ErrCorrupt},
		{"swapped digits", swapped, ErrCorrupt},
		{"huge", strings.Repeat("0", 1<<20), ErrCorrupt},
		{"format 2", "02" + good[2:], ErrUnknownFormat},
		{"index 0", reframed(func(b []byte) { b[headerSize-1] = 0 }), ErrCorrupt},
		{"threshold 0", reframed(func(b []byte) { b[headerSize-2] = 0 }), ErrCorrupt},
		{"header only", reframed(func(b []byte) {})[:2*headerSize] + "00000000", ErrCorrupt},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.text)
			if tt.want == nil {
				if err != nil || s.X != 2 || s.Threshold != 2 || s.Set != shares[1].Set || !bytes.Equal(s.y, shares[1].y) {
					t.Fatalf("Parse = %v, %v", s, err)
				}
				return
			}
			if !errors.Is(err, tt.want) || s != nil {
				t.Fatalf("Parse = %v, %v; want %v", s, err, tt.want)
			}
			// The error never quotes the share.
			if len(tt.text) >= 16 && strings.Contains(strings.ToLower(err.Error()), strings.ToLower(strings.TrimSpace(tt.text))[2:18]) {
				t.Fatalf("error %q quotes the share", err)
			}
		})
	}
}

// TestNoSecretInFormatting: a share printed by mistake shows no y byte.
func TestNoSecretInFormatting(t *testing.T) {
	shares, err := Split(bytes.Repeat([]byte{0xee}, 32), 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	s := shares[0]
	y := hex.EncodeToString(s.y)
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		if out := fmt.Sprintf(f, s); strings.Contains(strings.ToLower(out), y[:8]) || strings.Contains(out, s.Encode()[22:30]) {
			t.Errorf("Sprintf(%q, share) = %q shows the secret bytes", f, out)
		}
	}
	s.Destroy()
	if !bytes.Equal(s.y, make([]byte, 32)) {
		t.Errorf("Destroy left %x", s.y)
	}
}

func BenchmarkSplit32Bytes5of3(b *testing.B) {
	secret := make([]byte, 32)
	for b.Loop() {
		if _, err := Split(secret, 5, 3); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCombine32Bytes3(b *testing.B) {
	shares, _ := Split(make([]byte, 32), 5, 3)
	for b.Loop() {
		if _, err := Combine(shares[:3]); err != nil {
			b.Fatal(err)
		}
	}
}
