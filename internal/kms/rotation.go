package kms

import (
	"context"
	"errors"
	"fmt"
	"github.com/trent-kms/trent/internal/audit"
	"strconv"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsproto"
	"github.com/trent-kms/trent/internal/store"
)

func itoa(n int) string { return strconv.Itoa(n) }

func daysOf(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

// rotatable applies the state and spec rules shared by the rotation
// operations that change something.
func rotatable(arn string, k *store.Key) error {
	if k.Origin == OriginExternal && k.State != StatePendingDeletion {
		return originNotValid(arn, k.Origin)
	}
	if err := enabled(arn, k); err != nil {
		return err
	}
	if k.KeySpec != SpecSymmetric || k.Origin != OriginAWSKMS {
		return apierr.New(apierr.UnsupportedOperation, "")
	}
	return replicaRotation(arn, k)
}

func checkEnableKeyRotation(in *awsproto.EnableKeyRotationInput) error {
	var v validator
	v.keyID("keyId", in.KeyId)
	v.intRange("rotationPeriodInDays", in.RotationPeriodInDays, 90, 2560)
	return v.err()
}

func (s *Service) enableKeyRotation(ctx context.Context, r *Request, in *awsproto.EnableKeyRotationInput, a *access) (any, error) {
	period := defaultRotationPeriod
	if in.RotationPeriodInDays != nil {
		period = int(*in.RotationPeriodInDays)
	}
	e := a.key
	_, err := s.update(ctx, e, func(k *store.Key) error {
		if err := rotatable(e.arn, k); err != nil {
			return err
		}
		k.RotationEnabled = true
		k.RotationPeriodDays = period
		k.NextRotation = s.now().Add(daysOf(period))
		return nil
	})
	return nil, err
}

func (s *Service) disableKeyRotation(ctx context.Context, r *Request, in *awsproto.KeyIdInput, a *access) (any, error) {
	e := a.key
	_, err := s.update(ctx, e, func(k *store.Key) error {
		if err := rotatable(e.arn, k); err != nil {
			return err
		}
		k.RotationEnabled = false
		k.NextRotation = time.Time{}
		return nil
	})
	return nil, err
}

// getKeyLastUsage answers from the key uses the audit log keeps in the
// store (internal/audit/usage.go). The tracking start is the later of the
// log's and the key's creation, as AWS defines TrackingStartDate.
func (s *Service) getKeyLastUsage(ctx context.Context, r *Request, in *awsproto.KeyIdInput, a *access) (any, error) {
	if s.usage == nil {
		return nil, apierr.New(apierr.UnsupportedOperation, "GetKeyLastUsage needs the audit log, which this Trent does not keep.")
	}
	e := a.key
	u, used, since, err := s.usage(ctx, e.arn)
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("last usage of %s: %w", e.arn, err))
	}
	if e.meta.CreatedAt.After(since) {
		since = e.meta.CreatedAt
	}
	out := &awsproto.GetKeyLastUsageOutput{
		KeyId: e.arn, KeyLastUsage: &awsproto.KeyLastUsageData{},
		TrackingStartDate: awsproto.Time(since), KeyCreationDate: awsproto.Time(e.meta.CreatedAt),
	}
	if used {
		out.KeyLastUsage = &awsproto.KeyLastUsageData{
			Operation: u.Operation, Timestamp: awsproto.Time(u.Time),
			CloudTrailEventId: u.EventID, KmsRequestId: u.RequestID,
		}
	}
	return out, nil
}

func (s *Service) getKeyRotationStatus(ctx context.Context, r *Request, in *awsproto.KeyIdInput, a *access) (any, error) {
	if a.key.meta.Origin == OriginExternal {
		return nil, originNotValid(a.key.arn, a.key.meta.Origin)
	}
	e, err := s.rotationSource(ctx, a.key)
	if err != nil {
		return nil, err
	}
	out := &awsproto.GetKeyRotationStatusOutput{KeyId: a.key.arn, KeyRotationEnabled: e.meta.RotationEnabled}
	if e.meta.RotationEnabled {
		p := int32(e.meta.RotationPeriodDays)
		out.RotationPeriodInDays = &p
		out.NextRotationDate = awsproto.Time(e.meta.NextRotation)
	}
	return out, nil
}

