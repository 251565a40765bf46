package seal

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// reframe decodes a share's text, lets mod change its bytes and gives it
// a valid checksum again: a share altered by someone who knows the format.
func reframe(t *testing.T, text string, mod func(b []byte)) string {
	t.Helper()
	b, err := hex.DecodeString(text)
	if err != nil {
		t.Fatal(err)
	}
	mod(b)
	h := sha256.Sum256(append([]byte("trent/shamir-share/v1"), b[:len(b)-4]...))
	copy(b[len(b)-4:], h[:4])
	return hex.EncodeToString(b)
}

func newShamirInstallation(t *testing.T, n, th int) (sealed, root []byte, cfg *ShamirConfig, shares []string) {
	t.Helper()
	p, cfg, shares, err := NewShamir(n, th)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Destroy()
	root = seq(0x10, RootKeySize)
	sealed, err = p.Seal(root)
	if err != nil {
		t.Fatal(err)
	}
	// What is stored goes through its encoding.
	b, _ := cfg.MarshalBinary()
	cfg, err = ParseShamirConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	return sealed, root, cfg, shares
}

func TestShamirUnseal(t *testing.T) {
	sealed, root, cfg, shares := newShamirInstallation(t, 5, 3)
	if cfg.Threshold != 3 || cfg.Shares != 5 || len(shares) != 5 {
		t.Fatalf("config %+v, %d shares", cfg, len(shares))
	}
	for _, order := range [][]int{{0, 1, 2}, {4, 2, 0}, {3, 1, 4}} {
		u := NewShareUnsealer(cfg)
		for i, j := range order {
			if err := u.Add(shares[j]); err != nil {
				t.Fatalf("Add(share %d): %v", j+1, err)
			}
			if got, need := u.Progress(); got != i+1 || need != 3 {
				t.Fatalf("Progress = %d of %d after %d shares", got, need, i+1)
			}
		}
		got, err := u.Unseal(sealed)
		if err != nil || !bytes.Equal(got, root) {
			t.Fatalf("Unseal with shares %v = %x, %v", order, got, err)
		}
		if n, _ := u.Progress(); n != 0 {
			t.Fatalf("Unseal kept %d shares", n)
		}
	}
}

func TestShamirRefusesShares(t *testing.T) {
	_, _, cfg, shares := newShamirInstallation(t, 5, 3)
	_, _, _, other := newShamirInstallation(t, 5, 3)
	_, _, _, fewer := newShamirInstallation(t, 5, 2)
	mistyped := []byte(shares[1])
	mistyped[40] ^= 0x01 // '0'↔'1', 'a'↔'`' …: still a typo either way
	for _, tt := range []struct {
		name  string
		share string
		want  error
	}{
		{"mistyped", string(mistyped), ErrShareCorrupt},
		{"truncated", shares[1][:len(shares[1])-2], ErrShareCorrupt},
		{"empty", "", ErrShareCorrupt},
		{"not hex", "hello, world", ErrShareCorrupt},
		{"newer format", reframe(t, shares[1], func(b []byte) { b[0] = 2 }), ErrShareCorrupt},
		{"another installation's", other[1], ErrShareForeign},
		{"another threshold's", fewer[1], ErrShareForeign},
		{"altered, with a valid checksum", reframe(t, shares[1], func(b []byte) { b[12] ^= 0x80 }), ErrShareForeign},
		{"share 2 relabelled 4", reframe(t, shares[1], func(b []byte) { b[10] = 4 }), ErrShareForeign},
		{"index beyond the shares issued", reframe(t, shares[1], func(b []byte) { b[10] = 6 }), ErrShareForeign},
		{"index 255", reframe(t, shares[1], func(b []byte) { b[10] = 255 }), ErrShareForeign},
		{"already submitted", shares[0], ErrShareDuplicate},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := NewShareUnsealer(cfg)
			if err := u.Add(shares[0]); err != nil {
				t.Fatal(err)
			}
			err := u.Add(tt.share)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Add = %v, want %v", err, tt.want)
			}
			if got, _ := u.Progress(); got != 1 {
				t.Fatalf("progress %d after a refused share, want 1", got)
			}
			if len(tt.share) > 20 && strings.Contains(err.Error(), tt.share[12:28]) {
				t.Fatalf("error %q quotes the share", err)
			}
		})
	}
}

