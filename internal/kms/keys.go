package kms

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsproto"
	"github.com/trent-kms/trent/internal/keys"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/store"
)

const (
	maxTagsPerKey          = 50
	defaultPendingWindow   = 30
	defaultRotationPeriod  = 365
	maxOnDemandRotations   = 25
	defaultPolicyName      = "default"
	keyManagerCustomer     = "CUSTOMER"
	keyMaterialCurrent     = "CURRENT"
	keyMaterialNonCurrent  = "NON_CURRENT"
	rotationTypeAutomatic  = "AUTOMATIC"
	rotationTypeOnDemand   = "ON_DEMAND"
	includeAllKeyMaterial  = "ALL_KEY_MATERIAL"
	ignoreCiphertext       = "IGNORE_CIPHERTEXT"
	dryRunMessage          = "The request would have succeeded, but the DryRun option is set."
	incorrectKeyMessage    = "The key ID in the request does not identify a CMK that can perform this operation."
	unsupportedSpecMessage = "Trent does not support KeySpec %s: Go has no well-kept SM2 implementation."
)

// metadata is the key's KeyMetadata as DescribeKey answers it, with the
// members that depend on its being multi-Region (multiRegionMetadata,
// which reads the store for those).
func (s *Service) metadata(ctx context.Context, e *keyEntry) (*awsproto.KeyMetadata, error) {
	k := e.meta
	algs := algorithmsFor(k.KeySpec, k.KeyUsage)
	md := &awsproto.KeyMetadata{
		AWSAccountId:           k.Account,
		KeyId:                  wireKeyID(k.ID),
		Arn:                    e.arn,
		CreationDate:           awsproto.Time(k.CreatedAt),
		Enabled:                k.State == StateEnabled,
		Description:            k.Description,
		KeyUsage:               k.KeyUsage,
		KeyState:               k.State,
		Origin:                 k.Origin,
		KeyManager:             keyManagerCustomer,
		CustomerMasterKeySpec:  k.KeySpec,
		KeySpec:                k.KeySpec,
		EncryptionAlgorithms:   algs.encryption,
		SigningAlgorithms:      algs.signing,
		MacAlgorithms:          algs.mac,
		KeyAgreementAlgorithms: algs.keyAgreement,
	}
	if k.State == StatePendingDeletion {
		md.DeletionDate = awsproto.Time(k.DeletionDate)
	}
	md.CurrentKeyMaterialId = e.materialID(e.current)
	md.EncapsulationAlgorithms = algs.encapsulation
	if k.Origin == OriginExternal {
		importedMetadata(e, md) // import.go
	}
	if err := s.multiRegionMetadata(ctx, md, e); err != nil {
		return nil, err
	}
	return md, nil
}

// newVersion makes fresh backing key material, wrapped under the root key.
// It returns the plaintext material too, for the cache.
func (s *Service) newVersion(arn, id, spec string, version uint32, rotationType string) (store.KeyVersion, []byte, error) {
	material, err := newMaterial(spec)
	if err != nil {
		return store.KeyVersion{}, nil, fmt.Errorf("generate material for key %s: %w", id, err)
	}
	materialID, err := keys.NewMaterialID()
	if err != nil {
		return store.KeyVersion{}, nil, fmt.Errorf("generate material id for key %s: %w", id, err)
	}
	wrapped, err := s.root.Wrap(material, wrapAAD(arn, version))
	if err != nil {
		return store.KeyVersion{}, nil, fmt.Errorf("wrap key %s: %w", id, err)
	}
	return store.KeyVersion{
		KeyID: id, Version: version, MaterialID: materialID, Wrapped: wrapped,
		CreatedAt: s.now(), RotationType: rotationType,
	}, material, nil
}

