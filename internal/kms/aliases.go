package kms

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsproto"
	"github.com/trent-kms/trent/internal/store"
)

const (
	aliasPrefix         = "alias/"
	reservedAliasPrefix = "alias/aws/"
	maxAliasesPerKey    = 50
)

// checkAliasName validates an alias name for CreateAlias and UpdateAlias.
func checkAliasName(v *validator, name *string) {
	if v.requiredString("aliasName", name) {
		v.length("aliasName", name, 1, 256)
		v.pattern("aliasName", name, "^[a-zA-Z0-9:/_-]+$", aliasChars)
	}
}

func aliasNameRules(name string) error {
	if !strings.HasPrefix(name, aliasPrefix) {
		return apierr.New(apierr.Validation, `Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html`)
	}
	if strings.HasPrefix(name, reservedAliasPrefix) {
		return apierr.New(apierr.InvalidAliasName, "Alias names that begin with alias/aws/ are reserved for AWS managed keys.")
	}
	// The model's pattern allows ':', but AWS refuses it in alias names.
	if strings.Contains(name, ":") || name == aliasPrefix {
		return apierr.New(apierr.Validation, "%s contains invalid characters for an alias", name)
	}
	return nil
}

func checkCreateAlias(in *awsproto.AliasInput) error {
	var v validator
	checkAliasName(&v, in.AliasName)
	v.keyID("targetKeyId", in.TargetKeyId)
	if err := v.err(); err != nil {
		return err
	}
	if err := aliasNameRules(*in.AliasName); err != nil {
		return err
	}
	// An alias cannot point at an alias. AWS says so in its own words
	// rather than failing to find a key by that name.
	if namesAlias(*in.TargetKeyId) {
		return apierr.New(apierr.Validation, "Aliases must refer to keys. Not aliases")
	}
	return nil
}

// namesAlias reports whether a KeyId member names an alias, by name or by
// ARN, read as resolve reads it.
func namesAlias(keyID string) bool {
	if p, ok := splitARN(keyID); ok && strings.HasPrefix(keyID, "arn:") {
		return strings.HasPrefix(p[5], aliasPrefix)
	}
	return strings.HasPrefix(keyID, aliasPrefix)
}

// authAlias authorizes the row's action on the alias itself: an alias has
// no resource policy, so this is the identity-based policies' decision on
// the alias ARN ("kms:CreateAlias" is needed on the alias and on the key).
func authAlias(a *access, ctx context.Context, name string) error {
	t := a.r.tenant()
	a.begin(a.action, aliasARN(t.region, t.account, name))
	return a.decideIdentity(ctx)
}

// authAliasKey authorizes the row's action on a key an alias points to or
// will: the key must be of the caller's account (alias names never cross
// accounts), and its key policy decides.
func authAliasKey(a *access, ctx context.Context, e *keyEntry) error {
	if err := a.onKey(ctx, e, a.action, ""); err != nil {
		return err
	}
	if err := a.notCrossAccount(e); err != nil {
		return err
	}
	return a.decideKey(ctx, e, grantUse{})
}

func authCreateAlias(a *access, ctx context.Context, in *awsproto.AliasInput) error {
	e, _, err := a.s.resolve(ctx, a.r.tenant(), *in.TargetKeyId, 0)
	if err != nil {
		return err
	}
	a.key = e
	if err := authAlias(a, ctx, *in.AliasName); err != nil {
		return err
	}
	return authAliasKey(a, ctx, e)
}

func (s *Service) createAlias(ctx context.Context, r *Request, in *awsproto.AliasInput, a *access) (any, error) {
	t := r.tenant()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	// The state rule on the key as it is under the lock: it may have been
	// scheduled for deletion since it was resolved.
	e, err := s.reload(ctx, a.key)
	if err != nil {
		return nil, err
	}
	if err := notPendingDeletion(e.arn, &e.meta); err != nil {
		return nil, err
	}
	existing, err := s.store.ListAliases(ctx, t.account, t.region, e.meta.ID, "", maxAliasesPerKey+1)
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("count aliases of key %s: %w", e.meta.ID, err))
	}
	if len(existing) >= maxAliasesPerKey {
		return nil, apierr.New(apierr.LimitExceeded, "The number of aliases for %s exceeds the limit of %d.", e.arn, maxAliasesPerKey)
	}
	now := s.now()
	err = s.store.CreateAlias(ctx, store.Alias{Account: t.account, Region: t.region, Name: *in.AliasName, KeyID: e.meta.ID, CreatedAt: now, UpdatedAt: now})
	if errors.Is(err, store.ErrExists) {
		return nil, apierr.New(apierr.AlreadyExists, "An alias with the name %s already exists", aliasARN(t.region, t.account, *in.AliasName))
	}
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("create alias %s: %w", *in.AliasName, err))
	}
	s.setAlias(aliasKey{t.account, t.region, *in.AliasName}, e.meta.ID, e.meta.ID)
	return nil, nil
}

