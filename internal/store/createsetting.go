package store

import "context"

// SettingCreator is offered by stores that can store a setting only if it
// is absent, which a value made once for the whole installation needs
// when several nodes may make it at the same moment (the audit signing
// key, at the first start of several nodes): each inserts, the losers get
// ErrExists and read the winner's. Callers check with a type assertion.
type SettingCreator interface {
	// CreateSetting stores value under name if no setting has that name;
	// ErrExists, and nothing changed, if one has.
	CreateSetting(ctx context.Context, name string, value []byte) error
}
