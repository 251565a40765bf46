package kms

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsproto"
	"github.com/trent-kms/trent/internal/keys"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/store"
)

// Multi-Region keys. A multi-Region key is a set of keys in different
// regions of one account — a primary and its replicas — that share a key
// id ("mrk-" and 32 hex digits), key spec, usage, origin, key material and
// automatic rotation, and have their own ARN (it names the region), policy,
// aliases, tags, description, grants and key state, as on AWS.
//
// Each member is a key of its own in the store (its own row, tags and
// versions). Its store id is the shared id and its region, "mrk-…/us-east-1"
// (mrkStoreID), so the id a client sends is resolved in the request's region
// and the rest of kms — the caches, grants, aliases — keeps speaking of one
// key per id. What a client sees is always the shared id (wireKeyID): in
// KeyMetadata, in ARNs (keyARN), in ciphertext blobs (format 2, which is
// what lets a blob made in one region decrypt in another) and in grant
// tokens.
//
// Material: every member holds its own copy of every version, wrapped
// under the root key for its own ARN and version. ReplicateKey copies the
// primary's versions; rotation (automatic or on demand, on the primary
// only) makes one new material and adds it to every member in one store
// transaction, so the members always have the same versions; deleting a
// member removes only its own copies. Rotation settings live on the
// primary's row only (so the job runner rotates a multi-Region key once);
// a replica reports its primary's (GetKeyRotationStatus) and
// UpdatePrimaryRegion moves them to the new primary.
//
// Deletion: a primary with replicas is scheduled as PendingReplicaDeletion,
// without a deletion date; when its last replica is deleted it becomes
// PendingDeletion with the waiting period it was given, as AWS documents.
//
// Trent replicates synchronously: the replica is Enabled when ReplicateKey
// answers, though the answer reports it as Creating, as AWS's does (a
// client that waits for Enabled finds it at once). Likewise
// UpdatePrimaryRegion completes before it answers, so the Updating state is
// never seen.

const (
	mrkPrefix = "mrk-"

	StatePendingReplicaDeletion = "PendingReplicaDeletion"
	StateCreating               = "Creating"

	mrkTypePrimary = "PRIMARY"
	mrkTypeReplica = "REPLICA"

	condMultiRegionKeyType = "kms:multiregionkeytype"
	condReplicaRegion      = "kms:replicaregion"
	condPrimaryRegion      = "kms:primaryregion"

	// notPrimaryMessage is AWS's, recorded for ReplicateKey on a replica.
	notPrimaryMessage = "%s is not a multi-region primary key."
)

// regionPattern is the API model's pattern of ReplicaRegion and
// PrimaryRegion.
var regionPattern = regexp.MustCompile(`^([a-z]+-){2,3}\d+$`)

