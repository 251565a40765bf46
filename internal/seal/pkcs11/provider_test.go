//go:build cgo

package pkcs11

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/fips140"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	p11 "github.com/miekg/pkcs11"

	"github.com/trent-kms/trent/internal/seal"
	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

var keySerial atomic.Int64

// testSettings returns settings for a key on the test token with a label
// no other call uses, so tests never share keys.
func testSettings(t testing.TB) Settings {
	t.Helper()
	module := needSoftHSM(t)
	s, err := NewSettings(module, testToken, fmt.Sprintf("k/%s/%d", t.Name(), keySerial.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// openNew creates s's key and opens a Provider for it, closed at the end
// of t.
func openNew(t testing.TB, s Settings) *Provider {
	t.Helper()
	if _, err := EnsureKey(s, testPIN); err != nil {
		t.Fatal(err)
	}
	p, err := Open(s, testPIN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func randomRoot(t testing.TB) []byte {
	t.Helper()
	root, err := seal.GenerateRootKey()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// rwSession opens a read/write session with p's token for the test to
// inspect or change objects directly, through the login p holds.
func rwSession(t testing.TB, p *Provider) p11.SessionHandle {
	t.Helper()
	h, err := p.tok.mod.ctx.OpenSession(p.tok.slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.tok.mod.ctx.CloseSession(h) })
	return h
}

// findByLabel returns every secret key labelled label.
func findByLabel(t testing.TB, p *Provider, h p11.SessionHandle, label string) []p11.ObjectHandle {
	t.Helper()
	ctx := p.tok.mod.ctx
	if err := ctx.FindObjectsInit(h, []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY),
		p11.NewAttribute(p11.CKA_LABEL, label),
	}); err != nil {
		t.Fatal(err)
	}
	objs, _, err := ctx.FindObjects(h, 10)
	ctx.FindObjectsFinal(h)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// importKey puts an AES key with a value the test knows on the token,
// sensitive and, as the test chooses, extractable or not.
func importKey(t testing.TB, p *Provider, h p11.SessionHandle, label string, value []byte, extractable bool) p11.ObjectHandle {
	t.Helper()
	obj, err := p.tok.mod.ctx.CreateObject(h, []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY),
		p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_AES),
		p11.NewAttribute(p11.CKA_VALUE, value),
		p11.NewAttribute(p11.CKA_LABEL, label),
		p11.NewAttribute(p11.CKA_TOKEN, true),
		p11.NewAttribute(p11.CKA_PRIVATE, true),
		p11.NewAttribute(p11.CKA_SENSITIVE, true),
		p11.NewAttribute(p11.CKA_EXTRACTABLE, extractable),
		p11.NewAttribute(p11.CKA_ENCRYPT, true),
		p11.NewAttribute(p11.CKA_DECRYPT, true),
	})
	if err != nil {
		t.Fatalf("import key %q: %v", label, err)
	}
	return obj
}

func TestEnsureKeyIsIdempotent(t *testing.T) {
	s := testSettings(t)
	created, err := EnsureKey(s, testPIN)
	if err != nil || !created {
		t.Fatalf("first EnsureKey = %v, %v; want true, nil", created, err)
	}
	p := openNew(t, s)
	h := rwSession(t, p)
	readID := func() []byte {
		objs := findByLabel(t, p, h, s.KeyLabel)
		if len(objs) != 1 {
			t.Fatalf("%d keys labelled %q, want 1", len(objs), s.KeyLabel)
		}
		a, err := p.tok.mod.ctx.GetAttributeValue(h, objs[0], []*p11.Attribute{p11.NewAttribute(p11.CKA_ID, nil)})
		if err != nil {
			t.Fatal(err)
		}
		return a[0].Value
	}
	id := readID()
	if len(id) != 16 {
		t.Fatalf("CKA_ID is %d bytes, want 16", len(id))
	}
	sealed, err := p.Seal(randomRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		created, err := EnsureKey(s, testPIN)
		if err != nil || created {
			t.Fatalf("EnsureKey of an existing key = %v, %v; want false, nil", created, err)
		}
	}
	if got := readID(); !bytes.Equal(got, id) {
		t.Fatalf("CKA_ID changed from %x to %x: EnsureKey replaced the key", id, got)
	}
	if _, err := p.Unseal(sealed); err != nil {
		t.Fatalf("Unseal after EnsureKey found the key again: %v", err)
	}
}

func TestSealUnsealRoundTrip(t *testing.T) {
	p := openNew(t, testSettings(t))
	if p.Name() != "pkcs11" {
		t.Errorf("Name() = %q", p.Name())
	}
	root := randomRoot(t)
	keep := bytes.Clone(root)
	a, err := p.Seal(root)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Seal(root)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(root, keep) {
		t.Fatal("Seal changed its argument")
	}
	if len(a) != sealedLen || a[0] != sealedFormat1 {
		t.Fatalf("sealed root key = %d bytes starting %#x; want %d starting 0x01", len(a), a[0], sealedLen)
	}
	if bytes.Equal(a, b) || bytes.Equal(a[1:1+ivLen], b[1:1+ivLen]) {
		t.Fatal("two seals of one root key share their IV")
	}
	if bytes.Contains(a, root) {
		t.Fatal("the sealed root key contains the root key")
	}
	for _, sealed := range [][]byte{a, b} {
		got, err := p.Unseal(sealed)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, root) {
			t.Fatal("Unseal returned another root key")
		}
	}
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := p.Seal(make([]byte, n)); err == nil {
			t.Errorf("Seal of a %d-byte root key succeeded", n)
		}
	}
}

