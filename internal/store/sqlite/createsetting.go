package sqlite

import (
	"context"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/sqlrows"
)

var _ store.SettingCreator = (*DB)(nil)

// CreateSetting implements store.SettingCreator: the primary key refuses
// a second value (ErrExists).
func (db *DB) CreateSetting(ctx context.Context, name string, value []byte) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?)`, name, sqlrows.Blob(value))
	return wrapErr("create setting "+name, err)
}
