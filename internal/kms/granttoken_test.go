package kms

import (
	"encoding/base64"
	"strings"
	"testing"
)

const (
	tokenKeyID   = "1234abcd-12ab-34cd-56ef-1234567890ab"
	tokenGrantID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

func mintForTest(t testing.TB) string {
	t.Helper()
	tok, err := mintGrantToken(tokenKeyID, tokenGrantID)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// grantTokenSeeds are the fuzz target's seeds: a real token and the ways a
// token goes wrong.
func grantTokenSeeds(t testing.TB) []string {
	good := mintForTest(t)
	raw, _ := base64.RawURLEncoding.DecodeString(good)
	badVersion := append([]byte{3}, raw[1:]...)
	return []string{
		good,
		"",
		good[:len(good)-1],
		good + "A",
		good + "=",
		strings.Replace(good, good[:1], "+", 1),
		base64.RawURLEncoding.EncodeToString(badVersion),
		base64.StdEncoding.EncodeToString(raw),
		strings.Repeat("A", grantTokenLen),
		strings.Repeat("_", grantTokenLen),
		"AQpAM2RhZTk1MGMyNTk2ZmZmMzEyYWVhOWViN2I1MWM4Mzc0MWFiYjc0ZDE1ODkyNGFlNTIzODZhMzgyZjBlNGY3NiKIAQEBAgB4sDtb",
	}
}

func TestGrantToken(t *testing.T) {
	a, b := mintForTest(t), mintForTest(t)
	if a == b {
		t.Error("two tokens of one grant are equal; each should be new")
	}
	for _, tok := range []string{a, b} {
		got, err := parseGrantToken(tok)
		if err != nil || got.keyID != tokenKeyID || got.grantID != tokenGrantID {
			t.Errorf("parse(%s) = %+v, %v", tok, got, err)
		}
	}
	upper, err := mintGrantToken(strings.ToUpper(tokenKeyID), tokenGrantID)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := parseGrantToken(upper); err != nil || got.keyID != tokenKeyID {
		t.Errorf("a key id in upper case reads back as %+v, %v", got, err)
	}
	for _, bad := range grantTokenSeeds(t)[1:] {
		if g, err := parseGrantToken(bad); err == nil {
			t.Errorf("parse(%q) = %+v, want an error", bad, g)
		}
	}
	for _, tc := range []struct{ key, grant string }{
		{"not-a-uuid", tokenGrantID},
		{tokenKeyID, "short"},
		{tokenKeyID, strings.Repeat("g", 64)},
	} {
		if _, err := mintGrantToken(tc.key, tc.grant); err == nil {
			t.Errorf("mint(%q, %q) succeeded", tc.key, tc.grant)
		}
	}
}

// FuzzParseGrantToken: no input panics the parser, and whatever it
// accepts is a canonical token: names a UUID and a 64-hex grant id, and is
// the one encoding of its bytes.
func FuzzParseGrantToken(f *testing.F) {
	seeds := grantTokenSeeds(f)
	if len(seeds) == 0 {
		f.Fatal("no seeds: the fuzz target would run on nothing")
	}
	for _, s := range seeds {
		f.Add(s)
	}
	mrk, err := mintGrantToken("mrk-1234abcd12ab34cd56ef1234567890ab", tokenGrantID)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(mrk)
	f.Fuzz(func(t *testing.T, s string) {
		g, err := parseGrantToken(s)
		if err != nil {
			return
		}
		if !(isUUID(g.keyID) || isMRKID(g.keyID)) || g.keyID != strings.ToLower(g.keyID) || !isGrantID(g.grantID) {
			t.Fatalf("parse(%q) = %+v", s, g)
		}
		raw, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || base64.RawURLEncoding.EncodeToString(raw) != s {
			t.Fatalf("accepted a non-canonical token %q", s)
		}
		again, err := mintGrantToken(g.keyID, g.grantID)
		if err != nil {
			t.Fatalf("re-mint %+v: %v", g, err)
		}
		if g2, err := parseGrantToken(again); err != nil || g2 != g {
			t.Fatalf("re-minted token reads %+v, %v; want %+v", g2, err, g)
		}
	})
}

// A multi-Region key's token (version 2) names the shared key id.
func TestGrantTokenMultiRegion(t *testing.T) {
	const mrk = "mrk-1234abcd12ab34cd56ef1234567890ab"
	tok, err := mintGrantToken(mrk, tokenGrantID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseGrantToken(tok)
	if err != nil || got.keyID != mrk || got.grantID != tokenGrantID {
		t.Fatalf("parse(%s) = %+v, %v", tok, got, err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	if raw[0] != grantTokenVersionMRK {
		t.Fatalf("version %d, want %d", raw[0], grantTokenVersionMRK)
	}
	if _, err := mintGrantToken(mrk+"/us-east-1", tokenGrantID); err == nil {
		t.Error("a store id made a token")
	}
}
