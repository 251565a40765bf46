package postgres

import (
	"context"
	"embed"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/trent-kms/trent/internal/store/sqlrows"
)

// Migrations are files migrations/NNNN_name.sql, numbered from 0001 without
// gaps, in step with the SQLite store's (the same number adds the same
// tables). A migration that has been released is never edited: a change
// to the schema is a new file.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrationLock is the key of the session advisory lock held while
// migrating: "trent" in ASCII, so that it is unlikely to collide with
// another application's lock in the same database.
const migrationLock int64 = 0x7472656e74

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
// transaction together with its row in schema_migrations. It holds a
// session advisory lock on one connection meanwhile: nodes starting
// together queue on the lock, and each finds the migrations the first one
// applied. (CREATE TABLE IF NOT EXISTS alone would not do: two sessions
// creating the same table at once can both pass the check and one fails on
// the catalog's unique index.)
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	defer func() {
		// A connection whose unlock failed (the context ended) still holds
		// the lock: close it rather than hand it back to the pool.
		if _, err := conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", migrationLock); err != nil {
			_ = conn.Conn().Close(context.Background())
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer NOT NULL PRIMARY KEY,
		applied_at bigint  NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var newest *int64
	if err := conn.QueryRow(ctx, "SELECT max(version) FROM schema_migrations").Scan(&newest); err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	if newest != nil && *newest > int64(len(ms)) {
		return fmt.Errorf("database schema version %d is newer than this program knows (%d)", *newest, len(ms))
	}
	for _, m := range ms {
		if newest != nil && int64(m.version) <= *newest {
			continue
		}
		if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			// No arguments: pgx sends the file with the simple protocol,
			// which allows several statements.
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
				m.version, time.Now().UnixNano())
			return err
		}); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}
