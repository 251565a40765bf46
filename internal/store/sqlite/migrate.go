package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"github.com/trent-kms/trent/internal/store/sqlrows"
)

// Migrations are files migrations/NNNN_name.sql, numbered from 0001 without
// gaps. A migration that has been released is never edited: a change to the
// schema is a new file.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in order, or an error if their
// names are malformed or their numbers are not 1, 2, 3, ….
func migrations() ([]migration, error) {
	var ms []migration
	if err := sqlrows.EachMigration(migrationFS, func(version int, name, text string) {
		ms = append(ms, migration{version: version, name: name, sql: text})
	}); err != nil {
		return nil, err
	}
	return ms, nil
}

// migrate applies the migrations the database lacks, each in its own
// transaction together with its row in schema_migrations. It runs on the
// writer, whose transactions begin IMMEDIATE: a second process opening the
// same file at the same time waits, then finds the migration applied.
func migrate(ctx context.Context, w *sql.DB) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if _, err := w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var newest sql.NullInt64
	if err := w.QueryRowContext(ctx, "SELECT max(version) FROM schema_migrations").Scan(&newest); err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	if newest.Int64 > int64(len(ms)) {
		return fmt.Errorf("database schema version %d is newer than this program knows (%d)", newest.Int64, len(ms))
	}
	for _, m := range ms {
		if err := applyMigration(ctx, w, m); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, w *sql.DB, m migration) error {
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer rollback(tx)
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE version = ?", m.version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil // applied already
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
		m.version, time.Now().UnixNano()); err != nil {
		return err
	}
	return tx.Commit()
}
