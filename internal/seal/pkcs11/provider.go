//go:build cgo

package pkcs11

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"

	p11 "github.com/miekg/pkcs11"

	"github.com/trent-kms/trent/internal/seal"
)

// maxSessions bounds the sessions a Provider opens for its operations (one
// more holds its login). Seal and Unseal are rare — at init and at start —
// so a few sessions serve concurrent callers without exhausting a token
// that allows only a handful.
const maxSessions = 4

// Provider is a seal.Provider whose key-encryption key is an AES-256 key in
// a PKCS #11 token. It is safe for concurrent use: each operation borrows a
// session from a small pool, and the token does the cryptography.
type Provider struct {
	settings Settings
	tok      *token
	pool     *sessionPool

	// mu is held for reading by every operation and for writing by Close,
	// so Close waits for operations in flight before it closes sessions.
	mu     sync.RWMutex
	closed bool
}

var _ seal.Provider = (*Provider)(nil)

// Open loads s.Module (once per process), finds the token labelled
// s.TokenLabel, logs in with pin and checks that the token holds exactly
// one suitable key labelled s.KeyLabel: AES-256, sensitive,
// non-extractable, a token object that may encrypt and decrypt. It does not
// create the key (EnsureKey does, at init), so a missing key is an error at
// start, as are a missing module, a missing token and a wrong PIN — each one
// line, wrapping ErrModule, ErrNoToken, ErrNoKey or ErrWrongPIN.
//
// The caller must Close the Provider, which logs out once no other Provider
// in the process uses the token.
func Open(s Settings, pin string) (*Provider, error) {
	tok, err := openToken(s, pin)
	if err != nil {
		return nil, err
	}
	p := &Provider{settings: s, tok: tok, pool: newSessionPool(tok)}
	err = p.withSession(func(h p11.SessionHandle) error {
		key, err := p.findKey(h)
		if err != nil {
			return err
		}
		return p.checkKey(h, key)
	})
	if err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// ensureMu makes EnsureKey's find-then-create atomic within the process.
// (PKCS #11 cannot make it atomic across processes; Open refuses a token
// where two inits raced and left two keys with one label.)
var ensureMu sync.Mutex

// EnsureKey makes sure the token holds the key s names, creating it if it is
// absent, for init. A created key is an AES-256 token object generated
// inside the token (CKM_AES_KEY_GEN) with CKA_SENSITIVE true,
// CKA_EXTRACTABLE false, CKA_PRIVATE true, CKA_ENCRYPT and CKA_DECRYPT
// true, every other use (wrap, unwrap, sign, verify, derive) false, and
// CKA_MODIFIABLE and CKA_COPYABLE false, so no one can relabel, repurpose
// or copy it later; CKA_ID is 16 random bytes. An existing key is checked
// as Open checks it and left alone. It reports whether it created the key.
func EnsureKey(s Settings, pin string) (created bool, err error) {
	tok, err := openToken(s, pin)
	if err != nil {
		return false, err
	}
	defer tok.close()
	// Creating a token object needs a read/write session.
	h, err := tok.mod.ctx.OpenSession(tok.slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		return false, fmt.Errorf("pkcs11: token %q: open a read/write session: %s", s.TokenLabel, ckr(err))
	}
	defer tok.mod.ctx.CloseSession(h)
	p := &Provider{settings: s, tok: tok}

	ensureMu.Lock()
	defer ensureMu.Unlock()
	key, err := p.findKey(h)
	if errors.Is(err, ErrNoKey) {
		key, err = p.generateKey(h)
		created = err == nil
	}
	if err != nil {
		return false, err
	}
	return created, p.checkKey(h, key)
}

func (p *Provider) generateKey(h p11.SessionHandle) (p11.ObjectHandle, error) {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return 0, fmt.Errorf("pkcs11: generating key id: %w", err)
	}
	template := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY),
		p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_AES),
		p11.NewAttribute(p11.CKA_VALUE_LEN, seal.RootKeySize),
		p11.NewAttribute(p11.CKA_LABEL, p.settings.KeyLabel),
		p11.NewAttribute(p11.CKA_ID, id),
		p11.NewAttribute(p11.CKA_TOKEN, true),
		p11.NewAttribute(p11.CKA_PRIVATE, true),
		p11.NewAttribute(p11.CKA_SENSITIVE, true),
		p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
		p11.NewAttribute(p11.CKA_ENCRYPT, true),
		p11.NewAttribute(p11.CKA_DECRYPT, true),
		p11.NewAttribute(p11.CKA_WRAP, false),
		p11.NewAttribute(p11.CKA_UNWRAP, false),
		p11.NewAttribute(p11.CKA_SIGN, false),
		p11.NewAttribute(p11.CKA_VERIFY, false),
		p11.NewAttribute(p11.CKA_DERIVE, false),
		p11.NewAttribute(p11.CKA_MODIFIABLE, false),
		p11.NewAttribute(p11.CKA_COPYABLE, false),
	}
	mech := []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_KEY_GEN, nil)}
	key, err := p.tok.mod.ctx.GenerateKey(h, mech, template)
	if err != nil {
		return 0, fmt.Errorf("pkcs11: token %q: generate AES-256 key %q: %s", p.settings.TokenLabel, p.settings.KeyLabel, ckr(err))
	}
	return key, nil
}

