package kms

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsproto"
	"github.com/trent-kms/trent/internal/store"
)

// Multi-Region keys with imported key material, as AWS documents them
// ("Importing key material into multi-Region keys"): KMS does not copy the
// material of a primary to its replicas; each member is made without
// material (PendingImport) and the same material is imported into each,
// with its own expiration; each member's import, expiry, deletion and
// state are its own.
//
// What makes a replica's material "the same": the KeyMaterialId of a
// member's material is derived from the shared mrk- id and the material
// (keys.ImportedMaterialID over wireKeyID), so the same material has the
// same id in every region and different material a different one (SHA-256),
// without Trent keeping anything but what it keeps for every imported key.
// A member may only import material whose id some member already has (the
// version it has there is the version it gets), except the primary, which
// brings in the first material and, for symmetric keys, new material
// pending rotation. A replica asked to take other material answers
// IncorrectKeyMaterialException, and nothing changes.
//
// Versions are numbered alike in every member, as for keys Trent makes:
// a material has the version number it has in the primary. A replica that
// never had material has CurrentVersion 0; its first import sets its
// CurrentVersion to the family's, and it is Enabled once its current
// version has material.
//
// On-demand rotation (symmetric keys): the primary imports NEW_KEY_MATERIAL
// (pending rotation), each replica imports the same material, and
// RotateKeyOnDemand on the primary makes it current in every member, in one
// store transaction (PutKeysMaterial). Until every replica has it, the
// primary lists it as PENDING_MULTI_REGION_IMPORT_AND_ROTATION and refuses
// to rotate. Deleting the primary's pending material deletes the replicas'
// copies too; deleting anything else in one member leaves the others alone.

// createMultiRegionKeyWithoutMaterial stores a new multi-Region primary of
// Origin EXTERNAL with its membership and no version.
func (s *Service) createMultiRegionKeyWithoutMaterial(ctx context.Context, k store.Key) error {
	return s.store.CreateMultiRegionKey(ctx, k, nil)
}

// importFamily is what the members of a multi-Region key have imported:
// every material id with the version it has (the primary's row where it
// has one), the highest version any member has, and the family's current
// version (the highest CurrentVersion of a member). Material pending
// rotation is the primary's: a replica's row of a version after the
// primary's current one counts only if the primary has the same material
// there (pending), since the primary's pending material may have been
// deleted and replaced by other material.
type importFamily struct {
	versions map[string]store.KeyVersion // by KeyMaterialId; Wrapped is cleared
	last     uint32
	current  uint32
	// primaryCurrent is the primary's CurrentVersion; pending its version
	// after that, if it has one.
	primaryCurrent uint32
	pending        *store.KeyVersion
}

// pendingAgrees reports whether a replica's version n with material id
// may be used: any version up to the primary's current one, and the
// version pending rotation only with the primary's material.
func (f *importFamily) pendingAgrees(n uint32, id string) bool {
	return n <= f.primaryCurrent || f.pending != nil && f.pending.Version == n && f.pending.MaterialID == id
}

func (s *Service) loadImportFamily(ctx context.Context, mrk string) (*importFamily, error) {
	members, err := s.store.MultiRegionMembers(ctx, mrk)
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("members of %s: %w", mrk, err))
	}
	f := &importFamily{versions: map[string]store.KeyVersion{}}
	rows := make([][]store.KeyVersion, len(members))
	for i, m := range members {
		f.current = max(f.current, m.CurrentVersion)
		vs, err := s.store.KeyVersions(ctx, m.ID)
		if err != nil {
			return nil, apierr.Internal(fmt.Errorf("versions of %s: %w", m.ID, err))
		}
		for j := range vs {
			clear(vs[j].Wrapped)
			vs[j].Wrapped = nil
		}
		rows[i] = vs
		if isPrimary(&m) {
			f.primaryCurrent = m.CurrentVersion
			for _, v := range vs {
				if v.Version > m.CurrentVersion {
					f.pending = &v
				}
			}
		}
	}
	for i, m := range members {
		for _, v := range rows[i] {
			if v.MaterialID == "" || !isPrimary(&m) && !f.pendingAgrees(v.Version, v.MaterialID) {
				continue
			}
			f.last = max(f.last, v.Version)
			if _, ok := f.versions[v.MaterialID]; !ok || isPrimary(&m) {
				f.versions[v.MaterialID] = v
			}
		}
	}
	return f, nil
}