// isMRKID reports whether id is a multi-Region key id in canonical form.
func isMRKID(id string) bool {
	if len(id) != len(mrkPrefix)+32 || !strings.HasPrefix(id, mrkPrefix) {
		return false
	}
	for i := len(mrkPrefix); i < len(id); i++ {
		if c := id[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// mrkStoreID is the store id of the member of multi-Region key mrk in
// region.
func mrkStoreID(mrk, region string) string { return mrk + "/" + region }

// wireKeyID is the KeyId a client sees for the key stored as id.
func wireKeyID(id string) string {
	if strings.HasPrefix(id, mrkPrefix) {
		if i := strings.IndexByte(id, '/'); i >= 0 {
			return id[:i]
		}
	}
	return id
}

// storeIDIn is the store id of the key a client calls id in region.
func storeIDIn(id, region string) string {
	if isMRKID(id) {
		return mrkStoreID(id, region)
	}
	return id
}

// newMRKID makes the id of a new multi-Region key.
func newMRKID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("multi-Region key id: %w", err)
	}
	return mrkPrefix + hex.EncodeToString(b[:]), nil
}

func isMultiRegion(k *store.Key) bool { return k.MultiRegionKey != "" }

func isPrimary(k *store.Key) bool { return k.MultiRegionKey != "" && k.PrimaryRegion == k.Region }

// mrkType is the key's kms:MultiRegionKeyType and MultiRegionKeyType.
func mrkType(k *store.Key) string {
	if isPrimary(k) {
		return mrkTypePrimary
	}
	return mrkTypeReplica
}

// checkMultiRegionCreate refuses the multi-Region keys Trent cannot make:
// those of an origin other than AWS_KMS and EXTERNAL (a custom key store's).
func checkMultiRegionCreate(in *awsproto.CreateKeyInput) error {
	if in.MultiRegion && in.Origin != nil && *in.Origin != OriginAWSKMS && *in.Origin != OriginExternal {
		return apierr.New(apierr.UnsupportedOperation, "Trent does not make multi-Region keys with Origin %s.", *in.Origin)
	}
	return nil
}

// storeNewKey stores a key CreateKey made: a multi-Region primary with its
// membership, any other key as before.
func (s *Service) storeNewKey(ctx context.Context, k store.Key, first store.KeyVersion) error {
	if isMultiRegion(&k) {
		return s.store.CreateMultiRegionKey(ctx, k, []store.KeyVersion{first})
	}
	return s.store.CreateKey(ctx, k, first)
}

// multiRegionMetadata fills the members of md that depend on the key being
// multi-Region: the shared KeyId, MultiRegion, the waiting period of a
// primary pending replica deletion, and MultiRegionConfiguration, read from
// the store so that every member's DescribeKey lists the current members.
func (s *Service) multiRegionMetadata(ctx context.Context, md *awsproto.KeyMetadata, e *keyEntry) error {
	k := &e.meta
	md.KeyId = wireKeyID(k.ID)
	if !isMultiRegion(k) {
		return nil
	}
	md.MultiRegion = true
	if k.State == StatePendingReplicaDeletion {
		w := int32(k.PendingWindowDays)
		md.PendingDeletionWindowInDays = &w
	}
	members, err := s.store.MultiRegionMembers(ctx, k.MultiRegionKey)
	if err != nil {
		return apierr.Internal(fmt.Errorf("members of %s: %w", k.MultiRegionKey, err))
	}
	primary := k.PrimaryRegion
	if len(members) > 0 {
		primary = members[0].PrimaryRegion // the store's, never older than the cache's
	}
	cfg := &awsproto.MultiRegionConfiguration{
		MultiRegionKeyType: mrkTypeReplica,
		PrimaryKey:         &awsproto.MultiRegionKey{Arn: keyARN(primary, k.Account, k.MultiRegionKey), Region: primary},
		ReplicaKeys:        []awsproto.MultiRegionKey{},
	}
	if primary == k.Region {
		cfg.MultiRegionKeyType = mrkTypePrimary
	}
	for _, m := range members {
		if m.Region != primary {
			cfg.ReplicaKeys = append(cfg.ReplicaKeys, awsproto.MultiRegionKey{Arn: keyARN(m.Region, m.Account, m.MultiRegionKey), Region: m.Region})
		}
	}
	md.MultiRegionConfiguration = cfg
	return nil
}

// refusePendingReplicaDeletion is the key-state rule for a primary waiting
// for its replicas to be deleted, wherever AWS refuses a key pending
// deletion. The wording is Trent's: AWS documents the two states together.
func refusePendingReplicaDeletion(arn string, k *store.Key) error {
	if k.State == StatePendingReplicaDeletion {
		return apierr.New(apierr.KMSInvalidState, "%s is pending replica deletion.", arn)
	}
	return nil
}

// replicaRotation refuses the rotation operations on a replica: automatic
// rotation is a shared property set on the primary, and on-demand rotation
// rotates the primary and its replicas together.
func replicaRotation(arn string, k *store.Key) error {
	if isMultiRegion(k) && !isPrimary(k) {
		return apierr.New(apierr.UnsupportedOperation, notPrimaryMessage, arn)
	}
	return nil
}

// rotationSource is the key whose rotation settings e reports: e itself,
// or the primary of a replica (read afresh, as the primary may have
// changed them since).
func (s *Service) rotationSource(ctx context.Context, e *keyEntry) (*keyEntry, error) {
	if !isMultiRegion(&e.meta) || isPrimary(&e.meta) {
		return e, nil
	}
	members, err := s.store.MultiRegionMembers(ctx, e.meta.MultiRegionKey)
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("members of %s: %w", e.meta.MultiRegionKey, err))
	}
	for _, m := range members {
		if isPrimary(&m) {
			return &keyEntry{meta: m, arn: keyARN(m.Region, m.Account, m.ID)}, nil
		}
	}
	return e, nil // the primary is gone (deleted): the replica has no rotation
}

