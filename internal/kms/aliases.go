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

func (s *Service) CreateAlias(ctx context.Context, r *Request, in *awsproto.AliasInput) (any, error) {
	var v validator
	checkAliasName(&v, in.AliasName)
	v.keyID("targetKeyId", in.TargetKeyId)
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := aliasNameRules(*in.AliasName); err != nil {
		return nil, err
	}
	e, err := s.resolve(ctx, *in.TargetKeyId, false)
	if err != nil {
		return nil, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	// The state rule on the key as it is under the lock: it may have been
	// scheduled for deletion since it was resolved.
	if e, err = s.entry(ctx, e.meta.ID); err != nil {
		return nil, err
	}
	if err := notPendingDeletion(e.arn, &e.meta); err != nil {
		return nil, err
	}
	existing, err := s.store.ListAliases(ctx, s.account, s.region, e.meta.ID, "", maxAliasesPerKey+1)
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("count aliases of key %s: %w", e.meta.ID, err))
	}
	if len(existing) >= maxAliasesPerKey {
		return nil, apierr.New(apierr.LimitExceeded, "The number of aliases for %s exceeds the limit of %d.", e.arn, maxAliasesPerKey)
	}
	now := s.now()
	err = s.store.CreateAlias(ctx, store.Alias{Account: s.account, Region: s.region, Name: *in.AliasName, KeyID: e.meta.ID, CreatedAt: now, UpdatedAt: now})
	if errors.Is(err, store.ErrExists) {
		return nil, apierr.New(apierr.AlreadyExists, "An alias with the name %s already exists", s.aliasARN(*in.AliasName))
	}
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("create alias %s: %w", *in.AliasName, err))
	}
	s.setAlias(*in.AliasName, e.meta.ID)
	return nil, nil
}

func (s *Service) UpdateAlias(ctx context.Context, r *Request, in *awsproto.AliasInput) (any, error) {
	var v validator
	checkAliasName(&v, in.AliasName)
	v.keyID("targetKeyId", in.TargetKeyId)
	if err := v.err(); err != nil {
		return nil, err
	}
	name := *in.AliasName
	if err := aliasNameRules(name); err != nil {
		return nil, err
	}
	dst, err := s.resolve(ctx, *in.TargetKeyId, false)
	if err != nil {
		return nil, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	// Re-read under the lock, as CreateAlias does.
	if dst, err = s.entry(ctx, dst.meta.ID); err != nil {
		return nil, err
	}
	a, err := s.store.GetAlias(ctx, s.account, s.region, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, apierr.New(apierr.NotFound, "Alias %s is not found.", s.aliasARN(name))
	}
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("load alias %s: %w", name, err))
	}
	if err := notPendingDeletion(dst.arn, &dst.meta); err != nil {
		return nil, err
	}
	if cur, err := s.entry(ctx, a.KeyID); err == nil {
		if cur.meta.KeySpec != dst.meta.KeySpec || cur.meta.KeyUsage != dst.meta.KeyUsage {
			return nil, apierr.New(apierr.Validation, "%s must have the same key spec and key usage as the current target of %s (%s, %s).",
				dst.arn, name, cur.meta.KeySpec, cur.meta.KeyUsage)
		}
	}
	if a.KeyID != dst.meta.ID {
		// Moving an alias onto a key counts against that key's quota.
		existing, err := s.store.ListAliases(ctx, s.account, s.region, dst.meta.ID, "", maxAliasesPerKey+1)
		if err != nil {
			return nil, apierr.Internal(fmt.Errorf("count aliases of key %s: %w", dst.meta.ID, err))
		}
		if len(existing) >= maxAliasesPerKey {
			return nil, apierr.New(apierr.LimitExceeded, "The number of aliases for %s exceeds the limit of %d.", dst.arn, maxAliasesPerKey)
		}
	}
	a.KeyID = dst.meta.ID
	a.UpdatedAt = s.now()
	if err := s.store.UpdateAlias(ctx, a); err != nil {
		return nil, apierr.Internal(fmt.Errorf("update alias %s: %w", name, err))
	}
	s.setAlias(name, dst.meta.ID)
	return nil, nil
}

func (s *Service) DeleteAlias(ctx context.Context, r *Request, in *awsproto.AliasInput) (any, error) {
	var v validator
	checkAliasName(&v, in.AliasName)
	if err := v.err(); err != nil {
		return nil, err
	}
	name := *in.AliasName
	if !strings.HasPrefix(name, aliasPrefix) {
		return nil, apierr.New(apierr.Validation, `Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html`)
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	err := s.store.DeleteAlias(ctx, s.account, s.region, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, apierr.New(apierr.NotFound, "Alias %s is not found.", s.aliasARN(name))
	}
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("delete alias %s: %w", name, err))
	}
	s.setAlias(name, "")
	return nil, nil
}

func (s *Service) ListAliases(ctx context.Context, r *Request, in *awsproto.ListAliasesInput) (any, error) {
	var v validator
	v.length("keyId", in.KeyId, 1, 2048)
	if err := v.err(); err != nil {
		return nil, err
	}
	limit, after, err := pageParams(in.Limit, in.Marker, 100, 50, "aliases")
	if err != nil {
		return nil, err
	}
	keyID := ""
	if in.KeyId != nil {
		e, err := s.resolve(ctx, *in.KeyId, false)
		if err != nil {
			return nil, err
		}
		keyID = e.meta.ID
	}
	as, err := s.store.ListAliases(ctx, s.account, s.region, keyID, after, limit+1)
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("list aliases: %w", err))
	}
	out := &awsproto.ListAliasesOutput{Aliases: []awsproto.AliasListEntry{}}
	for i, a := range as {
		if i == limit {
			out.Truncated = true
			out.NextMarker = encodeMarker("aliases", as[i-1].Name)
			break
		}
		out.Aliases = append(out.Aliases, awsproto.AliasListEntry{
			AliasName: a.Name, AliasArn: s.aliasARN(a.Name), TargetKeyId: a.KeyID,
			CreationDate: awsproto.Time(a.CreatedAt), LastUpdatedDate: awsproto.Time(a.UpdatedAt),
		})
	}
	return out, nil
}
