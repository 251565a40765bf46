package store

import "context"

// MultiRegionKeys stores multi-Region keys: a primary key and its replicas
// in other regions of the same account. Each member is a Key of its own
// (its own row, policy, tags, state and versions), tied to the others by
// Key.MultiRegionKey and sharing Key.PrimaryRegion.
//
// Members do not share version rows: each member holds its own copy of
// every backing-key version, wrapped for that member (the wrapping binds a
// version to its key's ARN, which names the region). Rotation therefore
// adds the same version to every member in one transaction
// (AddKeyVersions), so the members never disagree about which versions
// exist, and deleting one member (DeleteKey) removes only its own copies,
// never the material the others decrypt with.
type MultiRegionKeys interface {
	// CreateMultiRegionKey stores k, a member of the multi-Region key
	// k.MultiRegionKey whose primary is in k.PrimaryRegion, with all of
	// its versions, in one transaction. versions must be numbered as the
	// other members' are and include k.CurrentVersion, unless that is 0 (a
	// key whose imported material is not imported yet; versions empty). ErrExists if a key
	// with k.ID exists, or the multi-Region key has a member in k.Region
	// already; nothing is stored then. k.Revision is ignored; the stored
	// revision starts at 1.
	CreateMultiRegionKey(ctx context.Context, k Key, versions []KeyVersion) error
	// MultiRegionMembers returns every member of the multi-Region key
	// mrk (any region, any state), ordered by region; an empty slice if
	// there are none.
	MultiRegionMembers(ctx context.Context, mrk string) ([]Key, error)
	// UpdateKeys is UpdateKey for several keys in one transaction, and
	// also writes each key's PrimaryRegion (a key that is not a member of
	// a multi-Region key must have PrimaryRegion ""). It returns the keys
	// with their new revisions. If any key is absent (ErrNotFound) or its
	// revision moved (ErrConflict), nothing is written.
	UpdateKeys(ctx context.Context, ks []Key) ([]Key, error)
	// AddKeyVersions is AddKeyVersion for several keys in one
	// transaction: vs[i] is the new version of ks[i]. If any of them
	// fails, nothing is written.
	AddKeyVersions(ctx context.Context, ks []Key, vs []KeyVersion) ([]Key, error)
}