// importIntoMember is ImportKeyMaterial for a member of a multi-Region key,
// under writeMu, after the checks every import makes: cur is the member as
// reloaded, k its metadata to store, material and id the unwrapped
// material and its KeyMaterialId.
func (s *Service) importIntoMember(ctx context.Context, cur *keyEntry, k store.Key, in *awsproto.ImportKeyMaterialInput,
	material []byte, id, model string, until time.Time, desc string) (any, error) {
	f, err := s.loadImportFamily(ctx, k.MultiRegionKey)
	if err != nil {
		return nil, err
	}
	incorrect := apierr.New(excIncorrectKeyMaterial, incorrectMaterialMsg)
	explicit := ""
	if in.ImportType != nil {
		explicit = *in.ImportType
	}
	var v store.KeyVersion
	if n, ok := versionWithMaterial(cur, id); ok {
		// The member's own material again: a restore or a new expiration
		// (not of pending material the primary has replaced since).
		if explicit == importNew || !isPrimary(&k) && !f.pendingAgrees(n, id) {
			return nil, incorrect
		}
		v = cur.imported[n]
		if desc == "" {
			desc = v.Description
		}
	} else if fv, ok := f.versions[id]; ok {
		// Material another member has: this member takes it as the same
		// version. A member that has material already takes it as
		// EXISTING_KEY_MATERIAL, as AWS asks of replicas.
		if explicit == importNew && len(cur.imported) > 0 {
			return nil, incorrect
		}
		v = store.KeyVersion{Version: fv.Version, CreatedAt: fv.CreatedAt, RotationType: fv.RotationType}
		if k.CurrentVersion == 0 {
			k.CurrentVersion = f.current
		}
	} else {
		// Material no member has. Only the primary brings material in:
		// AWS does not let new material be imported into a replica.
		if !isPrimary(&k) {
			return nil, incorrect
		}
		importType := explicit
		if importType == "" {
			importType = importExisting
			if f.last == 0 {
				importType = importNew
			}
		}
		switch {
		case importType != importNew || in.KeyMaterialId != nil:
			return nil, incorrect
		case f.last == 0:
			// The family's first material: version 1, current.
			v = store.KeyVersion{Version: 1, CreatedAt: s.now()}
			k.CurrentVersion = 1
		default:
			// New material of a symmetric key, pending rotation (other
			// specs were refused NEW_KEY_MATERIAL before). Material
			// pending rotation whose primary copy was deleted gives way
			// to it, in its version (the replicas' copies were deleted
			// with it).
			v = store.KeyVersion{Version: f.last + 1, CreatedAt: s.now()}
			if p := f.pending; p != nil {
				if p.ImportState == importStateImported {
					return nil, apierr.New(apierr.KMSInvalidState, "New key material (id: %s) cannot be imported into KMS key %s, because another key material (id: %s) is pending rotation.", id, wireKeyID(k.ID), p.MaterialID)
				}
				v.Version = p.Version
			}
		}
	}
	return s.putImported(ctx, cur, k, v, material, id, model, until, desc)
}

// rotateImportedMembers is RotateKeyOnDemand of a multi-Region primary with
// imported material, under writeMu: p, the primary's material pending
// rotation, becomes current in every member at once, once every replica
// has imported it.
func (s *Service) rotateImportedMembers(ctx context.Context, cur *keyEntry, k store.Key, p store.KeyVersion) (any, error) {
	members, err := s.store.MultiRegionMembers(ctx, k.MultiRegionKey)
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("members of %s: %w", k.MultiRegionKey, err))
	}
	ks := make([]store.Key, 0, len(members))
	vs := make([]store.KeyVersion, 0, len(members))
	for _, m := range members {
		if m.ID == k.ID {
			ks, vs = append(ks, k), append(vs, p)
			continue
		}
		versions, err := s.store.KeyVersions(ctx, m.ID)
		if err != nil {
			return nil, apierr.Internal(fmt.Errorf("versions of %s: %w", m.ID, err))
		}
		i := slices.IndexFunc(versions, func(v store.KeyVersion) bool {
			return v.Version == p.Version && v.MaterialID == p.MaterialID && v.ImportState == importStateImported && len(v.Wrapped) > 0
		})
		if i < 0 {
			return nil, apierr.New(apierr.KMSInvalidState, "Key material (id: %s) pending rotation of %s is not imported into its replica key %s.", p.MaterialID, cur.arn, keyARN(m.Region, m.Account, m.ID))
		}
		v := versions[i]
		v.RotationType, v.CreatedAt = p.RotationType, p.CreatedAt
		m.CurrentVersion = p.Version
		if m.State == StatePendingImport && materialComplete(p.Version, func(n uint32) (store.KeyVersion, bool) {
			j := slices.IndexFunc(versions, func(w store.KeyVersion) bool { return w.Version == n })
			if j < 0 {
				return store.KeyVersion{}, false
			}
			return versions[j], true
		}) {
			m.State = StateEnabled // its new current material is there, and every older one
		}
		ks, vs = append(ks, m), append(vs, v)
	}
	_, err = s.store.PutKeysMaterial(ctx, ks, vs)
	for _, m := range ks {
		s.forget(m.ID)
	}
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("rotate multi-Region key %s: %w", k.MultiRegionKey, err))
	}
	return &awsproto.KeyIdOutput{KeyId: cur.arn}, nil
}

