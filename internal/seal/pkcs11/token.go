//go:build cgo

package pkcs11

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	p11 "github.com/miekg/pkcs11"
)

// A PKCS #11 library is initialized once per process (C_Initialize), and a
// login belongs to the process, not to a session: every session the process
// has with a token shares it. So the libraries loaded and the tokens logged
// in to are facts about the process, and this registry records them, for
// every Provider to share.
//
// A library, once loaded, stays loaded until the process exits: C_Finalize
// and dlclose buy nothing for a server that uses one module for its life,
// and some libraries do not survive being unloaded and loaded again.
var registry = struct {
	sync.Mutex
	modules map[string]*module // by the library's resolved path
	logins  map[loginKey]*login
}{modules: map[string]*module{}, logins: map[loginKey]*login{}}

type module struct {
	path string // as the operator gave it, for messages
	real string // resolved, the registry's key
	ctx  *p11.Ctx
}

type loginKey struct {
	module string // resolved path
	slot   uint
}

// login is the process's login to one token: how many Providers share it,
// and a digest of the PIN it was made with, so that a later Open with
// another PIN is refused rather than riding on the first one's login
// (C_Login would only answer CKR_USER_ALREADY_LOGGED_IN).
type login struct {
	refs int
	pin  [sha256.Size]byte
}

// loadModule loads and initializes the library at path, or returns the one
// already loaded from the same file.
func loadModule(path string) (*module, error) {
	fi, err := os.Stat(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is in the message already
		}
		return nil, fmt.Errorf("pkcs11: module %s: %w: %v", path, ErrModule, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("pkcs11: module %s: %w: not a regular file", path, ErrModule)
	}
	// The same library through two paths (Debian's /usr/lib/softhsm is a
	// symbolic link into the multiarch directory) is one library to the
	// dynamic loader, and must be initialized once.
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: module %s: %w: %v", path, ErrModule, err)
	}
	registry.Lock()
	defer registry.Unlock()
	if m := registry.modules[real]; m != nil {
		return m, nil
	}
	ctx := p11.New(real)
	if ctx == nil {
		return nil, fmt.Errorf("pkcs11: module %s: %w: not a shared library exporting C_GetFunctionList", path, ErrModule)
	}
	// CKR_CRYPTOKI_ALREADY_INITIALIZED: something else in the process
	// initialized the library (not through this registry); it is usable.
	if err := ctx.Initialize(); err != nil && !isCKR(err, p11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		ctx.Destroy()
		return nil, fmt.Errorf("pkcs11: module %s: %w: C_Initialize: %s", path, ErrModule, ckr(err))
	}
	m := &module{path: path, real: real, ctx: ctx}
	registry.modules[real] = m
	return m, nil
}

// token is one Provider's hold on a token: the module, the slot, and a
// session that keeps the process's login alive while the Provider lives
// (the login ends when the process's last session with the token closes).
type token struct {
	mod    *module
	slot   uint
	label  string
	key    loginKey
	anchor p11.SessionHandle
	// maxSessions is how many sessions the Provider's pool may open.
	maxSessions int
}

// openToken loads the module, finds the token labelled s.TokenLabel, checks
// that it does AES-GCM, and logs in with pin.
func openToken(s Settings, pin string) (*token, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	if pin == "" {
		return nil, fmt.Errorf("pkcs11: log in to token %q: no PIN given", s.TokenLabel)
	}
	mod, err := loadModule(s.Module)
	if err != nil {
		return nil, err
	}
	slot, info, err := findToken(mod, s.TokenLabel)
	if err != nil {
		return nil, err
	}
	mi, err := mod.ctx.GetMechanismInfo(slot, []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_GCM, nil)})
	if err != nil || mi.Flags&p11.CKF_ENCRYPT == 0 || mi.Flags&p11.CKF_DECRYPT == 0 {
		return nil, fmt.Errorf("pkcs11: token %q does not offer CKM_AES_GCM encryption and decryption, which the pkcs11 seal needs", s.TokenLabel)
	}
	anchor, err := mod.ctx.OpenSession(slot, p11.CKF_SERIAL_SESSION)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: token %q: open a session: %s", s.TokenLabel, ckr(err))
	}
	t := &token{mod: mod, slot: slot, label: s.TokenLabel, key: loginKey{mod.real, slot}, anchor: anchor, maxSessions: maxSessions}
	// Leave the token's session limit a session to spare for others.
	if n := info.MaxSessionCount; n != p11.CK_EFFECTIVELY_INFINITE && n != p11.CK_UNAVAILABLE_INFORMATION && n > 0 {
		t.maxSessions = max(1, min(maxSessions, int(min(n, 1<<20))-2))
	}
	if err := t.login(pin); err != nil {
		mod.ctx.CloseSession(anchor)
		return nil, err
	}
	return t, nil
}