// deletionState is the state ScheduleKeyDeletion moves k to: a primary
// that still has replicas waits for them (PendingReplicaDeletion). The
// caller holds writeMu, which ReplicateKey holds too, so no replica can
// appear between the count and the write.
func (s *Service) deletionState(ctx context.Context, k *store.Key) (string, error) {
	if !isPrimary(k) {
		return StatePendingDeletion, nil
	}
	members, err := s.store.MultiRegionMembers(ctx, k.MultiRegionKey)
	if err != nil {
		return "", apierr.Internal(fmt.Errorf("members of %s: %w", k.MultiRegionKey, err))
	}
	for _, m := range members {
		if m.ID != k.ID {
			return StatePendingReplicaDeletion, nil
		}
	}
	return StatePendingDeletion, nil
}

// memberDeleted runs after the job deleted key e, under writeMu: when e was
// the last replica of a primary pending replica deletion, the primary's
// waiting period starts now.
func (s *Service) memberDeleted(ctx context.Context, e *keyEntry) {
	if !isMultiRegion(&e.meta) {
		return
	}
	members, err := s.store.MultiRegionMembers(ctx, e.meta.MultiRegionKey)
	if err != nil {
		s.log.Error("multi-Region key: members not read after a deletion", "key", e.arn, "err", err)
		return
	}
	if len(members) != 1 || members[0].State != StatePendingReplicaDeletion {
		return
	}
	k := members[0]
	k.State = StatePendingDeletion
	k.DeletionDate = s.now().Add(daysOf(k.PendingWindowDays))
	stored, err := s.store.UpdateKey(ctx, k)
	if err != nil {
		s.forget(k.ID)
		s.log.Error("multi-Region key: primary not moved to PendingDeletion", "key", keyARN(k.Region, k.Account, k.ID), "err", err)
		return
	}
	s.republish(stored)
}

// republish replaces the cache entries of keys the store changed: an entry
// one revision behind gets the new metadata; any other is dropped, to be
// read again when next used.
func (s *Service) republish(ks ...store.Key) {
	for _, k := range ks {
		e, ok := s.keys.Load(k.ID)
		if !ok {
			continue
		}
		if e.meta.Revision == k.Revision-1 {
			s.publish(e.withMeta(k))
			continue
		}
		s.forget(k.ID)
	}
}

// addMultiRegionVersion is addVersion for a multi-Region key: one new
// material, added to every member as the same version in one transaction.
// cur is the rotated key (the primary) as reloaded under writeMu, which
// the caller holds, and k its metadata with the caller's changes.
func (s *Service) addMultiRegionVersion(ctx context.Context, cur *keyEntry, k store.Key, rotationType string) (*keyEntry, error) {
	members, err := s.store.MultiRegionMembers(ctx, k.MultiRegionKey)
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("members of %s: %w", k.MultiRegionKey, err))
	}
	material, err := newMaterial(k.KeySpec)
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("generate material for key %s: %w", cur.arn, err))
	}
	materialID, err := keys.NewMaterialID()
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("generate material id for key %s: %w", cur.arn, err))
	}
	version, now := k.CurrentVersion+1, s.now()
	ks := make([]store.Key, 0, len(members))
	vs := make([]store.KeyVersion, 0, len(members))
	self := -1
	for _, m := range members {
		if m.ID == k.ID {
			self = len(ks)
			m = k
		} else if m.CurrentVersion != k.CurrentVersion {
			return nil, apierr.Internal(fmt.Errorf("multi-Region key %s: member %s is at version %d, the primary at %d", k.MultiRegionKey, m.Region, m.CurrentVersion, k.CurrentVersion))
		}
		m.CurrentVersion = version
		wrapped, err := s.root.Wrap(material, wrapAAD(keyARN(m.Region, m.Account, m.ID), version))
		if err != nil {
			return nil, apierr.Internal(fmt.Errorf("wrap key %s: %w", m.ID, err))
		}
		ks = append(ks, m)
		vs = append(vs, store.KeyVersion{KeyID: m.ID, Version: version, MaterialID: materialID,
			Wrapped: wrapped, CreatedAt: now, RotationType: rotationType})
	}
	if self < 0 {
		return nil, apierr.Internal(fmt.Errorf("multi-Region key %s: %s is not among its members", k.MultiRegionKey, k.ID))
	}
	stored, err := s.store.AddKeyVersions(ctx, ks, vs)
	if err != nil {
		for _, m := range ks {
			s.forget(m.ID) // they may be stale
		}
		return nil, apierr.Internal(fmt.Errorf("rotate multi-Region key %s: %w", k.MultiRegionKey, err))
	}
	versions := make(map[uint32]*backing, len(cur.versions)+1)
	for n, b := range cur.versions {
		versions[n] = b
	}
	b, err := newBacking(k.KeySpec, version, materialID, material, now, rotationType)
	if err != nil {
		return nil, apierr.Internal(err)
	}
	versions[version] = b
	n := &keyEntry{meta: stored[self], arn: cur.arn, versions: versions, current: b}
	n.prepare(cur)
	s.publish(n)
	for i, m := range stored {
		if i != self {
			s.forget(m.ID) // read again, with the new version, when next used
		}
	}
	return n, nil
}

