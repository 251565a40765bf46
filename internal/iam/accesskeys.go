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
	"time"

	"github.com/trent-kms/trent/internal/seal"
	"github.com/trent-kms/trent/internal/store"
)

// RootARN is the ARN of an account's root principal.
func RootARN(account string) string { return "arn:aws:iam::" + account + ":root" }

// Directory writes account roots' access keys for commands that run
// without a Service (init, the dev server's own pair). It resolves nothing:
// every request's key is looked up by Service (directory.go), whose caches
// and bound on reads for unknown ids serve the verifier.
type Directory struct {
	store store.AccessKeys
	root  *seal.RootKey
}

// NewDirectory returns a Directory over the given store.
func NewDirectory(st store.AccessKeys, root *seal.RootKey) *Directory {
	return &Directory{store: st, root: root}
}

func secretAAD(id string) []byte { return []byte("trent/access-key/" + id) }

// secretOf returns the unwrapped secret of a stored access key.
func (d *Directory) secretOf(ctx context.Context, id string) ([]byte, error) {
	k, err := d.store.GetAccessKey(ctx, id)
	if err != nil {
		return nil, err
	}
	secret, err := d.root.Unwrap(k.WrappedSecret, secretAAD(id))
	if err != nil {
		return nil, fmt.Errorf("unwrap access key %s: %w", id, err)
	}
	return secret, nil
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
	switch old, err := d.secretOf(ctx, id); {
	case err == nil:
		defer clear(old)
		if subtle.ConstantTimeCompare(old, []byte(secret)) != 1 {
			return fmt.Errorf("access key %s already exists with another secret", id)
		}
		return nil
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("look up access key %s: %w", id, err)
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
	return nil
}

func validAccessKeyID(id string) bool {
	if len(id) < 16 || len(id) > 128 {
		return false
	}
	return strings.IndexFunc(id, func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}) < 0
}