// aliasNow reads alias a from the store, with AWS's NotFound.
func (s *Service) aliasNow(ctx context.Context, a aliasKey) (store.Alias, error) {
	al, err := s.store.GetAlias(ctx, a.account, a.region, a.name)
	if errors.Is(err, store.ErrNotFound) {
		return store.Alias{}, apierr.New(apierr.NotFound, "Alias %s is not found.", aliasARN(a.region, a.account, a.name))
	}
	if err != nil {
		return store.Alias{}, apierr.Internal(fmt.Errorf("load alias %s: %w", a.name, err))
	}
	return al, nil
}

// authAliasChange authorizes UpdateAlias and DeleteAlias on the alias and
// on the key it points to now, and remembers which key that was: the
// handler refuses to proceed if the alias moved in between. It returns
// that key.
func authAliasChange(a *access, ctx context.Context, name string) (*keyEntry, error) {
	t := a.r.tenant()
	ak := aliasKey{t.account, t.region, name}
	al, err := a.s.aliasNow(ctx, ak)
	if err != nil {
		return nil, err
	}
	cur, err := a.s.keyIn(ctx, t, al.KeyID)
	if err != nil {
		return nil, err
	}
	a.alias = aliasTarget{key: ak, from: al.KeyID}
	if err := authAlias(a, ctx, name); err != nil {
		return nil, err
	}
	return cur, authAliasKey(a, ctx, cur)
}

// errAliasMoved answers an alias change that lost a race with another:
// what was authorized is no longer what would be changed.
var errAliasMoved = apierr.New(apierr.Conflict, "The alias changed while this request was authorized. Retry the request.")

// authUpdateAlias authorizes kms:UpdateAlias on the alias, on the key it
// points to, and on the key it is to point to (KMS Developer Guide,
// "Controlling access to aliases").
func authUpdateAlias(a *access, ctx context.Context, in *awsproto.AliasInput) error {
	dst, _, err := a.s.resolve(ctx, a.r.tenant(), *in.TargetKeyId, 0)
	if err != nil {
		return err
	}
	if _, err := authAliasChange(a, ctx, *in.AliasName); err != nil {
		return err
	}
	a.key = dst
	return authAliasKey(a, ctx, dst)
}

func (s *Service) updateAlias(ctx context.Context, r *Request, in *awsproto.AliasInput, a *access) (any, error) {
	t := r.tenant()
	name := *in.AliasName
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	// Re-read under the lock, as CreateAlias does.
	dst, err := s.reload(ctx, a.key)
	if err != nil {
		return nil, err
	}
	al, err := s.aliasNow(ctx, a.alias.key)
	if err != nil {
		return nil, err
	}
	if al.KeyID != a.alias.from {
		return nil, errAliasMoved
	}
	if err := notPendingDeletion(dst.arn, &dst.meta); err != nil {
		return nil, err
	}
	if cur, err := s.entry(ctx, al.KeyID); err == nil {
		if cur.meta.KeySpec != dst.meta.KeySpec || cur.meta.KeyUsage != dst.meta.KeyUsage {
			return nil, apierr.New(apierr.Validation, "%s must have the same key spec and key usage as the current target of %s (%s, %s).",
				dst.arn, name, cur.meta.KeySpec, cur.meta.KeyUsage)
		}
	}
	if al.KeyID != dst.meta.ID {
		// Moving an alias onto a key counts against that key's quota.
		existing, err := s.store.ListAliases(ctx, t.account, t.region, dst.meta.ID, "", maxAliasesPerKey+1)
		if err != nil {
			return nil, apierr.Internal(fmt.Errorf("count aliases of key %s: %w", dst.meta.ID, err))
		}
		if len(existing) >= maxAliasesPerKey {
			return nil, apierr.New(apierr.LimitExceeded, "The number of aliases for %s exceeds the limit of %d.", dst.arn, maxAliasesPerKey)
		}
	}
	old := al.KeyID
	al.KeyID = dst.meta.ID
	al.UpdatedAt = s.now()
	if err := s.store.UpdateAlias(ctx, al); err != nil {
		return nil, apierr.Internal(fmt.Errorf("update alias %s: %w", name, err))
	}
	s.setAlias(a.alias.key, dst.meta.ID, old, dst.meta.ID)
	return nil, nil
}