// ReplicateKey.

func replicateKeyID(in *awsproto.ReplicateKeyInput) *string { return in.KeyId }

func checkReplicateKey(in *awsproto.ReplicateKeyInput) error {
	var v validator
	v.keyID("keyId", in.KeyId)
	if v.requiredString("replicaRegion", in.ReplicaRegion) {
		v.length("replicaRegion", in.ReplicaRegion, 1, 32)
		v.pattern("replicaRegion", in.ReplicaRegion, regionPattern.String(), regionPattern.MatchString)
	}
	v.length("policy", in.Policy, 1, 131072)
	v.pattern("policy", in.Policy, `[\u0009\u000A\u000D\u0020-\u00FF]+`, policyChars)
	v.length("description", in.Description, 0, 8192)
	v.tags("tags", in.Tags)
	return v.err()
}

func condReplicate(a *access, in *awsproto.ReplicateKeyInput) {
	a.set(condReplicaRegion, *in.ReplicaRegion)
}

// authReplicateKey is ReplicateKey's access step, as AWS documents it:
// kms:ReplicateKey on the primary (its key policy, in its region), and
// kms:CreateKey — plus kms:TagResource when the request has tags — in the
// caller's IAM policies, in the replica's region.
func authReplicateKey(a *access, ctx context.Context, in *awsproto.ReplicateKeyInput) error {
	if err := keyAuth(keyed[awsproto.ReplicateKeyInput]{id: replicateKeyID, cond: condReplicate})(a, ctx, in); err != nil {
		return err
	}
	e, region := a.key, *in.ReplicaRegion
	a.begin("kms:CreateKey", "*")
	a.set(condRequestedRegion, region)
	a.set(condKeySpec, e.meta.KeySpec)
	a.set(condCMKSpec, e.meta.KeySpec)
	a.set(condKeyUsage, e.meta.KeyUsage)
	a.set(condCMKUsage, e.meta.KeyUsage)
	a.set(condKeyOrigin, e.meta.Origin)
	a.set(condMultiRegion, "true")
	a.set(condMultiRegionKeyType, mrkTypeReplica)
	a.set(condBypassLockout, boolString(in.BypassPolicyLockoutSafetyCheck))
	a.requestTags(in.Tags)
	if err := a.decideIdentity(ctx); err != nil {
		return err
	}
	if len(in.Tags) == 0 {
		return nil
	}
	a.begin("kms:TagResource", keyARN(region, e.meta.Account, mrkStoreID(wireKeyID(e.meta.ID), region)))
	a.set(condRequestedRegion, region)
	a.requestTags(in.Tags)
	return a.decideIdentity(ctx)
}

