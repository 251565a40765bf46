//go:build !cgo

package pkcs11

import (
	"errors"
	"testing"
)

func TestNoCgo(t *testing.T) {
	s, err := NewSettings("/usr/lib/softhsm/libsofthsm2.so", "trent", "k")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(s, "1234"); !errors.Is(err, ErrNoCgo) {
		t.Fatalf("Open = %v; want ErrNoCgo", err)
	}
	if _, err := EnsureKey(s, "1234"); !errors.Is(err, ErrNoCgo) {
		t.Fatalf("EnsureKey = %v; want ErrNoCgo", err)
	}
}