// aad returns the GCM additional data that binds a sealed root key to s's
// installation.
func (s Settings) aad() []byte {
	return seal.AAD(sealedAADTag, s.Installation)
}

// Name returns "pkcs11".
func (*Provider) Name() string { return ProviderName }

// Settings returns the settings the Provider was opened with, to store in
// the data dir.
func (p *Provider) Settings() Settings { return p.settings }

// Seal asks the token to encrypt root (RootKeySize bytes) under its key with
// CKM_AES_GCM, a random 96-bit IV and the installation as additional data,
// and returns format 1 (see parseSealed). Before returning it asks the
// token to open the result, so a token that does not do GCM as specified
// (or used another IV than the one it reports) fails here, at init, rather
// than at the next start.
func (p *Provider) Seal(root []byte) ([]byte, error) {
	if len(root) != seal.RootKeySize {
		return nil, fmt.Errorf("pkcs11: root key must be %d bytes, got %d", seal.RootKeySize, len(root))
	}
	iv := make([]byte, ivLen)
	if _, err := rand.Read(iv); err != nil {
		return nil, fmt.Errorf("pkcs11: generating IV: %w", err)
	}
	var ciphertext []byte
	err := p.withSession(func(h p11.SessionHandle) error {
		key, err := p.findKey(h)
		if err != nil {
			return err
		}
		params := p11.NewGCMParams(iv, p.settings.aad(), tagLen*8)
		defer params.Free()
		ctx := p.tok.mod.ctx
		if err := ctx.EncryptInit(h, []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_GCM, params)}, key); err != nil {
			return fmt.Errorf("pkcs11: token %q: key %q: start AES-GCM encryption: %s", p.settings.TokenLabel, p.settings.KeyLabel, ckr(err))
		}
		if ciphertext, err = ctx.Encrypt(h, root); err != nil {
			return fmt.Errorf("pkcs11: token %q: key %q: AES-GCM encryption: %s", p.settings.TokenLabel, p.settings.KeyLabel, ckr(err))
		}
		// Some HSMs choose the IV themselves and report it here.
		iv = params.IV()
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(iv) != ivLen || len(ciphertext) != seal.RootKeySize+tagLen {
		return nil, fmt.Errorf("pkcs11: token %q returned a %d-byte IV and %d-byte ciphertext; want %d and %d", p.settings.TokenLabel, len(iv), len(ciphertext), ivLen, seal.RootKeySize+tagLen)
	}
	sealed := encodeSealed(iv, ciphertext)
	back, err := p.Unseal(sealed)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: token %q cannot open the root key it just sealed: %w", p.settings.TokenLabel, err)
	}
	same := subtle.ConstantTimeCompare(back, root) == 1
	clear(back)
	if !same {
		return nil, fmt.Errorf("pkcs11: token %q opened the root key it just sealed to another value", p.settings.TokenLabel)
	}
	return sealed, nil
}