// TestShamirUnsealWrongRoot: threshold shares that do not open the sealed
// root (the data dir's sealed root swapped for another's) fail with
// ErrUnseal and leave no share behind.
func TestShamirUnsealWrongRoot(t *testing.T) {
	_, _, cfg, shares := newShamirInstallation(t, 3, 2)
	otherSealed, _, _, _ := newShamirInstallation(t, 3, 2)
	u := NewShareUnsealer(cfg)
	if _, err := u.Unseal(otherSealed); !errors.Is(err, ErrUnseal) {
		t.Fatalf("Unseal with no shares = %v, want ErrUnseal", err)
	}
	for _, s := range shares[:2] {
		if err := u.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	got, err := u.Unseal(otherSealed)
	if !errors.Is(err, ErrUnseal) || got != nil {
		t.Fatalf("Unseal of another root = %x, %v; want ErrUnseal", got, err)
	}
	if n, _ := u.Progress(); n != 0 {
		t.Fatalf("a failed Unseal kept %d shares", n)
	}
}

func TestShamirReset(t *testing.T) {
	sealed, root, cfg, shares := newShamirInstallation(t, 3, 2)
	u := NewShareUnsealer(cfg)
	if err := u.Add(shares[0]); err != nil {
		t.Fatal(err)
	}
	u.Reset()
	if n, _ := u.Progress(); n != 0 {
		t.Fatalf("Reset kept %d shares", n)
	}
	// The share dropped may be given again.
	for _, s := range shares[:2] {
		if err := u.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := u.Unseal(sealed); err != nil || !bytes.Equal(got, root) {
		t.Fatalf("Unseal after Reset = %x, %v", got, err)
	}
}

func TestNewShamirRefuses(t *testing.T) {
	for _, nt := range [][2]int{{0, 0}, {3, 4}, {2, 1}, {256, 3}, {3, 0}} {
		if p, _, _, err := NewShamir(nt[0], nt[1]); err == nil {
			p.Destroy()
			t.Errorf("NewShamir(%d, %d) succeeded", nt[0], nt[1])
		}
	}
	// 1 of 1 is allowed: one holder, the key framed as a share.
	sealed, root, cfg, shares := newShamirInstallation(t, 1, 1)
	u := NewShareUnsealer(cfg)
	if err := u.Add(shares[0]); err != nil {
		t.Fatal(err)
	}
	if got, err := u.Unseal(sealed); err != nil || !bytes.Equal(got, root) {
		t.Fatalf("1-of-1 Unseal = %x, %v", got, err)
	}
}

// TestShamirSealKnownAnswer builds the sealed format independently: plain
// AES-GCM with a chosen nonce and the documented additional data.
func TestShamirSealKnownAnswer(t *testing.T) {
	kek, nonce, root := seq(0xa0, 32), seq(0x40, 12), seq(0x00, 32)
	gcm := fixedNonceGCM(t, kek)
	blob := gcm.Seal(append([]byte{0x01}, nonce...), nonce, root, []byte("trent/root/shamir/v1"))
	p := new(Shamir)
	copy(p.kek[:], kek)
	got, err := p.Unseal(blob)
	if err != nil || !bytes.Equal(got, root) {
		t.Fatalf("Unseal(independent blob) = %x, %v", got, err)
	}
	// The key file's additional data does not open as a shamir seal.
	kfBlob := gcm.Seal(append([]byte{0x01}, nonce...), nonce, root, []byte("trent/root/v1"))
	if _, err := p.Unseal(kfBlob); !errors.Is(err, ErrUnseal) {
		t.Fatalf("Unseal of a key-file blob = %v, want ErrUnseal", err)
	}
	mine, err := p.Seal(root)
	if err != nil || len(mine) != 61 || mine[0] != 0x01 {
		t.Fatalf("Seal = %x, %v", mine, err)
	}
	if got, err := gcm.Open(nil, mine[1:13], mine[13:], []byte("trent/root/shamir/v1")); err != nil || !bytes.Equal(got, root) {
		t.Fatalf("independent open of Seal's output: %v", err)
	}
	p.Destroy()
	if _, err := p.Unseal(blob); err == nil {
		t.Fatal("Unseal after Destroy succeeded")
	}
}

func TestParseShamirConfig(t *testing.T) {
	_, _, cfg, _ := newShamirInstallation(t, 5, 3)
	good, _ := cfg.MarshalBinary()
	if len(good) != 11+5*32 {
		t.Fatalf("config is %d bytes", len(good))
	}
	with := func(i int, v byte) []byte {
		b := bytes.Clone(good)
		b[i] = v
		return b
	}
	for _, tt := range []struct {
		name    string
		b       []byte
		unknown bool
	}{
		{"empty", nil, false},
		{"format 2", with(0, 2), true},
		{"truncated", good[:len(good)-1], false},
		{"extended", append(bytes.Clone(good), 0), false},
		{"header only", good[:11], false},
		{"threshold 0", with(9, 0), false},
		{"threshold above shares", with(9, 6), false},
		{"more shares than commitments", with(10, 6), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseShamirConfig(tt.b)
			if err == nil || errors.Is(err, ErrUnknownFormat) != tt.unknown {
				t.Fatalf("ParseShamirConfig = %v (unknown format wanted: %v)", err, tt.unknown)
			}
		})
	}
}