func checkCreateKey(in *awsproto.CreateKeyInput) error {
	var v validator
	v.length("policy", in.Policy, 1, 131072)
	v.pattern("policy", in.Policy, `[\u0009\u000A\u000D\u0020-\u00FF]+`, policyChars)
	v.length("description", in.Description, 0, 8192)
	v.enum("keyUsage", in.KeyUsage, keyUsages)
	v.enum("customerMasterKeySpec", in.CustomerMasterKeySpec, keySpecs)
	v.enum("keySpec", in.KeySpec, keySpecs)
	v.enum("origin", in.Origin, origins)
	v.length("customKeyStoreId", in.CustomKeyStoreId, 1, 64)
	v.length("xksKeyId", in.XksKeyId, 1, 128)
	v.tags("tags", in.Tags)
	if err := v.err(); err != nil {
		return err
	}
	if in.KeySpec != nil && in.CustomerMasterKeySpec != nil {
		return apierr.New(apierr.Validation, "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.")
	}
	spec, usage := createKeySpec(in)
	if in.KeyUsage == nil && spec != SpecSymmetric {
		return apierr.New(apierr.Validation, "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.")
	}
	if spec == specSM2 {
		return apierr.New(apierr.UnsupportedOperation, unsupportedSpecMessage, spec)
	}
	if !slices.Contains(keyUsagesFor(spec), usage) {
		return apierr.New(apierr.Validation, "KeyUsage %s is not compatible with KeySpec %s", usage, spec)
	}
	if in.Origin != nil && *in.Origin != OriginAWSKMS && *in.Origin != OriginExternal {
		return apierr.New(apierr.UnsupportedOperation, "Trent does not support Origin %s yet.", *in.Origin)
	}
	if in.CustomKeyStoreId != nil {
		return apierr.New("CustomKeyStoreNotFoundException", "Custom key store %s does not exist.", *in.CustomKeyStoreId)
	}
	if in.XksKeyId != nil {
		return apierr.New(apierr.Validation, "XksKeyId can be specified only for keys in an external key store.")
	}
	return checkMultiRegionCreate(in)
}

// createKeySpec is the key spec and usage a CreateKey request asks for,
// with AWS's defaults.
func createKeySpec(in *awsproto.CreateKeyInput) (spec, usage string) {
	spec, usage = SpecSymmetric, UsageEncryptDecrypt
	switch {
	case in.KeySpec != nil:
		spec = *in.KeySpec
	case in.CustomerMasterKeySpec != nil:
		spec = *in.CustomerMasterKeySpec
	}
	if in.KeyUsage != nil {
		usage = *in.KeyUsage
	}
	return spec, usage
}

// condCreateKey sets CreateKey's condition keys: the key's properties as
// requested, with their defaults, and the request's tags.
func condCreateKey(a *access, in *awsproto.CreateKeyInput) {
	spec, usage := createKeySpec(in)
	a.set(condKeySpec, spec)
	a.set(condCMKSpec, spec)
	a.set(condKeyUsage, usage)
	a.set(condCMKUsage, usage)
	a.setOr(condKeyOrigin, in.Origin, OriginAWSKMS)
	a.set(condMultiRegion, boolString(in.MultiRegion))
	a.set(condBypassLockout, boolString(in.BypassPolicyLockoutSafetyCheck))
	a.requestTags(in.Tags)
}

func (s *Service) createKey(ctx context.Context, r *Request, in *awsproto.CreateKeyInput, a *access) (any, error) {
	spec, usage := createKeySpec(in)
	if err := s.checkFIPS("KeySpec", spec); err != nil {
		return nil, err
	}
	tags, err := checkTags(nil, in.Tags)
	if err != nil {
		return nil, err
	}
	t := r.tenant()
	id := s.newID()
	if in.MultiRegion {
		mrk, err := newMRKID()
		if err != nil {
			return nil, apierr.Internal(err)
		}
		id = mrkStoreID(mrk, t.region)
	}
	arn := keyARN(t.region, t.account, id)
	k := store.Key{
		ID: id, Account: t.account, Region: t.region,
		KeySpec: spec, KeyUsage: usage, Origin: OriginAWSKMS, State: StateEnabled,
		Policy: policy.Default(t.account), CurrentVersion: 1, Tags: tags,
	}
	if in.MultiRegion {
		k.MultiRegionKey, k.PrimaryRegion = wireKeyID(id), t.region
	}
	if in.Description != nil {
		k.Description = *in.Description
	}
	if in.Policy != nil {
		k.Policy = *in.Policy
		if err := s.checkNewPolicy(ctx, a, &keyEntry{meta: k, arn: arn}, in.BypassPolicyLockoutSafetyCheck); err != nil {
			return nil, err
		}
	}
	k.CreatedAt = s.now()
	if in.Origin != nil && *in.Origin == OriginExternal {
		return s.createKeyWithoutMaterial(ctx, k, arn) // import.go
	}
	first, material, err := s.newVersion(arn, id, spec, 1, "")
	if err != nil {
		return nil, apierr.Internal(err)
	}
	if isMultiRegion(&k) {
		// A multi-Region primary writes its set's shared row too: it stays
		// serialised with the other multi-Region writers. A key of one
		// Region takes no writeMu, so that concurrent creations share the
		// store's group commit (service.go, writeMu).
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
	}
	if err := s.storeNewKey(ctx, k, first); err != nil {
		return nil, apierr.Internal(fmt.Errorf("create key %s: %w", id, err))
	}
	k.Revision = 1
	shareStrings(&k) // the cached copy keeps one default policy text for all keys
	b, err := newBacking(spec, 1, first.MaterialID, material, first.CreatedAt, "")
	if err != nil {
		return nil, apierr.Internal(err)
	}
	e := &keyEntry{meta: k, arn: arn, versions: map[uint32]*backing{1: b}, current: b}
	e.prepare(nil)
	s.publish(e)
	md, err := s.metadata(ctx, e)
	if err != nil {
		return nil, err
	}
	return &awsproto.KeyMetadataOutput{KeyMetadata: md}, nil
}

