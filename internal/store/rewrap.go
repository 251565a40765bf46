package store

import "context"

// WrappedKeyVersion is one stored backing key as a root-key rotation sees
// it: where it belongs (the key's account, region and ID, the version),
// which a rewrap needs to rebuild its binding, and the wrapped material.
type WrappedKeyVersion struct {
	KeyID   string
	Account string
	Region  string
	Version uint32
	Wrapped []byte
}

// Rewrap is what a root-key rotation (`trent rotate-root`) needs of the
// store beyond Store: to walk every value wrapped by the root key and
// replace each one only if nobody changed it meanwhile, and to commit the
// seal's settings (several at once) in one transaction. It never sees a
// root key or anything unwrapped.
type Rewrap interface {
	// WrappedKeyVersions returns up to limit backing keys ordered by
	// (KeyID, Version), starting after (afterKey, afterVersion); ("", 0)
	// starts from the beginning. Versions without material (imported
	// material deleted or expired: Imports.DeleteKeyMaterial) hold nothing
	// wrapped and are left out.
	WrappedKeyVersions(ctx context.Context, afterKey string, afterVersion uint32, limit int) ([]WrappedKeyVersion, error)
	// ReplaceWrappedKeyVersion sets the wrapped material of the version to
	// new if it is still old. ErrConflict if it is something else now,
	// ErrNotFound if the version (its key) is gone. Nothing else of the key
	// changes: not its revision, since the material itself is the same.
	ReplaceWrappedKeyVersion(ctx context.Context, keyID string, version uint32, old, new []byte) error
	// ReplaceWrappedSecret sets the wrapped secret of the access key to new
	// if it is still old; ErrConflict or ErrNotFound as above.
	ReplaceWrappedSecret(ctx context.Context, accessKeyID string, old, new []byte) error
	// ReplaceSetting sets the setting to new if it is still old;
	// ErrConflict or ErrNotFound as above.
	ReplaceSetting(ctx context.Context, name string, old, new []byte) error
	// UpdateSettings creates or replaces every setting in put and removes
	// every one named in remove (absent ones are no error), all in one
	// transaction: either all of it is stored or none.
	UpdateSettings(ctx context.Context, put map[string][]byte, remove []string) error
}
