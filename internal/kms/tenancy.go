package kms

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/store"
)

// Tenancy. One Service serves every account and region, as AWS looks from
// a caller's side: keys, aliases and grants live in (account, region). The
// caches are keyed by what is unique in the store (a key id is a UUID
// unique across tenants; an alias is unique within its account and
// region), and every lookup states the tenant it expects and checks the
// entry against it, so a key of us-west-2 is NotFound when named in
// us-east-1, and a bare key id or alias name never reaches into another
// account.
//
// A key ARN (or, where the row takes aliases, an alias ARN) may name
// another account of the same region: that is cross-account use, and the
// key is looked up in that account. Whether the caller may use it is
// authorization's question (authz.go), not resolution's; resolution only
// answers NotFound when no such key exists there.

// tenant is an (account, region) pair.
type tenant struct{ account, region string }

// aliasKey names an alias in the alias cache.
type aliasKey struct{ account, region, name string }

// lookup says which KeyId forms a row accepts.
type lookup uint8

const (
	// aliasOK: alias names and alias ARNs are accepted too.
	aliasOK lookup = 1 << iota
)

// errKeyAbsent is what the cache reports for a key id the store does not
// have, in any tenant; callers word it as AWS does for the name they were
// given.
var errKeyAbsent = errors.New("kms: no such key")

func keyNotFound(arn string) error {
	return apierr.New(apierr.NotFound, "Key '%s' does not exist", arn)
}

// resolve finds the key a KeyId member names, for a request in tenant t.
// It returns the alias name the request used ("" if it named the key
// itself), for kms:RequestAlias.
func (s *Service) resolve(ctx context.Context, t tenant, keyID string, flags lookup) (*keyEntry, string, error) {
	account, id := t.account, keyID
	switch {
	case strings.HasPrefix(keyID, "arn:"):
		p, ok := splitARN(keyID)
		if !ok || p[2] != "kms" || !strings.HasPrefix(p[1], "aws") {
			return nil, "", apierr.New(apierr.NotFound, "Invalid arn %s", keyID)
		}
		if p[3] != t.region {
			return nil, "", apierr.New(apierr.NotFound, "Invalid arn %s", p[3])
		}
		account = p[4]
		switch resource := p[5]; {
		case strings.HasPrefix(resource, "key/"):
			id = resource[len("key/"):]
		case strings.HasPrefix(resource, aliasPrefix) && flags&aliasOK != 0:
			e, err := s.resolveAlias(ctx, aliasKey{account, t.region, resource})
			return e, resource, err
		default:
			return nil, "", apierr.New(apierr.NotFound, "Invalid keyId '%s'", keyID)
		}
	case strings.HasPrefix(keyID, aliasPrefix):
		if flags&aliasOK == 0 {
			return nil, "", apierr.New(apierr.NotFound, "Invalid keyId '%s'", keyID)
		}
		e, err := s.resolveAlias(ctx, aliasKey{t.account, t.region, keyID})
		return e, keyID, err
	}
	if !isUUID(id) {
		if strings.HasPrefix(id, "mrk-") && len(id) == 36 && isHex(id[4:]) {
			e, err := s.keyIn(ctx, tenant{account, t.region}, mrkStoreID(strings.ToLower(id), t.region))
			return e, "", err
		}
		return nil, "", apierr.New(apierr.NotFound, "Invalid keyId '%s'", keyID)
	}
	id = strings.ToLower(id)
	e, err := s.keyIn(ctx, tenant{account, t.region}, id)
	return e, "", err
}

// keyIn returns key id if it exists in tenant t, and AWS's NotFound
// otherwise.
func (s *Service) keyIn(ctx context.Context, t tenant, id string) (*keyEntry, error) {
	e, err := s.entry(ctx, id)
	if errors.Is(err, errKeyAbsent) || err == nil && (e.meta.Account != t.account || e.meta.Region != t.region) {
		return nil, keyNotFound(keyARN(t.region, t.account, id))
	}
	return e, err
}

// reload returns the key e as it is now, for a writer under writeMu:
// NotFound if it was deleted since e was read.
func (s *Service) reload(ctx context.Context, e *keyEntry) (*keyEntry, error) {
	cur, err := s.entry(ctx, e.meta.ID)
	if errors.Is(err, errKeyAbsent) {
		return nil, keyNotFound(e.arn)
	}
	return cur, err
}

func (s *Service) resolveAlias(ctx context.Context, a aliasKey) (*keyEntry, error) {
	notFound := func() error {
		return apierr.New(apierr.NotFound, "Alias %s is not found.", aliasARN(a.region, a.account, a.name))
	}
	var keyID string
	if id, ok := s.aliases.Load(a); ok {
		keyID = id.(string)
	} else {
		gen := s.aliasGeneration()
		al, err := s.store.GetAlias(ctx, a.account, a.region, a.name)
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound()
		}
		if err != nil {
			return nil, apierr.Internal(fmt.Errorf("load alias %s: %w", a.name, err))
		}
		s.publishAlias(a, al.KeyID, gen)
		keyID = al.KeyID
	}
	e, err := s.keyIn(ctx, tenant{a.account, a.region}, keyID)
	if apierr.Is(err, apierr.NotFound) {
		// The key went away under the alias (deleted with it).
		return nil, notFound()
	}
	return e, err
}

// splitARN splits an ARN into its six colon-separated fields, the last
// keeping any further colons, without allocating.
func splitARN(s string) (p [6]string, ok bool) {
	for i := 0; i < 5; i++ {
		j := strings.IndexByte(s, ':')
		if j < 0 {
			return p, false
		}
		p[i], s = s[:j], s[j+1:]
	}
	p[5] = s
	return p, true
}