// findToken returns the slot of the one initialized token labelled label.
func findToken(mod *module, label string) (uint, p11.TokenInfo, error) {
	slots, err := mod.ctx.GetSlotList(true)
	if err != nil {
		return 0, p11.TokenInfo{}, fmt.Errorf("pkcs11: module %s: list slots: %s", mod.path, ckr(err))
	}
	var (
		found  []uint
		info   p11.TokenInfo
		labels []string
	)
	for _, slot := range slots {
		ti, err := mod.ctx.GetTokenInfo(slot)
		if err != nil || ti.Flags&p11.CKF_TOKEN_INITIALIZED == 0 {
			continue
		}
		labels = append(labels, strconv.Quote(ti.Label))
		if ti.Label == label {
			found = append(found, slot)
			info = ti
		}
	}
	switch len(found) {
	case 1:
		return found[0], info, nil
	case 0:
		have := "none"
		if len(labels) > 0 {
			slices.Sort(labels)
			have = strings.Join(labels, ", ")
		}
		return 0, info, fmt.Errorf("pkcs11: module %s: %w %q (initialized tokens: %s)", mod.path, ErrNoToken, label, have)
	}
	return 0, info, fmt.Errorf("pkcs11: module %s: %d tokens are labelled %q; Trent will not guess which one holds its key", mod.path, len(found), label)
}

// login logs the process in to the token with pin, or checks pin against
// the login the process already has.
func (t *token) login(pin string) error {
	digest := sha256.Sum256([]byte(pin))
	registry.Lock()
	defer registry.Unlock()
	if l := registry.logins[t.key]; l != nil {
		if subtle.ConstantTimeCompare(l.pin[:], digest[:]) != 1 {
			return fmt.Errorf("pkcs11: log in to token %q: %w (not the PIN this process is logged in to the token with)", t.label, ErrWrongPIN)
		}
		l.refs++
		return nil
	}
	err := t.mod.ctx.Login(t.anchor, p11.CKU_USER, pin)
	switch {
	case err == nil:
	case isCKR(err, p11.CKR_PIN_INCORRECT), isCKR(err, p11.CKR_PIN_LEN_RANGE):
		return fmt.Errorf("pkcs11: log in to token %q: %w (%s)", t.label, ErrWrongPIN, ckr(err))
	case isCKR(err, p11.CKR_PIN_LOCKED):
		return fmt.Errorf("pkcs11: log in to token %q: the user PIN is locked (%s)", t.label, ckr(err))
	case isCKR(err, p11.CKR_USER_PIN_NOT_INITIALIZED):
		return fmt.Errorf("pkcs11: log in to token %q: the token's user PIN is not initialized (%s)", t.label, ckr(err))
	case isCKR(err, p11.CKR_USER_ALREADY_LOGGED_IN):
		return fmt.Errorf("pkcs11: log in to token %q: something else in this process is logged in to the token, so the PIN cannot be checked (%s)", t.label, ckr(err))
	default:
		return fmt.Errorf("pkcs11: log in to token %q: %s", t.label, ckr(err))
	}
	registry.logins[t.key] = &login{refs: 1, pin: digest}
	return nil
}

// close gives up the token: the last holder of the process's login logs
// out, then the anchor session closes.
func (t *token) close() {
	registry.Lock()
	defer registry.Unlock()
	if l := registry.logins[t.key]; l != nil {
		if l.refs--; l.refs == 0 {
			delete(registry.logins, t.key)
			t.mod.ctx.Logout(t.anchor) // fails only if already logged out
		}
	}
	t.mod.ctx.CloseSession(t.anchor)
}

// sessionPool lends read-only sessions with the token to concurrent
// operations: at most max are open at once, idle ones are reused, and a
// caller finding all in use waits for one.
type sessionPool struct {
	tok  *token
	idle chan p11.SessionHandle
	sem  chan struct{} // one value per session lent out

	mu   sync.Mutex
	open int // sessions open now, for tests
	peak int // the most open at once, for tests
}

func newSessionPool(t *token) *sessionPool {
	return &sessionPool{tok: t, idle: make(chan p11.SessionHandle, t.maxSessions), sem: make(chan struct{}, t.maxSessions)}
}

func (sp *sessionPool) get() (p11.SessionHandle, error) {
	sp.sem <- struct{}{}
	select {
	case h := <-sp.idle:
		return h, nil
	default:
	}
	h, err := sp.tok.mod.ctx.OpenSession(sp.tok.slot, p11.CKF_SERIAL_SESSION)
	if err != nil {
		<-sp.sem
		return 0, err
	}
	sp.mu.Lock()
	sp.open++
	sp.peak = max(sp.peak, sp.open)
	sp.mu.Unlock()
	return h, nil
}

// put returns h to the pool, or closes it if it is not healthy. The idle
// channel has room for every session the semaphore lets out, so put never
// blocks.
func (sp *sessionPool) put(h p11.SessionHandle, healthy bool) {
	if healthy {
		sp.idle <- h
	} else {
		sp.closeSession(h)
	}
	<-sp.sem
}

// close closes the idle sessions. The Provider calls it only when no
// session is lent out.
func (sp *sessionPool) close() {
	for {
		select {
		case h := <-sp.idle:
			sp.closeSession(h)
		default:
			return
		}
	}
}

func (sp *sessionPool) closeSession(h p11.SessionHandle) {
	sp.tok.mod.ctx.CloseSession(h)
	sp.mu.Lock()
	sp.open--
	sp.mu.Unlock()
}
