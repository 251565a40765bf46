// Package shamir splits a secret into shares, any threshold of which
// rebuild it and fewer of which reveal nothing about it: Shamir's secret
// sharing over GF(2^8), byte by byte, as HashiCorp Vault and most others
// do it. internal/seal uses it to split the key that seals Trent's root
// key among operators.
//
// A share is text that people copy, paste and type, so it carries its own
// framing: a format version, an identifier of the split it belongs to, the
// threshold, its index x, its bytes y and a checksum. A mistyped or damaged
// share fails Parse with ErrCorrupt, naming no byte of it; shares of two
// different splits, or one share given twice, are refused by Combine. A
// well-formed share that was altered on purpose, with a valid checksum,
// is not caught here: the caller authenticates what Combine returns
// (internal/seal opens an AES-GCM seal with it, and keeps a commitment to
// each share).
//
// Nothing in this package logs, and no error or String method shows a
// share's secret bytes. Arithmetic on secret bytes runs in constant time
// (gf.go explains how).
package shamir

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits on Split's arguments.
const (
	// MaxShares is the largest number of shares: x runs over the 255
	// nonzero elements of GF(2^8) (x = 0 is the secret itself).
	MaxShares = 255
	// MaxSecretSize bounds the secret: a share is meant to be typed by a
	// person, and a longer secret belongs under a key that is shared.
	MaxSecretSize = 64
)

// The binary form of a share, format 1:
//
//	0x01 ‖ set (8) ‖ threshold (1) ‖ x (1) ‖ y (len(secret)) ‖ checksum (4)
//
// where checksum is the first four bytes of SHA-256(checksumLabel ‖ every
// byte before it). The text form is that in lowercase hex (Parse also takes
// uppercase and surrounding white space). set is random, the same in every
// share of one Split, so shares of different splits — another
// installation, an older set of shares — are told apart before they are
// combined into garbage.
const (
	format1       = 0x01
	setSize       = 8
	headerSize    = 1 + setSize + 1 + 1
	checksumSize  = 4
	checksumLabel = "trent/shamir-share/v1"
	maxTextLen    = 2 * (headerSize + MaxSecretSize + checksumSize)
)

// Errors from Parse and Combine. They are matched with errors.Is; the
// text around them says which share (by index) is at fault, never what it
// holds. Their texts carry no package prefix: they reach the operator
// who typed the share.
var (
	// ErrCorrupt: not a share, or one whose checksum does not match —
	// mistyped, truncated or damaged.
	ErrCorrupt = errors.New("corrupt share")
	// ErrUnknownFormat: a share of a format version this build does not
	// know.
	ErrUnknownFormat = errors.New("unknown share format")
	// ErrDuplicate: two shares with the same index.
	ErrDuplicate = errors.New("duplicate share")
	// ErrMismatch: shares of different splits (or thresholds or secret
	// sizes).
	ErrMismatch = errors.New("shares of different splits")
	// ErrTooFew: fewer shares than the threshold.
	ErrTooFew = errors.New("not enough shares")
	// ErrInconsistent: more shares than the threshold were given, and
	// they do not all lie on one polynomial: at least one is not what
	// Split made.
	ErrInconsistent = errors.New("shares do not agree")
)

// SetID identifies one Split: every share it makes carries the same one.
type SetID [setSize]byte

// A Share is one share of a split secret. Its y bytes are secret; String
// and GoString leave them out, so a share that reaches a log by mistake
// shows only its index.
type Share struct {
	// Set identifies the Split that made the share.
	Set SetID
	// Threshold is how many shares of the split rebuild the secret.
	Threshold int
	// X is the share's index, 1 to 255 (Split numbers them from 1).
	X byte
	y []byte
}

// String describes s without its secret bytes.
func (s *Share) String() string {
	return fmt.Sprintf("shamir share %d (threshold %d, set %x)", s.X, s.Threshold, s.Set[:])
}

// GoString is String, so %#v does not print the secret bytes either.
func (s *Share) GoString() string { return s.String() }

// Destroy zeroes the share's secret bytes.
func (s *Share) Destroy() { clear(s.y) }

// Encode returns the share's text form, the only form meant to leave the
// process. The result is secret.
func (s *Share) Encode() string {
	b := s.marshal()
	defer clear(b)
	return hex.EncodeToString(b)
}