// TestKeyAttributes reads the created key's attributes back from the token
// and tries to get its value out: the token must refuse.
func TestKeyAttributes(t *testing.T) {
	s := testSettings(t)
	p := openNew(t, s)
	h := rwSession(t, p)
	ctx := p.tok.mod.ctx
	objs := findByLabel(t, p, h, s.KeyLabel)
	if len(objs) != 1 {
		t.Fatalf("%d keys labelled %q", len(objs), s.KeyLabel)
	}
	key := objs[0]

	bools := []struct {
		name string
		attr uint
		want bool
	}{
		{"CKA_EXTRACTABLE", p11.CKA_EXTRACTABLE, false},
		{"CKA_SENSITIVE", p11.CKA_SENSITIVE, true},
		{"CKA_NEVER_EXTRACTABLE", p11.CKA_NEVER_EXTRACTABLE, true},
		{"CKA_ALWAYS_SENSITIVE", p11.CKA_ALWAYS_SENSITIVE, true},
		{"CKA_TOKEN", p11.CKA_TOKEN, true},
		{"CKA_PRIVATE", p11.CKA_PRIVATE, true},
		{"CKA_LOCAL", p11.CKA_LOCAL, true}, // generated inside the token
		{"CKA_ENCRYPT", p11.CKA_ENCRYPT, true},
		{"CKA_DECRYPT", p11.CKA_DECRYPT, true},
		{"CKA_WRAP", p11.CKA_WRAP, false},
		{"CKA_UNWRAP", p11.CKA_UNWRAP, false},
		{"CKA_SIGN", p11.CKA_SIGN, false},
		{"CKA_DERIVE", p11.CKA_DERIVE, false},
		{"CKA_MODIFIABLE", p11.CKA_MODIFIABLE, false},
		{"CKA_COPYABLE", p11.CKA_COPYABLE, false},
	}
	for _, b := range bools {
		t.Run(b.name, func(t *testing.T) {
			a, err := ctx.GetAttributeValue(h, key, []*p11.Attribute{p11.NewAttribute(b.attr, nil)})
			if err != nil {
				t.Fatal(err)
			}
			if v, ok := attrBool(a[0].Value); !ok || v != b.want {
				t.Fatalf("%s = %x, want %v", b.name, a[0].Value, b.want)
			}
		})
	}
	t.Run("type and size", func(t *testing.T) {
		a, err := ctx.GetAttributeValue(h, key, []*p11.Attribute{p11.NewAttribute(p11.CKA_KEY_TYPE, nil), p11.NewAttribute(p11.CKA_VALUE_LEN, nil)})
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := attrUint(a[0].Value); v != p11.CKK_AES {
			t.Errorf("CKA_KEY_TYPE = %#x, want CKK_AES", v)
		}
		if v, _ := attrUint(a[1].Value); v != 32 {
			t.Errorf("CKA_VALUE_LEN = %d, want 32", v)
		}
	})
	t.Run("CKA_VALUE is not readable", func(t *testing.T) {
		a, err := ctx.GetAttributeValue(h, key, []*p11.Attribute{p11.NewAttribute(p11.CKA_VALUE, nil)})
		if !isCKR(err, p11.CKR_ATTRIBUTE_SENSITIVE) {
			t.Fatalf("reading CKA_VALUE = %v, %v; want CKR_ATTRIBUTE_SENSITIVE", a, err)
		}
	})
	t.Run("cannot be wrapped out", func(t *testing.T) {
		// A session key the test controls, allowed to wrap: the token must
		// still refuse to wrap the sealing key with it.
		wrapper, err := ctx.GenerateKey(h, []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_KEY_GEN, nil)}, []*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY),
			p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_AES),
			p11.NewAttribute(p11.CKA_VALUE_LEN, 32),
			p11.NewAttribute(p11.CKA_TOKEN, false),
			p11.NewAttribute(p11.CKA_WRAP, true),
		})
		if err != nil {
			t.Fatal(err)
		}
		defer ctx.DestroyObject(h, wrapper)
		wrapped, err := ctx.WrapKey(h, []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_KEY_WRAP_PAD, nil)}, wrapper, key)
		if !isCKR(err, p11.CKR_KEY_UNEXTRACTABLE) {
			t.Fatalf("C_WrapKey of the sealing key = %x, %v; want CKR_KEY_UNEXTRACTABLE", wrapped, err)
		}
	})
	t.Run("cannot be made extractable", func(t *testing.T) {
		err := ctx.SetAttributeValue(h, key, []*p11.Attribute{p11.NewAttribute(p11.CKA_EXTRACTABLE, true)})
		if err == nil {
			t.Fatal("C_SetAttributeValue(CKA_EXTRACTABLE true) succeeded")
		}
	})
	t.Run("cannot be copied", func(t *testing.T) {
		copied, err := ctx.CopyObject(h, key, []*p11.Attribute{p11.NewAttribute(p11.CKA_TOKEN, false)})
		if err == nil {
			ctx.DestroyObject(h, copied)
			t.Fatal("C_CopyObject of the sealing key succeeded")
		}
	})
}

