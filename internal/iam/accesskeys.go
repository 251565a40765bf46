// Package iam owns Trent's principals: accounts, IAM users, groups, roles,
// managed and inline policies, access keys and STS sessions. Service
// (service.go) answers the IAM and STS APIs and is the identity directory
// every request consults (directory.go); Directory, here, serves the
// account roots' access keys to commands that run without a Service (init,
// the dev server's imported pair). Access-key secrets are stored only
// wrapped by the root key; the plaintext secret exists in memory and,
// once, in the answer that created it. The package never decides whether a
// caller may do what it asks: internal/authz does, before a handler runs.
package iam

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/trent-kms/trent/internal/seal"
	"github.com/trent-kms/trent/internal/sigv4"
	"github.com/trent-kms/trent/internal/store"
)

// RootARN is the ARN of an account's root principal.
func RootARN(account string) string { return "arn:aws:iam::" + account + ":root" }

// Directory resolves access key ids to credentials. Safe for concurrent use.
type Directory struct {
	store store.AccessKeys
	root  *seal.RootKey
	keys  sync.Map // access key id → *sigv4.Credential

	now       func() time.Time // the clock of the miss cache
	misses    missCache
	missReads chan struct{} // a slot per store read for an id not in keys
}

// Lookup runs before a request is authenticated, so anyone can make it read
// the store with made-up access key ids. An id the store does not have is
// remembered for missTTL (at most maxMisses ids, the oldest dropped first),
// so repeating one costs no read; and at most maxMissReads reads for ids not
// in memory run at once, so a flood of fresh ids holds at most that many of
// the store's readers and the KMS operations keep the rest. The price: a key
// created on another node is found up to missTTL late if a request named it
// before it existed. A key created through this Directory is found at once.
const (
	missTTL      = 5 * time.Second
	maxMisses    = 4096
	maxMissReads = 2
)

// NewDirectory returns a Directory over the given store.
func NewDirectory(st store.AccessKeys, root *seal.RootKey) *Directory {
	return &Directory{store: st, root: root, now: time.Now, missReads: make(chan struct{}, maxMissReads)}
}

func secretAAD(id string) []byte { return []byte("trent/access-key/" + id) }

// Lookup implements sigv4.Verifier's Lookup. A miss in memory reads the
// store, so keys created by another node are found; see missTTL for how
// misses are bounded.
func (d *Directory) Lookup(id string) (*sigv4.Credential, bool) {
	if c, ok := d.keys.Load(id); ok {
		return c.(*sigv4.Credential), true
	}
	if !validAccessKeyID(id) {
		return nil, false
	}
	now := d.now()
	if d.misses.has(id, now) {
		return nil, false
	}
	d.missReads <- struct{}{}
	c, err := d.load(context.Background(), id)
	<-d.missReads
	if err != nil {
		// Only an id the store answered for is remembered: after a
		// transient failure the next request reads again.
		if errors.Is(err, store.ErrNotFound) {
			d.misses.add(id, now)
		}
		return nil, false
	}
	return c, true
}

// missCache remembers access key ids the store did not have. The zero value
// is ready to use.
type missCache struct {
	mu   sync.Mutex
	at   map[string]time.Time // id → when the store did not have it
	ring []string             // ids in the order added, to drop the oldest
	next int                  // the ring slot the next id takes
}

func (c *missCache) has(id string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.at[id]
	return ok && !now.Before(t) && now.Sub(t) < missTTL
}

func (c *missCache) add(id string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at == nil {
		c.at = make(map[string]time.Time)
		c.ring = make([]string, maxMisses)
	}
	if _, ok := c.at[id]; ok {
		c.at[id] = now // expired and read again; keeps its slot
		return
	}
	if old := c.ring[c.next]; old != "" {
		delete(c.at, old)
	}
	c.ring[c.next] = id
	c.next = (c.next + 1) % len(c.ring)
	c.at[id] = now
}

func (c *missCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Its ring slot, when reused, deletes nothing, or the entry of the id
	// if it was added again since, which costs one read.
	delete(c.at, id)
}

func (d *Directory) load(ctx context.Context, id string) (*sigv4.Credential, error) {
	k, err := d.store.GetAccessKey(ctx, id)
	if err != nil {
		return nil, err
	}
	if !k.Active {
		return nil, store.ErrNotFound
	}
	secret, err := d.root.Unwrap(k.WrappedSecret, secretAAD(id))
	if err != nil {
		return nil, fmt.Errorf("unwrap access key %s: %w", id, err)
	}
	c := &sigv4.Credential{AccessKeyID: id, Secret: secret, Account: k.Account, PrincipalARN: k.PrincipalARN}
	d.keys.Store(id, c)
	return c, nil
}

// CreateAccessKey makes a new access key for the account root and returns
// its id and secret. The secret is not retrievable afterwards.
func (d *Directory) CreateAccessKey(ctx context.Context, account string) (id, secret string, err error) {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	id = "AKIA" + base32.StdEncoding.EncodeToString(b[:])[:16]
	var s [30]byte
	if _, err := rand.Read(s[:]); err != nil {
		return "", "", err
	}
	secret = base64.StdEncoding.EncodeToString(s[:])
	if err := d.ImportAccessKey(ctx, account, id, secret); err != nil {
		return "", "", err
	}
	return id, secret, nil
}

// MinSecretLength is the shortest secret ImportAccessKey accepts. The
// secret is the whole of what SigV4 proves, so a short one can be guessed
// offline from a single signed request; AWS's secrets are 40 characters,
// and the ones CreateAccessKey makes are too.
const MinSecretLength = 16

// CheckAccessKeyPair reports whether ImportAccessKey would accept the pair's
// form: an id of 16-128 letters and digits, a secret of MinSecretLength-128
// characters. Its errors never quote the secret.
func CheckAccessKeyPair(id, secret string) error {
	if !validAccessKeyID(id) {
		return errors.New("the access key id must be 16-128 letters and digits")
	}
	if len(secret) < MinSecretLength || len(secret) > 128 {
		return fmt.Errorf("the secret access key must be at least %d and at most 128 characters, not %d", MinSecretLength, len(secret))
	}
	return nil
}

// ImportAccessKey stores a given access key pair for the account root (the
// dev server takes its pair from TRENT_ROOT_ACCESS_KEY_ID and
// TRENT_ROOT_SECRET_ACCESS_KEY). Importing the same pair again is a no-op;
// the same id with another secret is an error.
func (d *Directory) ImportAccessKey(ctx context.Context, account, id, secret string) error {
	if err := CheckAccessKeyPair(id, secret); err != nil {
		return err
	}
	if c, err := d.load(ctx, id); err == nil {
		if subtle.ConstantTimeCompare(c.Secret, []byte(secret)) != 1 {
			return fmt.Errorf("access key %s already exists with another secret", id)
		}
		return nil
	}
	wrapped, err := d.root.Wrap([]byte(secret), secretAAD(id))
	if err != nil {
		return fmt.Errorf("wrap access key %s: %w", id, err)
	}
	err = d.store.CreateAccessKey(ctx, store.AccessKey{
		ID: id, Account: account, PrincipalARN: RootARN(account), WrappedSecret: wrapped,
		CreatedAt: time.Now().UTC(), Active: true,
	})
	if err != nil {
		return fmt.Errorf("store access key %s: %w", id, err)
	}
	d.misses.forget(id)
	_, err = d.load(ctx, id)
	return err
}

func validAccessKeyID(id string) bool {
	if len(id) < 16 || len(id) > 128 {
		return false
	}
	return strings.IndexFunc(id, func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}) < 0
}