// Unseal asks the token to decrypt a root key sealed by Seal with the same
// token key and installation. Every failure wraps seal.ErrUnseal; a blob the
// token does not authenticate (another key, another installation, any
// modified byte) is refused by the token's GCM tag check.
//
// The root key passes through a buffer the PKCS #11 binding allocates in C
// and frees without erasing; HardenProcess keeps that memory locked and out
// of core dumps, as it does Go's.
func (p *Provider) Unseal(sealed []byte) ([]byte, error) {
	iv, ciphertext, err := parseSealed(sealed)
	if err != nil {
		return nil, err
	}
	var root []byte
	err = p.withSession(func(h p11.SessionHandle) error {
		key, err := p.findKey(h)
		if err != nil {
			return err
		}
		params := p11.NewGCMParams(iv, p.settings.aad(), tagLen*8)
		defer params.Free()
		ctx := p.tok.mod.ctx
		if err := ctx.DecryptInit(h, []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_GCM, params)}, key); err != nil {
			return fmt.Errorf("pkcs11: token %q: key %q: start AES-GCM decryption: %s", p.settings.TokenLabel, p.settings.KeyLabel, ckr(err))
		}
		if root, err = ctx.Decrypt(h, ciphertext); err != nil {
			return fmt.Errorf("pkcs11: key %q on token %q does not open the sealed root key: it was sealed by another key or for another installation, or was modified (%s)", p.settings.KeyLabel, p.settings.TokenLabel, ckr(err))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", seal.ErrUnseal, err)
	}
	if len(root) != seal.RootKeySize {
		clear(root)
		return nil, fmt.Errorf("%w: pkcs11: token %q decrypted a %d-byte root key", seal.ErrUnseal, p.settings.TokenLabel, len(root))
	}
	return root, nil
}

// Close returns the Provider's sessions to the token, after any Seal or
// Unseal in flight has finished, and logs out of the token if no other
// Provider in the process is logged in to it. The module stays loaded (see
// loadModule). Close is idempotent; later Seal and Unseal calls return
// ErrClosed.
func (p *Provider) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	p.pool.close()
	p.tok.close()
	return nil
}

// withSession runs f on a session borrowed from the pool. A session on
// which f failed is closed rather than returned, so no session with an
// unfinished operation is reused.
func (p *Provider) withSession(f func(p11.SessionHandle) error) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	h, err := p.pool.get()
	if err != nil {
		return fmt.Errorf("pkcs11: token %q: open a session: %s", p.settings.TokenLabel, ckr(err))
	}
	err = f(h)
	p.pool.put(h, err == nil)
	return err
}

// findKey returns the one secret key labelled p.settings.KeyLabel. It looks
// the key up on every operation rather than caching its handle: operations
// are rare, and a key deleted or replaced under Trent then gives ErrNoKey
// rather than a stale handle's CKR_KEY_HANDLE_INVALID.
func (p *Provider) findKey(h p11.SessionHandle) (p11.ObjectHandle, error) {
	ctx := p.tok.mod.ctx
	template := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY),
		p11.NewAttribute(p11.CKA_LABEL, p.settings.KeyLabel),
	}
	if err := ctx.FindObjectsInit(h, template); err != nil {
		return 0, fmt.Errorf("pkcs11: token %q: search for key %q: %s", p.settings.TokenLabel, p.settings.KeyLabel, ckr(err))
	}
	objs, _, err := ctx.FindObjects(h, 2)
	if ferr := ctx.FindObjectsFinal(h); err == nil {
		err = ferr
	}
	switch {
	case err != nil:
		return 0, fmt.Errorf("pkcs11: token %q: search for key %q: %s", p.settings.TokenLabel, p.settings.KeyLabel, ckr(err))
	case len(objs) == 0:
		return 0, fmt.Errorf("pkcs11: token %q: %w %q (trent init --seal pkcs11 creates it)", p.settings.TokenLabel, ErrNoKey, p.settings.KeyLabel)
	case len(objs) > 1:
		return 0, fmt.Errorf("pkcs11: token %q: key %q: %w: several secret keys have this label; Trent will not guess which one seals the root key", p.settings.TokenLabel, p.settings.KeyLabel, ErrUnsuitableKey)
	}
	return objs[0], nil
}

