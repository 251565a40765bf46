package pkcs11

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/seal"
)

func TestNewSettings(t *testing.T) {
	s, err := NewSettings("/usr/lib/softhsm/libsofthsm2.so", "trent", "trent-root")
	if err != nil {
		t.Fatal(err)
	}
	if s.Module != "/usr/lib/softhsm/libsofthsm2.so" || s.TokenLabel != "trent" || s.KeyLabel != "trent-root" {
		t.Fatalf("NewSettings = %+v", s)
	}
	if len(s.Installation) != 32 {
		t.Fatalf("Installation = %q, want 32 hex digits", s.Installation)
	}
	again, err := NewSettings("/usr/lib/softhsm/libsofthsm2.so", "trent", "trent-root")
	if err != nil {
		t.Fatal(err)
	}
	if again.Installation == s.Installation {
		t.Fatal("two installations got one id")
	}

	// A relative module path is stored absolute.
	rel, err := NewSettings("lib/x.so", "trent", "k")
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if rel.Module != filepath.Join(wd, "lib/x.so") {
		t.Errorf("relative module stored as %q", rel.Module)
	}
}

func TestNewSettingsRefuses(t *testing.T) {
	for _, c := range []struct {
		name, module, token, key, contains string
	}{
		{"no module", "", "trent", "k", "no module given"},
		{"no token label", "/m.so", "", "k", "no token label"},
		{"no key label", "/m.so", "trent", "", "no key label"},
		{"token label too long", "/m.so", strings.Repeat("t", 33), "k", "at most 32"},
		{"token label of 32 bytes", "/m.so", strings.Repeat("t", 32), "k", ""},
		{"key label too long", "/m.so", "trent", strings.Repeat("k", 129), "at most 128"},
		{"trailing space", "/m.so", "trent ", "k", "space"},
		{"leading space", "/m.so", "trent", " k", "space"},
		{"control character", "/m.so", "tr\x00ent", "k", "control character"},
		{"newline in key label", "/m.so", "trent", "k\nk", "control character"},
		{"invalid UTF-8", "/m.so", "tr\xffent", "k", "UTF-8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewSettings(c.module, c.token, c.key)
			if c.contains == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.contains) || !strings.HasPrefix(err.Error(), "pkcs11: ") {
				t.Fatalf("NewSettings = %v; want an error containing %q", err, c.contains)
			}
		})
	}
}

func TestSettingsRoundTrip(t *testing.T) {
	s, err := NewSettings("/usr/lib/softhsm/libsofthsm2.so", "trent", "trent-root")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"version":1,"module":"/usr/lib/softhsm/libsofthsm2.so","token_label":"trent","key_label":"trent-root","installation":"` + s.Installation + `"}`
	if string(b) != want {
		t.Fatalf("Marshal = %s\nwant      %s", b, want)
	}
	got, err := ParseSettings(b)
	if err != nil {
		t.Fatal(err)
	}
	if got != s {
		t.Fatalf("ParseSettings(Marshal(s)) = %+v, want %+v", got, s)
	}
	if strings.Contains(strings.ToLower(string(b)), "pin") {
		t.Fatal("stored settings mention a PIN")
	}
}

func TestParseSettingsRefuses(t *testing.T) {
	const id = "00112233445566778899aabbccddeeff"
	for _, c := range []struct {
		name, stored  string
		unknownFormat bool
	}{
		{"empty", ``, false},
		{"not JSON", `module=/m.so`, false},
		{"version 2", `{"version":2,"module":"/m.so","token_label":"t","key_label":"k","installation":"` + id + `"}`, true},
		{"no version", `{"module":"/m.so","token_label":"t","key_label":"k","installation":"` + id + `"}`, true},
		{"unknown member", `{"version":1,"module":"/m.so","token_label":"t","key_label":"k","installation":"` + id + `","pin":"1234"}`, false},
		{"trailing data", `{"version":1,"module":"/m.so","token_label":"t","key_label":"k","installation":"` + id + `"} {}`, false},
		{"relative module", `{"version":1,"module":"m.so","token_label":"t","key_label":"k","installation":"` + id + `"}`, false},
		{"no token label", `{"version":1,"module":"/m.so","token_label":"","key_label":"k","installation":"` + id + `"}`, false},
		{"short installation", `{"version":1,"module":"/m.so","token_label":"t","key_label":"k","installation":"0011"}`, false},
		{"uppercase installation", `{"version":1,"module":"/m.so","token_label":"t","key_label":"k","installation":"` + strings.ToUpper(id) + `"}`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseSettings([]byte(c.stored))
			if err == nil {
				t.Fatal("ParseSettings succeeded")
			}
			if errors.Is(err, seal.ErrUnknownFormat) != c.unknownFormat {
				t.Fatalf("ParseSettings = %v; unknown format want %v", err, c.unknownFormat)
			}
			if strings.Contains(err.Error(), "1234") {
				t.Fatalf("error quotes the stored value: %v", err)
			}
		})
	}
}

func TestParseSealed(t *testing.T) {
	good := make([]byte, sealedLen)
	good[0] = sealedFormat1
	for i := 1; i < len(good); i++ {
		good[i] = byte(i)
	}
	iv, ct, err := parseSealed(good)
	if err != nil || len(iv) != ivLen || len(ct) != seal.RootKeySize+tagLen || iv[0] != 1 || ct[0] != 1+ivLen {
		t.Fatalf("parseSealed(good) = %x, %x, %v", iv, ct, err)
	}
	for _, c := range []struct {
		name          string
		b             []byte
		unknownFormat bool
	}{
		{"empty", nil, false},
		{"version 0", append([]byte{0}, good[1:]...), true},
		{"version 2, right length", append([]byte{2}, good[1:]...), true},
		{"version 2, short", []byte{2}, true},
		{"short", good[:sealedLen-1], false},
		{"long", append(append([]byte{}, good...), 0), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := parseSealed(c.b)
			if !errors.Is(err, seal.ErrUnseal) || errors.Is(err, seal.ErrUnknownFormat) != c.unknownFormat {
				t.Fatalf("parseSealed = %v; want ErrUnseal, unknown format %v", err, c.unknownFormat)
			}
		})
	}
}
