package store

import (
	"context"
	"time"
)

// Imports stores the key material of keys whose Origin is EXTERNAL: keys
// created without material, material imported into a version, material
// deleted or expired. The material arrives wrapped by the root key, as for
// every other key version.
type Imports interface {
	// CreateKeyWithoutMaterial stores a new key that has no version yet
	// (Origin EXTERNAL, State PendingImport, CurrentVersion 0). ErrExists
	// if a key with that ID exists. k.Revision is ignored; the stored
	// revision starts at 1.
	CreateKeyWithoutMaterial(ctx context.Context, k Key) error
	// PutKeyMaterial stores version v of the key — a new version, or new
	// contents of an existing one (material re-imported, a new expiration)
	// — and updates the key, in one transaction, if the stored revision
	// equals k.Revision. It returns the key with its new revision.
	// ErrNotFound if the key is absent, ErrConflict if the revision moved.
	PutKeyMaterial(ctx context.Context, k Key, v KeyVersion) (Key, error)
	// DeleteKeyMaterial removes the material of the given versions (their
	// Wrapped becomes empty, ImportState PENDING_IMPORT, expiration
	// cleared; MaterialID and Description stay) and updates the key, in one
	// transaction, with PutKeyMaterial's revision check. Like DeleteKey it
	// is crypto-shredding: on success no copy of the wrapped material may
	// remain in the backend's files; if that could not be completed the
	// error wraps ErrNotPurged (the rows are changed all the same).
	DeleteKeyMaterial(ctx context.Context, k Key, versions []uint32) (Key, error)
	// KeysMaterialExpired returns IDs of keys (any account) that have a
	// version with material, ExpirationModel KEY_MATERIAL_EXPIRES and
	// ValidTo <= now, ordered by ID.
	KeysMaterialExpired(ctx context.Context, now time.Time) ([]string, error)
	// PutKeysMaterial is PutKeyMaterial for several keys in one
	// transaction: vs[i] is stored for ks[i] (replacing the row of that
	// version if there is one) and ks[i] is updated with the revision
	// check. If any key is absent (ErrNotFound) or its revision moved
	// (ErrConflict), nothing is written. It returns the keys with their new
	// revisions. (The members of a multi-Region key with imported material
	// rotate to the material pending rotation together.)
	PutKeysMaterial(ctx context.Context, ks []Key, vs []KeyVersion) ([]Key, error)
}