func checkDeleteAlias(in *awsproto.AliasInput) error {
	var v validator
	checkAliasName(&v, in.AliasName)
	if err := v.err(); err != nil {
		return err
	}
	if !strings.HasPrefix(*in.AliasName, aliasPrefix) {
		return apierr.New(apierr.Validation, `Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html`)
	}
	return nil
}

// authDeleteAlias authorizes kms:DeleteAlias on the alias and on its key.
func authDeleteAlias(a *access, ctx context.Context, in *awsproto.AliasInput) error {
	cur, err := authAliasChange(a, ctx, *in.AliasName)
	if err != nil {
		return err
	}
	a.key = cur // the key the alias leaves, for the event's responseElements
	return nil
}

func (s *Service) deleteAlias(ctx context.Context, r *Request, in *awsproto.AliasInput, a *access) (any, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	al, err := s.aliasNow(ctx, a.alias.key)
	if err != nil {
		return nil, err
	}
	if al.KeyID != a.alias.from {
		return nil, errAliasMoved
	}
	err = s.store.DeleteAlias(ctx, al.Account, al.Region, al.Name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, apierr.New(apierr.NotFound, "Alias %s is not found.", aliasARN(al.Region, al.Account, al.Name))
	}
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("delete alias %s: %w", al.Name, err))
	}
	s.setAlias(a.alias.key, "", al.KeyID)
	return nil, nil
}

func checkListAliases(in *awsproto.ListAliasesInput) error {
	var v validator
	v.length("keyId", in.KeyId, 1, 2048)
	if err := v.err(); err != nil {
		return err
	}
	_, _, err := aliasPages.params(in.Limit, in.Marker)
	return err
}

// authListAliases is an identity-policy decision; a KeyId filter must name
// a key of the caller's account (ListAliases is not a cross-account
// operation).
func authListAliases(a *access, ctx context.Context, in *awsproto.ListAliasesInput) error {
	a.begin(a.action, "*")
	if err := a.decideIdentity(ctx); err != nil {
		return err
	}
	if in.KeyId == nil {
		return nil
	}
	e, _, err := a.s.resolve(ctx, a.r.tenant(), *in.KeyId, 0)
	if err != nil {
		return err
	}
	if e.meta.Account != a.r.Caller.Principal.Account {
		return keyNotFound(e.arn)
	}
	a.key = e
	return nil
}

func (s *Service) listAliases(ctx context.Context, r *Request, in *awsproto.ListAliasesInput, a *access) (any, error) {
	limit, after, err := aliasPages.params(in.Limit, in.Marker)
	if err != nil {
		return nil, err
	}
	keyID := ""
	if a.key != nil {
		keyID = a.key.meta.ID
	}
	t := r.tenant()
	as, err := s.store.ListAliases(ctx, t.account, t.region, keyID, after, limit+1)
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("list aliases: %w", err))
	}
	out := &awsproto.ListAliasesOutput{Aliases: []awsproto.AliasListEntry{}}
	for i, al := range as {
		if i == limit {
			out.Truncated = true
			out.NextMarker = encodeMarker("aliases", as[i-1].Name)
			break
		}
		out.Aliases = append(out.Aliases, awsproto.AliasListEntry{
			AliasName: al.Name, AliasArn: aliasARN(t.region, t.account, al.Name), TargetKeyId: wireKeyID(al.KeyID),
			CreationDate: awsproto.Time(al.CreatedAt), LastUpdatedDate: awsproto.Time(al.UpdatedAt),
		})
	}
	return out, nil
}