// TestFormatIsAESGCM checks the sealed format against Go's own AES-GCM, an
// implementation independent of the token's: with a key whose value the
// test knows (imported, sensitive, non-extractable), the token's blob opens
// with crypto/cipher, and a blob made with crypto/cipher opens in the token.
func TestFormatIsAESGCM(t *testing.T) {
	s := testSettings(t)
	base := openNew(t, testSettings(t)) // a login and a session to import with
	kek := make([]byte, 32)
	rand.Read(kek)
	importKey(t, base, rwSession(t, base), s.KeyLabel, kek, false)
	p, err := Open(s, testPIN)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	// The independent check chooses its own nonce, which FIPS 140-only
	// mode forbids; the code under test still runs enforced.
	var gcm cipher.AEAD
	fips140.WithoutEnforcement(func() {
		block, err := aes.NewCipher(kek)
		if err == nil {
			gcm, err = cipher.NewGCM(block)
		}
		if err != nil {
			t.Fatal(err)
		}
	})
	ad := append(append([]byte{0, 0, 0, byte(len(sealedAADTag))}, sealedAADTag...), 0, 0, 0, 32)
	ad = append(ad, s.Installation...)
	if !bytes.Equal(ad, s.aad()) {
		t.Fatalf("additional data = %x, want %x", s.aad(), ad)
	}

	root := randomRoot(t)
	sealed, err := p.Seal(root)
	if err != nil {
		t.Fatal(err)
	}
	got, err := gcm.Open(nil, sealed[1:1+ivLen], sealed[1+ivLen:], ad)
	if err != nil || !bytes.Equal(got, root) {
		t.Fatalf("crypto/cipher cannot open the token's sealed root key: %v", err)
	}

	iv := make([]byte, ivLen)
	rand.Read(iv)
	var mine []byte
	fips140.WithoutEnforcement(func() { mine = append(append([]byte{0x01}, iv...), gcm.Seal(nil, iv, root, ad)...) })
	got, err = p.Unseal(mine)
	if err != nil || !bytes.Equal(got, root) {
		t.Fatalf("the token cannot open a root key sealed by crypto/cipher: %v", err)
	}
}