// deletePendingInReplicas deletes version n's material from every replica
// of primary k that has it, under writeMu: AWS deletes the replicas' copies
// of material the primary deleted while it was pending rotation. Each
// replica is its own store transaction; one that fails is logged and
// reported, the others are still done.
func (s *Service) deletePendingInReplicas(ctx context.Context, k store.Key, n uint32) error {
	members, err := s.store.MultiRegionMembers(ctx, k.MultiRegionKey)
	if err != nil {
		return apierr.Internal(fmt.Errorf("members of %s: %w", k.MultiRegionKey, err))
	}
	var first error
	for _, m := range members {
		if m.ID == k.ID {
			continue
		}
		e, err := s.entry(ctx, m.ID)
		if errors.Is(err, errKeyAbsent) {
			continue
		}
		if err != nil {
			first = firstError(first, err)
			continue
		}
		v, ok := e.imported[n]
		if !ok || v.ImportState != importStateImported || n <= e.meta.CurrentVersion {
			continue
		}
		rk := e.metaCopy()
		if err := s.deleteMaterial(ctx, e, rk, []uint32{n}); err != nil {
			s.log.Error("multi-Region key: pending material not deleted in a replica", "key", e.arn, "err", err)
			first = firstError(first, err)
		}
	}
	if first != nil {
		return apierr.Internal(fmt.Errorf("delete pending material of %s in its replicas: %w", k.MultiRegionKey, first))
	}
	return nil
}

func firstError(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// listImportedRotations is ListKeyRotations of a key with imported
// material; for a multi-Region primary, the material pending rotation that
// a replica lacks is PENDING_MULTI_REGION_IMPORT_AND_ROTATION.
func (s *Service) listImportedRotations(ctx context.Context, e *keyEntry, in *awsproto.ListKeyRotationsInput, limit int, after string) (any, error) {
	var waiting map[uint32]bool
	if isPrimary(&e.meta) {
		var err error
		if waiting, err = s.pendingInReplicas(ctx, e); err != nil {
			return nil, err
		}
	}
	return listImportedRotations(e, in, limit, after, waiting)
}

// pendingInReplicas is the set of primary e's versions pending rotation
// that some replica has not imported.
func (s *Service) pendingInReplicas(ctx context.Context, e *keyEntry) (map[uint32]bool, error) {
	p, ok := pendingRotation(e)
	if !ok {
		return nil, nil
	}
	members, err := s.store.MultiRegionMembers(ctx, e.meta.MultiRegionKey)
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("members of %s: %w", e.meta.MultiRegionKey, err))
	}
	for _, m := range members {
		if m.ID == e.meta.ID {
			continue
		}
		vs, err := s.store.KeyVersions(ctx, m.ID)
		if err != nil {
			return nil, apierr.Internal(fmt.Errorf("versions of %s: %w", m.ID, err))
		}
		has := slices.ContainsFunc(vs, func(v store.KeyVersion) bool {
			return v.Version == p.Version && v.MaterialID == p.MaterialID && v.ImportState == importStateImported
		})
		for _, v := range vs {
			clear(v.Wrapped)
		}
		if !has {
			return map[uint32]bool{p.Version: true}, nil
		}
	}
	return nil, nil
}