func (s *Share) marshal() []byte {
	b := make([]byte, 0, headerSize+len(s.y)+checksumSize)
	b = append(b, format1)
	b = append(b, s.Set[:]...)
	b = append(b, byte(s.Threshold), s.X)
	b = append(b, s.y...)
	sum := checksum(b)
	return append(b, sum[:]...)
}

func checksum(b []byte) [checksumSize]byte {
	h := sha256.New()
	h.Write([]byte(checksumLabel))
	h.Write(b)
	var full [sha256.Size]byte
	var sum [checksumSize]byte
	copy(sum[:], h.Sum(full[:0]))
	return sum
}

// Parse reads a share's text form. A share that is not hex, has the wrong
// length or a checksum that does not match yields ErrCorrupt; one of a
// later format, ErrUnknownFormat. Errors never quote the text.
func Parse(text string) (*Share, error) {
	text = strings.TrimSpace(text)
	if len(text) > maxTextLen {
		return nil, fmt.Errorf("%w: %d characters is longer than any share", ErrCorrupt, len(text))
	}
	b := make([]byte, hex.DecodedLen(len(text)))
	defer clear(b)
	if _, err := hex.Decode(b, []byte(text)); err != nil || len(text)%2 != 0 {
		return nil, fmt.Errorf("%w: not a share (a share is hexadecimal)", ErrCorrupt)
	}
	if len(b) < headerSize+1+checksumSize {
		return nil, fmt.Errorf("%w: %d bytes is too short", ErrCorrupt, len(b))
	}
	if b[0] != format1 {
		// The version byte is checked first so that a newer share is
		// named as such, whatever its checksum rule.
		return nil, fmt.Errorf("%w %d", ErrUnknownFormat, b[0])
	}
	body, sum := b[:len(b)-checksumSize], b[len(b)-checksumSize:]
	want := checksum(body)
	if subtle.ConstantTimeCompare(sum, want[:]) != 1 {
		return nil, fmt.Errorf("%w: its checksum does not match (mistyped or damaged)", ErrCorrupt)
	}
	s := &Share{Threshold: int(body[1+setSize]), X: body[1+setSize+1]}
	copy(s.Set[:], body[1:1+setSize])
	switch {
	case s.X == 0:
		return nil, fmt.Errorf("%w: index 0", ErrCorrupt)
	case s.Threshold == 0:
		return nil, fmt.Errorf("%w: threshold 0", ErrCorrupt)
	}
	s.y = append([]byte(nil), body[headerSize:]...)
	return s, nil
}

// Split splits secret (1 to MaxSecretSize bytes) into n shares, any t of
// which rebuild it, with randomness from crypto/rand. The shares have
// indexes 1 to n, in order.
//
// 1 ≤ t ≤ n ≤ MaxShares, and t = 1 only with n = 1. A threshold of 1 is
// no sharing at all — each share would be a copy of the secret — so with
// several shares it is refused as the likelier mistake (Vault's rule
// too); n = t = 1 gives the secret, framed, to one holder.
func Split(secret []byte, n, t int) ([]*Share, error) {
	return split(rand.Reader, secret, n, t)
}

// Check returns an error, meant for the person who chose them, if Split
// refuses n shares with threshold t.
func Check(n, t int) error {
	switch {
	case n < 1 || n > MaxShares:
		return fmt.Errorf("the number of shares must be 1 to %d, not %d", MaxShares, n)
	case t < 1 || t > n:
		return fmt.Errorf("the threshold must be 1 to the number of shares (%d), not %d", n, t)
	case t == 1 && n > 1:
		return fmt.Errorf("a threshold of 1 with %d shares would give each holder the whole secret; use a threshold of at least 2, or 1 share", n)
	}
	return nil
}

