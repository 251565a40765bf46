package kms

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"sync"
	"testing"
	"time"
)

var (
	tokenKeyOnce sync.Once
	tokenRSA     *rsa.PrivateKey
)

func tokenTestKey(t testing.TB) *rsa.PrivateKey {
	tokenKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		tokenRSA = k
	})
	return tokenRSA
}

func tokenService(t testing.TB) *Service {
	return &Service{root: newTestRoot(t)} // service_test.go
}

const (
	tokenARN      = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	tokenOtherARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ac"
)

func TestImportToken(t *testing.T) {
	s := tokenService(t)
	k := tokenTestKey(t)
	until := time.Date(2026, 12, 7, 12, 0, 0, 123, time.UTC)
	tok, err := s.sealImportToken(tokenARN, importToken{validTo: until, algorithm: "RSA_AES_KEY_WRAP_SHA_256", bits: 2048, private: k})
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) > maxImportToken {
		t.Fatalf("token of %d bytes exceeds the model's %d", len(tok), maxImportToken)
	}
	got, err := s.openImportToken(tokenARN, tok)
	if err != nil {
		t.Fatal(err)
	}
	if !got.validTo.Equal(until) || got.algorithm != "RSA_AES_KEY_WRAP_SHA_256" || got.bits != 2048 || !got.private.Equal(k) {
		t.Fatalf("token round trip: %+v", got)
	}
	// The private key is not in the token in any readable form.
	if bytes.Contains(tok, k.D.Bytes()) || bytes.Contains(tok, k.Primes[0].Bytes()) {
		t.Fatal("the token carries the wrapping private key in plaintext")
	}
	// Bound to its key: another key's ARN does not open it; nor does any
	// damage.
	if _, err := s.openImportToken(tokenOtherARN, tok); !errors.Is(err, errBadImportToken) {
		t.Fatalf("token opened for another key: %v", err)
	}
	for _, bad := range importTokenSeeds(t, tok)[1:] {
		if _, err := s.openImportToken(tokenARN, bad); !errors.Is(err, errBadImportToken) {
			t.Fatalf("damaged token %x: err %v", bad[:min(8, len(bad))], err)
		}
	}
	// A 4096-bit wrapping key still fits ImportToken's 6144 bytes
	// (generating one takes seconds).
	if testing.Short() {
		return
	}
	big, err := rsa.GenerateKey(rand.Reader, 4096)
	if err != nil {
		t.Fatal(err)
	}
	tok, err = s.sealImportToken(tokenARN, importToken{validTo: until, algorithm: "RSAES_OAEP_SHA_1", bits: 4096, private: big})
	if err != nil || len(tok) > maxImportToken {
		t.Fatalf("4096-bit token: %d bytes, %v", len(tok), err)
	}
}

// importTokenSeeds: a good token first, then damaged ones.
func importTokenSeeds(t testing.TB, good []byte) [][]byte {
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x80
	return [][]byte{
		good,
		good[:len(good)-1],
		append(bytes.Clone(good), 0),
		append([]byte{2}, good[1:]...),
		flipped,
		{1},
		{},
		make([]byte, maxImportToken+1),
	}
}

// payloadSeeds: a good payload first, then damaged ones.
func payloadSeeds(t testing.TB) [][]byte {
	good, err := encodeImportPayload(importToken{validTo: time.Unix(1e9, 0), algorithm: "RSAES_OAEP_SHA_256", bits: 2048, private: tokenTestKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	wrongSize := bytes.Clone(good)
	wrongSize[10] = 3
	badAlg := bytes.Clone(good)
	badAlg[9] = 9
	return [][]byte{good, good[:importPayloadHeader], good[:len(good)-1], wrongSize, badAlg, append([]byte{2}, good[1:]...), {}}
}

// FuzzImportToken: the framing of a token, and the payload inside it
// (which only this installation can seal, but is parsed as strictly).
func FuzzImportToken(f *testing.F) {
	s := tokenService(f)
	good, err := s.sealImportToken(tokenARN, importToken{validTo: time.Unix(2e9, 0), algorithm: "RSAES_OAEP_SHA_1", bits: 2048, private: tokenTestKey(f)})
	if err != nil {
		f.Fatal(err)
	}
	seeds := append(importTokenSeeds(f, good), payloadSeeds(f)...)
	if len(seeds) == 0 {
		f.Fatal("empty seed corpus")
	}
	for _, b := range seeds {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := s.openImportToken(tokenARN, b); err != nil && !errors.Is(err, errBadImportToken) {
			t.Fatalf("token error %v is not errBadImportToken", err)
		}
		p, err := decodeImportPayload(b)
		if err != nil {
			if !errors.Is(err, errBadImportToken) {
				t.Fatalf("payload error %v is not errBadImportToken", err)
			}
			return
		}
		again, err := encodeImportPayload(p)
		if err != nil {
			t.Fatalf("a decoded payload does not encode: %v", err)
		}
		if p2, err := decodeImportPayload(again); err != nil || !p2.private.Equal(p.private) || !p2.validTo.Equal(p.validTo) {
			t.Fatalf("payload does not round-trip: %v", err)
		}
	})
}
