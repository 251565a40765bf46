package seal

import (
	"bytes"
	"errors"
	"testing"
)

// Known answer from testdata/kat.py (pyca/cryptography): generation 7 of
// the root key seq(0x00, 32) wrapping seq(0x60, 32) with kat.py's aad.
const katWrap2 = "0200000007404142434445464748494a4b82d8cc404259e164a5ad7d5df7097d3409b7202fc34079540f3e349eeb6e93a40c5d15c9df27285dc7683f4297d49e0c"

func TestWrapFormat2KnownAnswer(t *testing.T) {
	k, err := NewRootKeyGeneration(seq(0x00, 32), 7)
	if err != nil {
		t.Fatal(err)
	}
	aad := append([]byte(testARN), 0, 0, 0, 7)
	got, err := k.Unwrap(mustHex(t, katWrap2), aad)
	if err != nil || !bytes.Equal(got, seq(0x60, 32)) {
		t.Fatalf("Unwrap(python's format 2) = %x, %v", got, err)
	}
	if g, err := WrappedGeneration(mustHex(t, katWrap2)); g != 7 || err != nil {
		t.Fatalf("WrappedGeneration = %d, %v; want 7", g, err)
	}
	// Generation 0 of the same key cannot open it: the generation is bound.
	k0, _ := NewRootKey(seq(0x00, 32))
	if err := k0.AddGeneration(seq(0x00, 32), 8); err != nil {
		t.Fatal(err)
	}
	forged := mustHex(t, katWrap2)
	forged[4] = 8 // claims generation 8, held by the same raw key
	if _, err := k0.Unwrap(forged, aad); !errors.Is(err, ErrUnwrap) || errors.Is(err, ErrGeneration) {
		t.Fatalf("Unwrap with the generation changed = %v, want an authentication failure", err)
	}
	w, err := k.Wrap(seq(0x60, 32), aad)
	if err != nil || len(w) != 32+WrapOverhead || w[0] != wrapFormat2 {
		t.Fatalf("Wrap at generation 7 = %d bytes %x, %v", len(w), w[:1], err)
	}
}

// TestRotationLifecycle walks a rotation: values of the old generation
// open while both are held, new values carry the new generation, and
// after retiring the old one its values are refused as such.
func TestRotationLifecycle(t *testing.T) {
	k, err := NewRootKey(seq(0x00, 32))
	if err != nil {
		t.Fatal(err)
	}
	aad := AAD(testARN, "1")
	old, _ := k.Wrap([]byte("secret"), aad)
	if g, _ := WrappedGeneration(old); g != 0 || old[0] != wrapFormat1 {
		t.Fatalf("generation 0 wrote format %#x generation %d", old[0], g)
	}
	if err := k.AddGeneration(seq(0x20, 32), 1); err != nil {
		t.Fatal(err)
	}
	if err := k.AddGeneration(seq(0x40, 32), 2); err == nil {
		t.Fatal("a third generation was added")
	}
	if err := k.AddGeneration(seq(0x40, 32), 1); err == nil {
		t.Fatal("generation 1 was added twice")
	}
	if w, _ := k.Wrap([]byte("x"), aad); w[0] != wrapFormat1 {
		t.Fatal("AddGeneration changed the generation Wrap uses")
	}
	if err := k.UseGeneration(2); !errors.Is(err, ErrGeneration) {
		t.Fatalf("UseGeneration(2) = %v", err)
	}
	if err := k.UseGeneration(1); err != nil {
		t.Fatal(err)
	}
	if err := k.RetireGeneration(1); err == nil {
		t.Fatal("the current generation was retired")
	}
	nw, _ := k.Wrap([]byte("secret"), aad)
	if g, _ := WrappedGeneration(nw); g != 1 {
		t.Fatalf("new value of generation %d, want 1", g)
	}
	for _, w := range [][]byte{old, nw} {
		if got, err := k.Unwrap(w, aad); err != nil || string(got) != "secret" {
			t.Fatalf("Unwrap while both are held = %q, %v", got, err)
		}
	}
	if err := k.RetireGeneration(0); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Unwrap(old, aad); !errors.Is(err, ErrGeneration) || !errors.Is(err, ErrUnwrap) {
		t.Fatalf("Unwrap of a retired generation = %v", err)
	}
	if got, err := k.Unwrap(nw, aad); err != nil || string(got) != "secret" {
		t.Fatalf("Unwrap after retiring the old generation = %q, %v", got, err)
	}
	// Another root key at the same generation number opens nothing.
	other, _ := NewRootKeyGeneration(seq(0x40, 32), 1)
	if _, err := other.Unwrap(nw, aad); !errors.Is(err, ErrUnwrap) || errors.Is(err, ErrGeneration) {
		t.Fatalf("Unwrap under another key of generation 1 = %v", err)
	}
	k.Destroy()
	if _, err := k.Wrap(nil, nil); !errors.Is(err, ErrDestroyed) {
		t.Fatalf("Wrap after Destroy = %v", err)
	}
}

func TestWrappedGenerationMalformed(t *testing.T) {
	for _, b := range [][]byte{nil, {0x02, 0, 0}, {0x03}} {
		if _, err := WrappedGeneration(b); err == nil {
			t.Errorf("WrappedGeneration(%x) succeeded", b)
		}
	}
	if _, err := WrappedGeneration([]byte{0x03}); !errors.Is(err, ErrUnknownFormat) {
		t.Error("format 3 not reported as unknown")
	}
}