// split is Split with the randomness from r, for known-answer tests. It
// reads the set id (8 bytes), then for each byte of the secret in turn its
// t-1 random coefficients, lowest degree first. Coefficients are uniform
// over all of GF(2^8), zero included: that is what makes t-1 shares
// independent of the secret.
func split(r io.Reader, secret []byte, n, t int) ([]*Share, error) {
	if len(secret) == 0 || len(secret) > MaxSecretSize {
		return nil, fmt.Errorf("shamir: the secret must be 1 to %d bytes, not %d", MaxSecretSize, len(secret))
	}
	if err := Check(n, t); err != nil {
		return nil, fmt.Errorf("shamir: %w", err)
	}
	var set SetID
	if _, err := io.ReadFull(r, set[:]); err != nil {
		return nil, fmt.Errorf("shamir: reading randomness: %w", err)
	}
	coef := make([]byte, len(secret)*(t-1))
	defer clear(coef)
	if _, err := io.ReadFull(r, coef); err != nil {
		return nil, fmt.Errorf("shamir: reading randomness: %w", err)
	}
	shares := make([]*Share, n)
	for i := range shares {
		x := byte(i + 1)
		y := make([]byte, len(secret))
		for k, s := range secret {
			y[k] = eval(s, coef[k*(t-1):(k+1)*(t-1)], x)
		}
		shares[i] = &Share{Set: set, Threshold: t, X: x, y: y}
	}
	return shares, nil
}

// eval returns f(x) for f(z) = c0 + c[0]·z + c[1]·z² + …, by Horner's rule.
func eval(c0 byte, c []byte, x byte) byte {
	var acc byte
	for j := len(c) - 1; j >= 0; j-- {
		acc = mul(acc, x) ^ c[j]
	}
	return mul(acc, x) ^ c0
}

// Combine rebuilds the secret from at least the threshold's number of
// shares of one split. Fewer yield ErrTooFew; shares of different splits
// ErrMismatch; two with one index ErrDuplicate. Shares beyond the
// threshold are checked against the others (ErrInconsistent if one does
// not fit), never ignored. The caller owns the result and should zero it.
//
// Combine cannot tell a deliberately altered share (with a recomputed
// checksum) from a good one when exactly the threshold is given: the
// result is then wrong, and the caller must authenticate it.
func Combine(shares []*Share) ([]byte, error) {
	if len(shares) == 0 {
		return nil, fmt.Errorf("%w: none given", ErrTooFew)
	}
	first := shares[0]
	seen := make(map[byte]*Share, len(shares))
	for _, s := range shares {
		switch {
		case s.Set != first.Set:
			return nil, fmt.Errorf("%w: share %d is not of the same split as share %d", ErrMismatch, s.X, first.X)
		case s.Threshold != first.Threshold || len(s.y) != len(first.y):
			return nil, fmt.Errorf("%w: share %d has another threshold or size than share %d", ErrMismatch, s.X, first.X)
		case s.X == 0 || len(s.y) == 0:
			return nil, fmt.Errorf("%w: share %d is empty or has index 0", ErrCorrupt, s.X)
		}
		if prev, ok := seen[s.X]; ok {
			if subtle.ConstantTimeCompare(prev.y, s.y) == 1 {
				return nil, fmt.Errorf("%w: share %d was given twice", ErrDuplicate, s.X)
			}
			return nil, fmt.Errorf("%w: two different shares have index %d", ErrDuplicate, s.X)
		}
		seen[s.X] = s
	}
	t := first.Threshold
	if len(shares) < t {
		return nil, fmt.Errorf("%w: %d of %d", ErrTooFew, len(shares), t)
	}
	basis := shares[:t]
	secret := make([]byte, len(first.y))
	interpolate(basis, 0, secret)
	if len(shares) > t {
		got := make([]byte, len(first.y))
		defer clear(got)
		for _, s := range shares[t:] {
			interpolate(basis, s.X, got)
			if subtle.ConstantTimeCompare(got, s.y) != 1 {
				clear(secret)
				return nil, fmt.Errorf("%w: share %d does not fit the first %d", ErrInconsistent, s.X, t)
			}
		}
	}
	return secret, nil
}

// interpolate sets out to f(x0), byte by byte, where f is the polynomial
// of degree below len(pts) through the points (s.X, s.y). The Lagrange
// weights depend only on the x coordinates, which are public.
func interpolate(pts []*Share, x0 byte, out []byte) {
	clear(out)
	for i, p := range pts {
		num, den := byte(1), byte(1)
		for j, q := range pts {
			if j != i {
				num = mul(num, x0^q.X)
				den = mul(den, p.X^q.X)
			}
		}
		w := mul(num, inv(den))
		for k := range out {
			out[k] ^= mul(w, p.y[k])
		}
	}
}