// checkKey refuses a key that could leave the token or is not the AES-256
// key Seal and Unseal use. It checks what the key is now, not how it was
// made (CKA_NEVER_EXTRACTABLE, CKA_ALWAYS_SENSITIVE), so a key an operator
// imported or cloned between HSMs of a cluster is accepted.
func (p *Provider) checkKey(h p11.SessionHandle, key p11.ObjectHandle) error {
	attrs, err := p.tok.mod.ctx.GetAttributeValue(h, key, []*p11.Attribute{
		p11.NewAttribute(p11.CKA_KEY_TYPE, nil),
		p11.NewAttribute(p11.CKA_VALUE_LEN, nil),
		p11.NewAttribute(p11.CKA_TOKEN, nil),
		p11.NewAttribute(p11.CKA_SENSITIVE, nil),
		p11.NewAttribute(p11.CKA_EXTRACTABLE, nil),
		p11.NewAttribute(p11.CKA_ENCRYPT, nil),
		p11.NewAttribute(p11.CKA_DECRYPT, nil),
	})
	if err != nil {
		return fmt.Errorf("pkcs11: token %q: key %q: read attributes: %s", p.settings.TokenLabel, p.settings.KeyLabel, ckr(err))
	}
	var problems []string
	if t, ok := attrUint(attrs[0].Value); !ok || t != p11.CKK_AES {
		problems = append(problems, "not an AES key")
	} else if n, ok := attrUint(attrs[1].Value); !ok || n != seal.RootKeySize {
		problems = append(problems, "not 256 bits")
	}
	for _, c := range []struct {
		value []byte
		want  bool
		wrong string
	}{
		{attrs[2].Value, true, "not a token object"},
		{attrs[3].Value, true, "not sensitive"},
		{attrs[4].Value, false, "extractable"},
		{attrs[5].Value, true, "not allowed to encrypt"},
		{attrs[6].Value, true, "not allowed to decrypt"},
	} {
		if v, ok := attrBool(c.value); !ok || v != c.want {
			problems = append(problems, c.wrong)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("pkcs11: token %q: key %q: %w: %s; Trent needs a sensitive, non-extractable AES-256 token key that may encrypt and decrypt", p.settings.TokenLabel, p.settings.KeyLabel, ErrUnsuitableKey, strings.Join(problems, ", "))
	}
	return nil
}

// attrBool decodes a CK_BBOOL attribute value.
func attrBool(v []byte) (value, ok bool) {
	if len(v) != 1 {
		return false, false
	}
	return v[0] != 0, true
}

// attrUint decodes a CK_ULONG attribute value, which the token writes in
// the machine's byte order and size.
func attrUint(v []byte) (uint64, bool) {
	switch len(v) {
	case 4:
		return uint64(binary.NativeEndian.Uint32(v)), true
	case 8:
		return binary.NativeEndian.Uint64(v), true
	}
	return 0, false
}

// ckr names a PKCS #11 return value (CKR_PIN_INCORRECT), or gives a
// non-PKCS #11 error's text.
func ckr(err error) string {
	var e p11.Error
	if errors.As(err, &e) {
		// p11.Error's text is "pkcs11: 0xA0: CKR_PIN_INCORRECT".
		s := e.Error()
		if i := strings.LastIndex(s, ": "); i >= 0 && strings.HasPrefix(s[i+2:], "CKR_") {
			return s[i+2:]
		}
		return fmt.Sprintf("CKR 0x%X", uint(e))
	}
	return err.Error()
}

// isCKR reports whether err is the PKCS #11 return value rv.
func isCKR(err error, rv uint) bool {
	var e p11.Error
	return errors.As(err, &e) && uint(e) == rv
}