func (s *Service) replicateKey(ctx context.Context, r *Request, in *awsproto.ReplicateKeyInput, a *access) (any, error) {
	e, region := a.key, *in.ReplicaRegion
	if !isPrimary(&e.meta) {
		return nil, apierr.New(apierr.UnsupportedOperation, notPrimaryMessage, e.arn)
	}
	tags, err := checkTags(nil, in.Tags)
	if err != nil {
		return nil, err
	}
	mrk := e.meta.MultiRegionKey
	id := mrkStoreID(mrk, region)
	arn := keyARN(region, e.meta.Account, id)
	k := store.Key{
		ID: id, Account: e.meta.Account, Region: region,
		KeySpec: e.meta.KeySpec, KeyUsage: e.meta.KeyUsage, Origin: e.meta.Origin, State: StateEnabled,
		Policy: policy.Default(e.meta.Account), Tags: tags,
		MultiRegionKey: mrk,
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

	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	cur, err := s.reload(ctx, e)
	if err != nil {
		return nil, err
	}
	if !isPrimary(&cur.meta) { // moved by an UpdatePrimaryRegion since the access step
		return nil, apierr.New(apierr.UnsupportedOperation, notPrimaryMessage, cur.arn)
	}
	if err := replicable(cur); err != nil {
		return nil, err
	}
	members, err := s.store.MultiRegionMembers(ctx, mrk)
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("members of %s: %w", mrk, err))
	}
	for _, m := range members {
		if m.Region == region {
			return nil, apierr.New(apierr.AlreadyExists, "Multi-Region key %s already has a key in %s: %s.", mrk, region, keyARN(region, m.Account, m.ID))
		}
	}
	k.PrimaryRegion = cur.meta.PrimaryRegion
	k.CurrentVersion = cur.meta.CurrentVersion
	k.CreatedAt = s.now()
	// The replica gets its own wrapped copy of every version: the same
	// material and material ids, wrapped for its own ARN. A replica of
	// imported material gets none: as on AWS, it is PendingImport until the
	// same material is imported into it (multiregion_import.go).
	external := cur.meta.Origin == OriginExternal
	numbers := make([]uint32, 0, len(cur.versions))
	for n := range cur.versions {
		numbers = append(numbers, n)
	}
	if external {
		k.State, k.CurrentVersion, numbers = StatePendingImport, 0, nil
	}
	slices.Sort(numbers)
	versions := make([]store.KeyVersion, 0, len(numbers))
	backings := make(map[uint32]*backing, len(numbers))
	for _, n := range numbers {
		b := cur.versions[n]
		wrapped, err := s.root.Wrap(b.material, wrapAAD(arn, n))
		if err != nil {
			return nil, apierr.Internal(fmt.Errorf("wrap key %s: %w", id, err))
		}
		versions = append(versions, store.KeyVersion{KeyID: id, Version: n, MaterialID: b.materialID,
			Wrapped: wrapped, CreatedAt: b.createdAt, RotationType: b.rotationType})
		// A copy: the cache zeroes each entry's material when it drops it.
		nb, err := newBacking(k.KeySpec, n, b.materialID, bytes.Clone(b.material), b.createdAt, b.rotationType)
		if err != nil {
			return nil, apierr.Internal(err)
		}
		backings[n] = nb
	}
	err = s.store.CreateMultiRegionKey(ctx, k, versions)
	if errors.Is(err, store.ErrExists) {
		return nil, apierr.New(apierr.AlreadyExists, "Multi-Region key %s already has a key in %s: %s.", mrk, region, arn)
	}
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("replicate %s to %s: %w", mrk, region, err))
	}
	k.Revision = 1
	replica := &keyEntry{meta: k, arn: arn, versions: backings, current: backings[k.CurrentVersion]}
	if external {
		replica.imported = map[uint32]store.KeyVersion{}
	}
	replica.prepare(nil)
	s.publish(replica)

	md, err := s.metadata(ctx, replica)
	if err != nil {
		return nil, err
	}
	// As AWS answers: the replica is reported as being created.
	md.KeyState, md.Enabled, md.CurrentKeyMaterialId = StateCreating, false, ""
	out := &awsproto.ReplicateKeyOutput{ReplicaKeyMetadata: md, ReplicaPolicy: k.Policy}
	for _, t := range k.Tags {
		out.ReplicaTags = append(out.ReplicaTags, awsproto.Tag{TagKey: &t.Key, TagValue: &t.Value})
	}
	return out, nil
}

// replicable is the key-state rule of ReplicateKey and UpdatePrimaryRegion
// for the primary: Enabled only (AWS's key-state table).
func replicable(e *keyEntry) error {
	if err := refusePendingReplicaDeletion(e.arn, &e.meta); err != nil {
		return err
	}
	return enabled(e.arn, &e.meta)
}

// UpdatePrimaryRegion.

func primaryKeyID(in *awsproto.UpdatePrimaryRegionInput) *string { return in.KeyId }

func checkUpdatePrimaryRegion(in *awsproto.UpdatePrimaryRegionInput) error {
	var v validator
	v.keyID("keyId", in.KeyId)
	if v.requiredString("primaryRegion", in.PrimaryRegion) {
		v.length("primaryRegion", in.PrimaryRegion, 1, 32)
		v.pattern("primaryRegion", in.PrimaryRegion, regionPattern.String(), regionPattern.MatchString)
	}
	return v.err()
}

func condUpdatePrimary(a *access, in *awsproto.UpdatePrimaryRegionInput) {
	a.set(condPrimaryRegion, *in.PrimaryRegion)
}