func TestUnsealRefusesTampered(t *testing.T) {
	s := testSettings(t)
	p := openNew(t, s)
	root := randomRoot(t)
	sealed, err := p.Seal(root)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 0x01
		return b
	}
	cases := []struct {
		name   string
		sealed []byte
		format bool // refused as an unknown format
	}{
		{"empty", nil, false},
		{"version 0x02", append([]byte{0x02}, sealed[1:]...), true},
		{"version 0x00", append([]byte{0x00}, sealed[1:]...), true},
		{"truncated", sealed[:len(sealed)-1], false},
		{"header only", sealed[:1+ivLen], false},
		{"extended", append(bytes.Clone(sealed), 0), false},
	}
	for i := 1; i < len(sealed); i++ {
		part := "IV"
		switch {
		case i >= 1+ivLen+seal.RootKeySize:
			part = "tag"
		case i >= 1+ivLen:
			part = "ciphertext"
		}
		cases = append(cases, struct {
			name   string
			sealed []byte
			format bool
		}{name: fmt.Sprintf("%s byte %d", part, i), sealed: flip(i)})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := p.Unseal(c.sealed)
			if !errors.Is(err, seal.ErrUnseal) || got != nil {
				t.Fatalf("Unseal = %x, %v; want nil and ErrUnseal", got, err)
			}
			if errors.Is(err, seal.ErrUnknownFormat) != c.format {
				t.Fatalf("Unseal error %q: unknown format = %v, want %v", err, !c.format, c.format)
			}
			assertOneLine(t, err)
		})
	}

	t.Run("another installation", func(t *testing.T) {
		other := s
		other.Installation = strings.Repeat("0", 32)
		q, err := Open(other, testPIN)
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		if got, err := q.Unseal(sealed); !errors.Is(err, seal.ErrUnseal) || got != nil {
			t.Fatalf("Unseal for another installation = %x, %v; want ErrUnseal", got, err)
		}
	})
	t.Run("another key", func(t *testing.T) {
		q := openNew(t, testSettings(t))
		if got, err := q.Unseal(sealed); !errors.Is(err, seal.ErrUnseal) || got != nil {
			t.Fatalf("Unseal with another key = %x, %v; want ErrUnseal", got, err)
		}
	})
	// The refusals closed the sessions they failed on; the pool still works.
	if got, err := p.Unseal(sealed); err != nil || !bytes.Equal(got, root) {
		t.Fatalf("Unseal of the intact blob after the refusals = %v", err)
	}
}

func assertOneLine(t testing.TB, err error) {
	t.Helper()
	if msg := err.Error(); strings.ContainsAny(msg, "\r\n") {
		t.Errorf("error is not one line: %q", msg)
	}
}