func checkDescribeKey(in *awsproto.DescribeKeyInput) error {
	var v validator
	v.keyID("keyId", in.KeyId)
	v.grantTokens(in.GrantTokens)
	return v.err()
}

func (s *Service) describeKey(ctx context.Context, r *Request, in *awsproto.DescribeKeyInput, a *access) (any, error) {
	md, err := s.metadata(ctx, a.key)
	if err != nil {
		return nil, err
	}
	return &awsproto.KeyMetadataOutput{KeyMetadata: md}, nil
}

func checkListKeys(in *awsproto.ListInput) error {
	_, _, err := keyPages.params(in.Limit, in.Marker)
	return err
}

func (s *Service) listKeys(ctx context.Context, r *Request, in *awsproto.ListInput, a *access) (any, error) {
	limit, after, err := keyPages.params(in.Limit, in.Marker)
	if err != nil {
		return nil, err
	}
	t := r.tenant()
	ks, err := s.store.ListKeys(ctx, t.account, t.region, after, limit+1)
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("list keys: %w", err))
	}
	out := &awsproto.ListKeysOutput{Keys: []awsproto.KeyListEntry{}}
	for i, k := range ks {
		if i == limit {
			out.Truncated = true
			out.NextMarker = encodeMarker("keys", ks[i-1].ID)
			break
		}
		out.Keys = append(out.Keys, awsproto.KeyListEntry{KeyId: wireKeyID(k.ID), KeyArn: keyARN(k.Region, k.Account, k.ID)})
	}
	return out, nil
}

func checkUpdateKeyDescription(in *awsproto.UpdateKeyDescriptionInput) error {
	var v validator
	v.keyID("keyId", in.KeyId)
	if v.requiredString("description", in.Description) {
		v.length("description", in.Description, 0, 8192)
	}
	return v.err()
}

func (s *Service) updateKeyDescription(ctx context.Context, r *Request, in *awsproto.UpdateKeyDescriptionInput, a *access) (any, error) {
	e := a.key
	_, err := s.update(ctx, e, func(k *store.Key) error {
		if err := notPendingDeletion(e.arn, k); err != nil {
			return err
		}
		k.Description = *in.Description
		return nil
	})
	return nil, err
}

// checkKeyIDOnly validates the KeyId of an operation that takes nothing else.
func checkKeyIDOnly(in *awsproto.KeyIdInput) error {
	var v validator
	v.keyID("keyId", in.KeyId)
	return v.err()
}

func (s *Service) enableKey(ctx context.Context, r *Request, in *awsproto.KeyIdInput, a *access) (any, error) {
	return s.setEnabled(ctx, a.key, StateEnabled)
}

func (s *Service) disableKey(ctx context.Context, r *Request, in *awsproto.KeyIdInput, a *access) (any, error) {
	return s.setEnabled(ctx, a.key, StateDisabled)
}

func (s *Service) setEnabled(ctx context.Context, e *keyEntry, state string) (any, error) {
	_, err := s.update(ctx, e, func(k *store.Key) error {
		if err := notPendingDeletion(e.arn, k); err != nil {
			return err
		}
		if k.State == StatePendingImport {
			return apierr.New(apierr.KMSInvalidState, "%s is pending import.", e.arn)
		}
		k.State = state
		return nil
	})
	return nil, err
}