// authUpdatePrimaryRegion: kms:UpdatePrimaryRegion on the current primary
// (its key policy) and on the replica in PrimaryRegion (its key policy),
// as AWS documents. The replica is left in a.src for the handler.
func authUpdatePrimaryRegion(a *access, ctx context.Context, in *awsproto.UpdatePrimaryRegionInput) error {
	if err := keyAuth(keyed[awsproto.UpdatePrimaryRegionInput]{id: primaryKeyID, cond: condUpdatePrimary})(a, ctx, in); err != nil {
		return err
	}
	e, region := a.key, *in.PrimaryRegion
	if !isPrimary(&e.meta) || region == e.meta.Region {
		return nil // the handler refuses it
	}
	replica, err := a.s.keyIn(ctx, tenant{e.meta.Account, region}, mrkStoreID(e.meta.MultiRegionKey, region))
	if err != nil {
		return err
	}
	a.src = replica
	if err := a.onKey(ctx, replica, a.action, ""); err != nil {
		return err
	}
	a.set(condPrimaryRegion, region)
	a.set(condRequestedRegion, region) // asked of the replica, in its region
	return a.decideKey(ctx, replica, grantUse{})
}

func (s *Service) updatePrimaryRegion(ctx context.Context, r *Request, in *awsproto.UpdatePrimaryRegionInput, a *access) (any, error) {
	e, region := a.key, *in.PrimaryRegion
	if !isPrimary(&e.meta) {
		return nil, apierr.New(apierr.UnsupportedOperation, notPrimaryMessage, e.arn)
	}
	if region == e.meta.Region {
		return nil, apierr.New(apierr.Validation, "%s is already the primary key of %s: the primary region is %s.", e.arn, e.meta.MultiRegionKey, region)
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	cur, err := s.reload(ctx, e)
	if err != nil {
		return nil, err
	}
	if !isPrimary(&cur.meta) {
		return nil, apierr.New(apierr.UnsupportedOperation, notPrimaryMessage, cur.arn)
	}
	if err := replicable(cur); err != nil {
		return nil, err
	}
	members, err := s.store.MultiRegionMembers(ctx, cur.meta.MultiRegionKey)
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("members of %s: %w", cur.meta.MultiRegionKey, err))
	}
	from, to := -1, -1
	for i, m := range members {
		switch m.Region {
		case cur.meta.Region:
			from = i
		case region:
			to = i
		}
	}
	if to < 0 {
		return nil, keyNotFound(keyARN(region, cur.meta.Account, cur.meta.ID))
	}
	if from < 0 {
		return nil, apierr.Internal(fmt.Errorf("multi-Region key %s: the primary is not among its members", cur.meta.MultiRegionKey))
	}
	target := &members[to]
	targetARN := keyARN(target.Region, target.Account, target.ID)
	if err := refusePendingReplicaDeletion(targetARN, target); err != nil {
		return nil, err
	}
	if err := enabled(targetARN, target); err != nil {
		return nil, err
	}
	// Automatic rotation is a property of the primary: it moves with it.
	old := &members[from]
	target.RotationEnabled, target.RotationPeriodDays, target.NextRotation = old.RotationEnabled, old.RotationPeriodDays, old.NextRotation
	target.OnDemandRotations = old.OnDemandRotations
	old.RotationEnabled, old.RotationPeriodDays, old.NextRotation, old.OnDemandRotations = false, 0, time.Time{}, 0
	for i := range members {
		members[i].PrimaryRegion = region
	}
	stored, err := s.store.UpdateKeys(ctx, members)
	if err != nil {
		for _, m := range members {
			s.forget(m.ID)
		}
		return nil, apierr.Internal(fmt.Errorf("update primary region of %s: %w", cur.meta.MultiRegionKey, err))
	}
	s.republish(stored...)
	return nil, nil
}

func init() {
	for _, op := range []*Operation{
		row("ReplicateKey", false, spec[awsproto.ReplicateKeyInput]{check: checkReplicateKey, auth: authReplicateKey, run: (*Service).replicateKey}),
		row("UpdatePrimaryRegion", false, spec[awsproto.UpdatePrimaryRegionInput]{check: checkUpdatePrimaryRegion, auth: authUpdatePrimaryRegion, run: (*Service).updatePrimaryRegion}),
	} {
		operations[op.Name] = op
	}
}