// TestOpenErrors: what an operator gets wrong gives one clear line naming
// it, never a crash, and never the PIN.
func TestOpenErrors(t *testing.T) {
	good := testSettings(t)
	if _, err := EnsureKey(good, testPIN); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	notALibrary := filepath.Join(dir, "notes.so")
	if err := os.WriteFile(notALibrary, []byte("not a shared library"), 0o600); err != nil {
		t.Fatal(err)
	}
	with := func(f func(*Settings)) Settings {
		s := good
		f(&s)
		return s
	}
	cases := []struct {
		name     string
		settings Settings
		pin      string
		want     error  // errors.Is
		contains string // in the message
	}{
		{"missing module", with(func(s *Settings) { s.Module = filepath.Join(dir, "libnothere.so") }), testPIN, ErrModule, "no such file"},
		{"module is a directory", with(func(s *Settings) { s.Module = dir }), testPIN, ErrModule, "not a regular file"},
		{"module is not a library", with(func(s *Settings) { s.Module = notALibrary }), testPIN, ErrModule, "C_GetFunctionList"},
		{"missing token", with(func(s *Settings) { s.TokenLabel = "no-such-token" }), testPIN, ErrNoToken, `no token labelled "no-such-token" (initialized tokens: "other", "trent")`},
		{"wrong PIN", good, "wrong-pin-0000", ErrWrongPIN, `log in to token "trent": wrong PIN (CKR_PIN_INCORRECT)`},
		{"other token's PIN", good, otherPIN, ErrWrongPIN, "CKR_PIN_INCORRECT"},
		{"empty PIN", good, "", nil, "no PIN given"},
		{"missing key", with(func(s *Settings) { s.KeyLabel = "no-such-key" }), testPIN, ErrNoKey, `token "trent": no secret key labelled "no-such-key"`},
		{"key on the other token", with(func(s *Settings) { s.TokenLabel = otherToken }), otherPIN, ErrNoKey, `token "other"`},
	}
	// A real shared library that is not a PKCS #11 one.
	if libs, _ := filepath.Glob("/usr/lib/*/libz.so.1"); len(libs) > 0 {
		cases = append(cases, struct {
			name     string
			settings Settings
			pin      string
			want     error
			contains string
		}{"module is another library", with(func(s *Settings) { s.Module = libs[0] }), testPIN, ErrModule, "C_GetFunctionList"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Open(c.settings, c.pin)
			if err == nil {
				p.Close()
				t.Fatal("Open succeeded")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("error %q does not wrap %q", err, c.want)
			}
			t.Log(err)
			msg := err.Error()
			if !strings.HasPrefix(msg, "pkcs11: ") || !strings.Contains(msg, c.contains) {
				t.Errorf("error = %q; want it to start with \"pkcs11: \" and contain %q", msg, c.contains)
			}
			assertOneLine(t, err)
			for _, pin := range []string{testPIN, otherPIN, "wrong-pin-0000"} {
				if strings.Contains(msg, pin) {
					t.Errorf("error %q contains a PIN", msg)
				}
			}
			// EnsureKey (init) reports the same, except that it creates a
			// missing key; its tests are TestEnsureKey*.
			if errors.Is(err, ErrNoKey) {
				return
			}
			if _, err2 := EnsureKey(c.settings, c.pin); err2 == nil || err2.Error() != msg {
				t.Errorf("EnsureKey error = %v; want Open's, %q", err2, msg)
			}
		})
	}
}

// TestUnsuitableKeys: Open and EnsureKey refuse a key that could leave the
// token, and a label two keys share.
func TestUnsuitableKeys(t *testing.T) {
	base := openNew(t, testSettings(t))
	h := rwSession(t, base)
	extractable := testSettings(t)
	extractable.KeyLabel += "/extractable"
	importKey(t, base, h, extractable.KeyLabel, make([]byte, 32), true)
	short := testSettings(t)
	short.KeyLabel += "/aes-128"
	importKey(t, base, h, short.KeyLabel, make([]byte, 16), false)
	twice := testSettings(t)
	twice.KeyLabel += "/twice"
	importKey(t, base, h, twice.KeyLabel, make([]byte, 32), false)
	importKey(t, base, h, twice.KeyLabel, make([]byte, 32), false)

	for _, c := range []struct {
		name     string
		settings Settings
		contains string
	}{
		{"extractable", extractable, "unsuitable key: extractable"},
		{"AES-128", short, "not 256 bits"},
		{"two keys, one label", twice, "several secret keys have this label"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := Open(c.settings, testPIN)
			if err == nil {
				p.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, ErrUnsuitableKey) || !strings.Contains(err.Error(), c.contains) {
				t.Fatalf("Open error = %q; want ErrUnsuitableKey containing %q", err, c.contains)
			}
			if _, err := EnsureKey(c.settings, testPIN); !errors.Is(err, ErrUnsuitableKey) {
				t.Fatalf("EnsureKey error = %v; want ErrUnsuitableKey", err)
			}
		})
	}
}