func (s *Service) rotateKeyOnDemand(ctx context.Context, r *Request, in *awsproto.KeyIdInput, a *access) (any, error) {
	e := a.key
	if e.meta.Origin == OriginExternal {
		return s.rotateImported(ctx, e) // import.go
	}
	e, err := s.addVersion(ctx, e, rotationTypeOnDemand, func(k *store.Key) error {
		if err := rotatable(e.arn, k); err != nil {
			return err
		}
		if k.OnDemandRotations >= maxOnDemandRotations {
			return apierr.New(apierr.LimitExceeded, "The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: %s", e.arn)
		}
		k.OnDemandRotations++
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &awsproto.KeyIdOutput{KeyId: e.arn}, nil
}

func checkListKeyRotations(in *awsproto.ListKeyRotationsInput) error {
	var v validator
	v.keyID("keyId", in.KeyId)
	v.enum("includeKeyMaterial", in.IncludeKeyMaterial, includeKeyMaterial)
	if err := v.err(); err != nil {
		return err
	}
	_, _, err := rotationPages.params(in.Limit, in.Marker)
	return err
}

func (s *Service) listKeyRotations(ctx context.Context, r *Request, in *awsproto.ListKeyRotationsInput, a *access) (any, error) {
	limit, after, err := rotationPages.params(in.Limit, in.Marker)
	if err != nil {
		return nil, err
	}
	e := a.key
	if e.meta.KeySpec != SpecSymmetric {
		return nil, apierr.New(apierr.UnsupportedOperation, "")
	}
	if e.meta.Origin == OriginExternal {
		return s.listImportedRotations(ctx, e, in, limit, after) // multiregion_import.go
	}
	all := in.IncludeKeyMaterial != nil && *in.IncludeKeyMaterial == includeAllKeyMaterial
	start := uint32(0)
	if after != "" {
		n, err := strconv.ParseUint(after, 10, 32)
		if err != nil {
			return nil, apierr.New(apierr.InvalidMarker, "Invalid marker.")
		}
		start = uint32(n)
	}
	out := &awsproto.ListKeyRotationsOutput{Rotations: []awsproto.RotationsListEntry{}}
	last := uint32(0)
	for n := start + 1; n <= e.meta.CurrentVersion; n++ {
		b := e.versions[n]
		if b == nil || (!all && b.rotationType == "") {
			continue
		}
		if len(out.Rotations) == limit {
			out.Truncated = true
			out.NextMarker = encodeMarker("rotations", strconv.FormatUint(uint64(last), 10))
			break
		}
		entry := awsproto.RotationsListEntry{KeyId: e.arn, KeyMaterialId: b.materialID, KeyMaterialState: keyMaterialNonCurrent, RotationType: b.rotationType}
		if n == e.meta.CurrentVersion {
			entry.KeyMaterialState = keyMaterialCurrent
		}
		if b.rotationType != "" {
			entry.RotationDate = awsproto.Time(b.createdAt)
		}
		out.Rotations = append(out.Rotations, entry)
		last = n
	}
	return out, nil
}

// RunDue performs the lifecycle work whose time has come: it deletes keys
// whose waiting period has ended and rotates keys whose rotation is due. A
// disabled key is not rotated; it rotates at the first run after it is
// enabled again, as AWS does. It returns the first error after trying every
// due key.
func (s *Service) RunDue(ctx context.Context) error {
	now := s.now()
	ids, err := s.store.KeysDue(ctx, now)
	if err != nil {
		return fmt.Errorf("list due keys: %w", err)
	}
	first := s.eachKey(ids, "lifecycle job failed", func(id string) error { return s.runDueKey(ctx, id, now) })
	return firstError(first, s.expireMaterial(ctx, now)) // import.go
}

// eachKey runs job on each key of ids, logging a failure with msg, and
// returns the first error once every key has been tried.
func (s *Service) eachKey(ids []string, msg string, job func(id string) error) error {
	var first error
	for _, id := range ids {
		if err := job(id); err != nil {
			s.log.Error(msg, "key", id, "err", err)
			first = firstError(first, err)
		}
	}
	return first
}

// deletionDue is the rule of the deletion job: the key is pending deletion
// and its waiting period has ended.
func deletionDue(k *store.Key, now time.Time) bool {
	return k.State == StatePendingDeletion && !k.DeletionDate.IsZero() && !k.DeletionDate.After(now)
}

// rotationDue is the rule of automatic rotation: the key is enabled, rotates
// automatically, and its rotation date has come.
func rotationDue(k *store.Key, now time.Time) bool {
	return k.State == StateEnabled && k.RotationEnabled && !k.NextRotation.IsZero() && !k.NextRotation.After(now)
}

// runDueKey does the work due on one key. What it reads first only picks
// the work: the write re-checks the rule on the key as it is under the
// write lock, and the store refuses the write if the key changed since
// (revision), so a change that commits in between — a cancelled deletion,
// a disabled key or rotation — always wins.
func (s *Service) runDueKey(ctx context.Context, id string, now time.Time) error {
	e, err := s.entry(ctx, id)
	if errors.Is(err, errKeyAbsent) {
		return nil // gone since KeysDue listed it
	}
	if err != nil {
		return err
	}
	if s.beforeJobWrite != nil {
		s.beforeJobWrite(id)
	}
	switch {
	case deletionDue(&e.meta, now):
		return s.deleteKey(ctx, id, now)
	case rotationDue(&e.meta, now):
		ne, err := s.addVersion(ctx, e, rotationTypeAutomatic, func(k *store.Key) error {
			if !rotationDue(k, now) {
				return errNothingDue
			}
			k.NextRotation = now.Add(daysOf(k.RotationPeriodDays))
			return nil
		})
		switch {
		case errors.Is(err, errNothingDue):
			return nil
		case errors.Is(err, store.ErrConflict):
			// Changed in the store behind this node's cache; addVersion
			// dropped the stale entry, and the next run decides afresh.
			s.log.Info("key changed before its rotation; not rotated", "key", e.arn)
			return nil
		case err != nil:
			return err
		}
		s.log.Info("rotated key", "key", e.arn, "rotation", rotationTypeAutomatic)
		s.serviceEvent(ctx, "RotateKey", ne, now, rotateKeyDetails{
			RotationType:          rotationTypeAutomatic,
			KeyOrigin:             ne.meta.Origin,
			PreviousKeyMaterialID: ne.materialID(ne.versions[ne.meta.CurrentVersion-1]),
			CurrentKeyMaterialID:  ne.materialID(ne.current),
			KeyID:                 wireKeyID(ne.meta.ID),
		})
	}
	return nil
}

// errNothingDue tells runDueKey that the work is no longer due.
var errNothingDue = errors.New("nothing due")

// deleteKey deletes the key id if its deletion is due at now, judged on the
// key as it is under the write lock and enforced by the store's revision
// check.
func (s *Service) deleteKey(ctx context.Context, id string, now time.Time) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	e, err := s.entry(ctx, id)
	if errors.Is(err, errKeyAbsent) {
		return nil
	}
	if err != nil {
		return err
	}
	if !deletionDue(&e.meta, now) {
		return nil // cancelled or rescheduled since the job read it
	}
	err = s.store.DeleteKey(ctx, id, e.meta.Revision)
	switch {
	case errors.Is(err, store.ErrConflict):
		// Changed in the store behind this node's cache: drop the stale
		// entry; the next run decides on the key as it is.
		s.forget(id)
		s.log.Info("key changed before its deletion; not deleted", "key", e.arn)
		return nil
	case errors.Is(err, store.ErrNotFound):
		// Deleted by someone else; forget it all the same.
	case errors.Is(err, store.ErrNotPurged):
		// The key is deleted; only the purge of its remnants is late.
		s.log.Error("deleted key, but its wrapped material may remain in the database files until the store completes the purge", "key", e.arn, "err", err)
	case err != nil:
		return fmt.Errorf("delete key %s: %w", id, err)
	}
	s.forget(id)
	s.forgetAliasesOf(id)
	s.grantsChanged(id) // the store deleted the key's grants with it
	s.memberDeleted(ctx, e)
	// forget retired e's material: it is zeroed once the requests still
	// using the key end, not under them.
	s.log.Info("deleted key at the end of its waiting period", "key", e.arn)
	s.serviceEvent(ctx, "DeleteKey", e, now, nil) // AWS's has no serviceEventDetails
	return nil
}

// rotateKeyDetails are the serviceEventDetails of an automatic rotation,
// in the members and order of AWS's RotateKey event.
type rotateKeyDetails struct {
	RotationType          string `json:"rotationType"`
	KeyOrigin             string `json:"keyOrigin"`
	PreviousKeyMaterialID string `json:"previousKeyMaterialId,omitempty"`
	CurrentKeyMaterialID  string `json:"currentKeyMaterialId,omitempty"`
	KeyID                 string `json:"keyId"`
}

// expiredMaterialDetails are those of DeleteExpiredKeyMaterial: the key's
// id and the material that expired.
type expiredMaterialDetails struct {
	KeyID         string `json:"keyId"`
	KeyMaterialID string `json:"keyMaterialId,omitempty"`
}

// serviceEvent records work the job runner did on key e as AWS records
// it: an AwsServiceEvent in the key's account and region, with details as
// its serviceEventDetails (nil: none, as AWS's DeleteKey). The work is
// done and committed already; an event the log cannot take now stays
// queued in the log and is written when it can be, so a failure here is
// logged, not undone.
func (s *Service) serviceEvent(ctx context.Context, name string, e *keyEntry, at time.Time, details any) {
	if s.events == nil {
		return
	}
	ev, err := audit.NewServiceEvent(at, audit.SourceKMS, name, e.meta.Account, e.meta.Region, details)
	if err == nil {
		ev.AddKey(e.arn)
		if name == "DeleteKey" {
			// "recorded on or after December 2022 include the key ARN of
			// the affected KMS key in the responseElements.keyId value"
			ev.ResponseElements = withKeyARN(nil, e.arn)
		}
		err = s.events(ctx, ev)
	}
	if err != nil {
		s.log.Error("audit: service event not recorded", "event", name, "key", e.arn, "err", err)
	}
}
