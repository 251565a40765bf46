// Package store is Trent's persistent state, spoken in the service's terms:
// keys and their versions, aliases, tags, access keys and a few settings. It
// never sees plaintext secrets: every secret arrives already wrapped by the
// root key (internal/seal) and is stored as opaque bytes.
//
// Implementations (store/sqlite now, store/postgres later) must make every
// method that touches several rows one transaction, and must report the
// sentinel errors below so callers never depend on a driver's error types.
package store

import (
	"context"
	"errors"
	"time"
)

var (
	// ErrNotFound: the row asked for does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrExists: a row with the same identity already exists.
	ErrExists = errors.New("store: already exists")
	// ErrConflict: the row changed since it was read (Revision mismatch).
	ErrConflict = errors.New("store: changed concurrently")
	// ErrNotPurged: the rows were deleted, but copies of them may remain in
	// the backend's files for now (see Keys.DeleteKey).
	ErrNotPurged = errors.New("store: deleted, but not yet purged from storage")
)

// Key is a KMS key's metadata. Times are UTC; a zero time means "not set".
type Key struct {
	ID          string // UUID, the KeyId
	Account     string // 12-digit account id
	Region      string
	Description string
	KeySpec     string // SYMMETRIC_DEFAULT, RSA_2048, …
	KeyUsage    string // ENCRYPT_DECRYPT, SIGN_VERIFY, …
	Origin      string // AWS_KMS
	State       string // Enabled, Disabled, PendingDeletion
	CreatedAt   time.Time
	// DeletionDate and PendingWindowDays are set while State is PendingDeletion.
	DeletionDate      time.Time
	PendingWindowDays int
	Policy            string // the key policy named "default", as stored
	// Automatic rotation. NextRotation is set while RotationEnabled.
	RotationEnabled    bool
	RotationPeriodDays int
	NextRotation       time.Time
	// CurrentVersion is the backing-key version new ciphertexts use.
	CurrentVersion    uint32
	OnDemandRotations int
	Tags              []Tag
	// Revision increases by one on every successful write; UpdateKey and
	// AddKeyVersion succeed only if the stored revision equals this one.
	Revision int64
	// MultiRegionKey is, for a member of a multi-Region key (primary or
	// replica), the KeyId the members share ("mrk-…"); "" for a
	// single-Region key. Only CreateMultiRegionKey sets it; it never
	// changes (multiregion.go).
	MultiRegionKey string
	// PrimaryRegion is the region of the multi-Region key's primary, the
	// same in every member's row; "" for a single-Region key. Only
	// CreateMultiRegionKey and UpdateKeys write it: UpdateKey and
	// AddKeyVersion neither write nor check it.
	PrimaryRegion string
}

// Tag is one resource tag of a key.
type Tag struct {
	Key   string
	Value string
}

// KeyVersion is one backing key of a KMS key. Versions are numbered from 1 and
// never deleted while the key exists: older ones decrypt older ciphertexts.
type KeyVersion struct {
	KeyID      string
	Version    uint32
	MaterialID string // 64 lowercase hex, KeyMaterialId on the wire
	// Wrapped is the backing key material sealed by the root key. The store
	// treats it as opaque bytes.
	Wrapped      []byte
	CreatedAt    time.Time
	RotationType string // "" for the first version, AUTOMATIC or ON_DEMAND

	// Imported key material (keys of Origin EXTERNAL; imported.go). For
	// other keys these are "" and the zero time.
	//
	// ImportState is IMPORTED while Wrapped holds the material and
	// PENDING_IMPORT once it was deleted or expired (Wrapped is then empty:
	// only MaterialID remains, to recognise the same material re-imported).
	ImportState string
	// ExpirationModel is KEY_MATERIAL_EXPIRES or KEY_MATERIAL_DOES_NOT_EXPIRE;
	// ValidTo is set with KEY_MATERIAL_EXPIRES.
	ExpirationModel string
	ValidTo         time.Time
	// Description is the KeyMaterialDescription given at import.
	Description string
}