// TestLoginIsShared: PKCS #11 logs the process in, not a session, so a
// second Provider on a logged-in token never reaches C_Login; its PIN is
// checked against the first one's all the same.
func TestLoginIsShared(t *testing.T) {
	s := testSettings(t)
	p := openNew(t, s)
	if q, err := Open(s, "wrong-pin-0000"); !errors.Is(err, ErrWrongPIN) {
		if q != nil {
			q.Close()
		}
		t.Fatalf("Open with a wrong PIN while logged in = %v; want ErrWrongPIN", err)
	}
	q, err := Open(s, testPIN)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := q.Seal(randomRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	q.Close()
	// p keeps the login q shared.
	if _, err := p.Unseal(sealed); err != nil {
		t.Fatalf("Unseal after another Provider closed: %v", err)
	}
	p.Close()
	// With the last Provider closed the process is logged out: the token
	// itself checks the next PIN.
	if q, err := Open(s, "wrong-pin-0000"); !errors.Is(err, ErrWrongPIN) || !strings.Contains(err.Error(), "CKR_PIN_INCORRECT") {
		if q != nil {
			q.Close()
		}
		t.Fatalf("Open with a wrong PIN after logout = %v; want CKR_PIN_INCORRECT", err)
	}
	r, err := Open(s, testPIN)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Unseal(sealed); err != nil {
		t.Fatal(err)
	}
}

func TestClose(t *testing.T) {
	p := openNew(t, testSettings(t))
	sealed, err := p.Seal(randomRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Seal(randomRoot(t)); !errors.Is(err, ErrClosed) {
		t.Errorf("Seal after Close = %v; want ErrClosed", err)
	}
	if _, err := p.Unseal(sealed); !errors.Is(err, ErrClosed) || !errors.Is(err, seal.ErrUnseal) {
		t.Errorf("Unseal after Close = %v; want ErrClosed and ErrUnseal", err)
	}
}

// TestKeyDeletedUnderProvider: the key is looked up per operation, so one
// deleted after Open gives ErrNoKey, not a stale handle's error.
func TestKeyDeletedUnderProvider(t *testing.T) {
	s := testSettings(t)
	p := openNew(t, s)
	sealed, err := p.Seal(randomRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	h := rwSession(t, p)
	for _, obj := range findByLabel(t, p, h, s.KeyLabel) {
		if err := p.tok.mod.ctx.DestroyObject(h, obj); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Unseal(sealed); !errors.Is(err, ErrNoKey) || !errors.Is(err, seal.ErrUnseal) {
		t.Fatalf("Unseal with the key deleted = %v; want ErrNoKey and ErrUnseal", err)
	}
}

// TestConcurrentUnseal runs many Seals and Unseals at once through one
// Provider (run it with -race): all succeed, and the pool never opens more
// sessions than its bound.
func TestConcurrentUnseal(t *testing.T) {
	p := openNew(t, testSettings(t))
	root := randomRoot(t)
	sealed, err := p.Seal(root)
	if err != nil {
		t.Fatal(err)
	}
	const workers, rounds = 16, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Go(func() {
			for range rounds {
				if w%4 == 0 {
					if _, err := p.Seal(root); err != nil {
						errs <- err
					}
					continue
				}
				got, err := p.Unseal(sealed)
				if err == nil && !bytes.Equal(got, root) {
					err = errors.New("Unseal returned another root key")
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	p.pool.mu.Lock()
	peak, open := p.pool.peak, p.pool.open
	p.pool.mu.Unlock()
	if peak > p.tok.maxSessions || peak < 2 {
		t.Errorf("the pool had %d sessions open at once; want 2..%d", peak, p.tok.maxSessions)
	}
	if open > p.tok.maxSessions {
		t.Errorf("%d sessions open after the run", open)
	}
}

// TestRestart: a Provider in a new process — the next start of Trent —
// unseals what an earlier process sealed, from the stored settings and a
// PIN in the environment.
func TestRestart(t *testing.T) {
	module := needSoftHSM(t)
	s := testSettings(t)
	p := openNew(t, s)
	root := randomRoot(t)
	sealed, err := p.Seal(root)
	if err != nil {
		t.Fatal(err)
	}
	p.Close()

	dir := t.TempDir()
	stored, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"settings.json": stored, "sealed": sealed} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := testcmd.Command(t, os.Args[0], "-test.run=^TestRestartHelper$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir, helperModEnv+"="+module, PINEnv+"="+testPIN)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper process: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "unsealed"))
	if err != nil {
		t.Fatalf("the helper wrote no result: %v\n%s", err, out)
	}
	if want := hex.EncodeToString(root); string(got) != want {
		t.Fatal("the new process unsealed another root key")
	}
}

// TestRestartHelper is TestRestart's new process; run on its own it does
// nothing.
func TestRestartHelper(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		return
	}
	stored, err := os.ReadFile(filepath.Join(dir, "settings.json"))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := os.ReadFile(filepath.Join(dir, "sealed"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSettings(stored)
	if err != nil {
		t.Fatal(err)
	}
	pin, err := ResolvePIN("", os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Open(s, pin)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	root, err := p.Unseal(sealed)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "unsealed"), []byte(hex.EncodeToString(root)), 0o600); err != nil {
		t.Fatal(err)
	}
}