func checkScheduleKeyDeletion(in *awsproto.ScheduleKeyDeletionInput) error {
	var v validator
	v.keyID("keyId", in.KeyId)
	v.intRange("pendingWindowInDays", in.PendingWindowInDays, 7, 30)
	return v.err()
}

func (s *Service) scheduleKeyDeletion(ctx context.Context, r *Request, in *awsproto.ScheduleKeyDeletionInput, a *access) (any, error) {
	days := int32(defaultPendingWindow)
	if in.PendingWindowInDays != nil {
		days = *in.PendingWindowInDays
	}
	e := a.key
	e, err := s.update(ctx, e, func(k *store.Key) error {
		if err := notPendingDeletion(e.arn, k); err != nil {
			return err
		}
		state, err := s.deletionState(ctx, k)
		if err != nil {
			return err
		}
		k.State = state
		k.PendingWindowDays = int(days)
		k.DeletionDate = s.now().Add(daysOf(int(days)))
		if state == StatePendingReplicaDeletion {
			k.DeletionDate = time.Time{} // set when the last replica is deleted
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &awsproto.ScheduleKeyDeletionOutput{
		KeyId: e.arn, DeletionDate: awsproto.Time(e.meta.DeletionDate),
		KeyState: e.meta.State, PendingWindowInDays: days,
	}, nil
}

func (s *Service) cancelKeyDeletion(ctx context.Context, r *Request, in *awsproto.KeyIdInput, a *access) (any, error) {
	e := a.key
	e, err := s.updateEntry(ctx, e, func(cur *keyEntry, k *store.Key) error {
		if k.State != StatePendingDeletion && k.State != StatePendingReplicaDeletion {
			return apierr.New(apierr.KMSInvalidState, "%s is not pending deletion.", e.arn)
		}
		// AWS leaves a key whose deletion was cancelled disabled, or
		// pending import if it has no key material.
		k.State = StateDisabled
		if k.Origin == OriginExternal && !hasAllMaterial(cur, k) {
			k.State = StatePendingImport
		}
		k.DeletionDate = time.Time{}
		k.PendingWindowDays = 0
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &awsproto.KeyIdOutput{KeyId: e.arn}, nil
}

// tags validates the Tags member as AWS's model does. A list longer than a
// key can hold is left to checkTags, which refuses it as AWS does ("Too
// many tags"), and its elements are not looked at.
func (v *validator) tags(member string, tags []awsproto.Tag) {
	if len(tags) > maxTagsPerKey {
		return
	}
	for i, t := range tags {
		prefix := fmt.Sprintf("%s.%d.member.", member, i+1)
		if v.requiredString(prefix+"tagKey", t.TagKey) {
			v.length(prefix+"tagKey", t.TagKey, 1, 128)
		}
		if v.requiredString(prefix+"tagValue", t.TagValue) {
			v.length(prefix+"tagValue", t.TagValue, 0, 256)
		}
	}
}

// checkTags merges add into existing under AWS's tag rules and returns the
// new tag set: later values replace earlier ones with the same key. add has
// passed validator.tags: if it is no longer than a key can hold, every tag
// has a key and a value.
func checkTags(existing []store.Tag, add []awsproto.Tag) ([]store.Tag, error) {
	if len(add) > maxTagsPerKey {
		// Too many whatever else is wrong with them; checked first, as
		// their elements were not validated.
		return nil, apierr.New(apierr.Tag, "Too many tags")
	}
	seen := make(map[string]bool, len(add))
	for _, t := range add {
		// AWS reserves the prefix in any case: "AWS:key1" is refused too.
		if len(*t.TagKey) >= 4 && strings.EqualFold((*t.TagKey)[:4], "aws:") {
			return nil, apierr.New(apierr.Tag, "Tags beginning with aws: are reserved")
		}
		if seen[*t.TagKey] {
			return nil, apierr.New(apierr.Tag, "Duplicate tag keys")
		}
		seen[*t.TagKey] = true
	}
	out := make([]store.Tag, 0, len(existing)+len(add))
	for _, t := range existing {
		if !seen[t.Key] {
			out = append(out, t)
		}
	}
	for _, t := range add {
		out = append(out, store.Tag{Key: *t.TagKey, Value: *t.TagValue})
	}
	if len(out) > maxTagsPerKey {
		return nil, apierr.New(apierr.Tag, "Too many tags")
	}
	return out, nil
}