// Alias maps an alias name ("alias/x") to a key, within one account and region.
type Alias struct {
	Account   string
	Region    string
	Name      string
	KeyID     string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// AccessKey is an access key pair of a principal. The secret is stored only
// wrapped by the root key.
type AccessKey struct {
	ID            string // AKIA…
	Account       string
	PrincipalARN  string // arn:aws:iam::<account>:root for the account root
	WrappedSecret []byte
	CreatedAt     time.Time
	Active        bool // Status() is Active or Inactive
	// UserName is the IAM user the key belongs to, as the user is named
	// now, or "" for the account root.
	UserName string
	// The key's last use, as UpdateAccessKeyLastUsed recorded it; zero
	// and "" if it was never recorded. CreateAccessKey ignores them.
	LastUsedAt      time.Time
	LastUsedService string
	LastUsedRegion  string
}

// Keys stores KMS keys and their backing-key versions.
type Keys interface {
	// CreateKey stores a new key with its first version in one transaction.
	// ErrExists if a key with that ID exists. k.Revision is ignored; the
	// stored revision starts at 1.
	CreateKey(ctx context.Context, k Key, first KeyVersion) error
	// GetKey returns the key, or ErrNotFound.
	GetKey(ctx context.Context, id string) (Key, error)
	// ListKeys returns up to limit keys of the account and region whose ID
	// sorts after `after` ("" for the start), ordered by ID.
	ListKeys(ctx context.Context, account, region, after string, limit int) ([]Key, error)
	// UpdateKey replaces the key's metadata and tags if the stored revision
	// equals k.Revision, and returns the key with its new revision.
	// ErrNotFound if absent, ErrConflict if the revision moved.
	UpdateKey(ctx context.Context, k Key) (Key, error)
	// AddKeyVersion stores a new version and updates the key (usually its
	// CurrentVersion) in one transaction, with UpdateKey's revision check.
	// ErrExists if that version number exists already.
	AddKeyVersion(ctx context.Context, k Key, v KeyVersion) (Key, error)
	// KeyVersions returns every version of the key, oldest first
	// (an empty slice if the key has none or does not exist).
	KeyVersions(ctx context.Context, keyID string) ([]KeyVersion, error)
	// DeleteKey removes the key, its versions, its tags and every alias that
	// points at it, in one transaction, if the stored revision equals
	// revision. The caller decided on that revision that the key may go;
	// any write since (a cancelled deletion, a new deletion date) must win,
	// so ErrConflict means the revision moved and nothing was removed.
	// ErrNotFound if absent.
	//
	// Deleting a key is crypto-shredding: on success no copy of the removed
	// rows may remain in the backend's files either (journal, free pages),
	// as far as the backend can ensure. If the rows were removed but that
	// could not be completed, the error wraps ErrNotPurged; the backend
	// completes it at a later DeleteKey or at Close.
	DeleteKey(ctx context.Context, id string, revision int64) error
	// KeysDue returns IDs of keys (any account) that are PendingDeletion with
	// DeletionDate <= now, or have rotation enabled with NextRotation <= now.
	KeysDue(ctx context.Context, now time.Time) ([]string, error)
}

// Aliases stores alias names.
type Aliases interface {
	// CreateAlias stores a new alias; ErrExists if the name is taken in that
	// account and region.
	CreateAlias(ctx context.Context, a Alias) error
	// GetAlias returns the alias or ErrNotFound.
	GetAlias(ctx context.Context, account, region, name string) (Alias, error)
	// UpdateAlias points an existing alias at a.KeyID and sets UpdatedAt;
	// ErrNotFound if the alias does not exist.
	UpdateAlias(ctx context.Context, a Alias) error
	// DeleteAlias removes the alias; ErrNotFound if absent.
	DeleteAlias(ctx context.Context, account, region, name string) error
	// ListAliases returns up to limit aliases of the account and region,
	// ordered by name, whose name sorts after `after`; if keyID is not "",
	// only those pointing at that key.
	ListAliases(ctx context.Context, account, region, keyID, after string, limit int) ([]Alias, error)
}

// AccessKeys stores principals' access keys.
type AccessKeys interface {
	// CreateAccessKey stores a new access key; ErrExists if the ID exists.
	// A key with a UserName belongs to that user of k.Account: ErrNotFound
	// if there is no such user, ErrLimit if the user has
	// MaxAccessKeysPerUser keys already.
	CreateAccessKey(ctx context.Context, k AccessKey) error
	// GetAccessKey returns the access key or ErrNotFound.
	GetAccessKey(ctx context.Context, id string) (AccessKey, error)
	// ListAccessKeys returns every access key, ordered by ID.
	ListAccessKeys(ctx context.Context) ([]AccessKey, error)
}

// Settings holds small named values that describe the installation: its
// mode, account, region and the wrapped root key.
type Settings interface {
	// GetSetting returns the value or ErrNotFound.
	GetSetting(ctx context.Context, name string) ([]byte, error)
	// PutSetting creates or replaces a value.
	PutSetting(ctx context.Context, name string, value []byte) error
}

// Store is everything Trent persists.
type Store interface {
	Keys
	Aliases
	AccessKeys
	Settings
	Identities // identity.go
	Grants     // identity.go
	MultiRegionKeys
	Imports // imported.go
	// Close flushes and closes the store; it must be safe to call once
	// after all other calls have returned.
	Close() error
}
