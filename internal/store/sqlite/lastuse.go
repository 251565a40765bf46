package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/trent-kms/trent/internal/store"
)

var _ store.KeyUses = (*DB)(nil)

// LastKeyUse and KeyUseMark are sqlrows.Store's.

// keyUseRows is how many uses one INSERT of PutKeyUses stores. A flush
// of a hot set writes thousands of rows; one statement per row spent
// about a fifth of its CPU on what every statement costs besides its row
// (database/sql's call, SQLite's statement start and end), which 64 rows
// share (BenchmarkPutKeyUsesHot).
const keyUseRows = 64

// insertKeyUses returns the INSERT of n uses, 7 arguments each in the
// order of keyUseArgs.
func insertKeyUses(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO key_last_use (arn, event_time, node, seq, operation, event_id, request_id) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`(?, ?, ?, ?, ?, ?, ?)`)
	}
	b.WriteString(" ")
	b.WriteString(store.KeyLastUseUpsert)
	return b.String()
}

var insertKeyUseRows = insertKeyUses(keyUseRows)

// keyUseArgs appends u's arguments of insertKeyUses to args.
func keyUseArgs(args []any, u store.KeyUse) []any {
	return append(args, u.KeyARN, u.Time.Unix(), u.Node, int64(u.Seq), u.Operation, u.EventID, u.RequestID)
}

// PutKeyUses stores uses and node's mark in one transaction. A use
// replaces a key's row only if it is later (store.KeyUse.Later).
func (db *DB) PutKeyUses(ctx context.Context, node string, uses []store.KeyUse, mark store.KeyUseMark) error {
	op := fmt.Sprintf("record %d key uses", len(uses))
	markArgs, err := store.KeyUseMarkArgs(node, uses, mark)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return db.write(ctx, op, func(tx *sql.Tx) error {
		ctx := uninterrupted(ctx) // as every group-committed write (group.go)
		var full *sql.Stmt        // insertKeyUseRows, prepared once it is needed
		defer func() {
			if full != nil {
				full.Close()
			}
		}()
		args := make([]any, 0, 7*min(len(uses), keyUseRows))
		for rest := uses; len(rest) > 0; {
			n := min(len(rest), keyUseRows)
			args = args[:0]
			for _, u := range rest[:n] {
				args = keyUseArgs(args, u)
			}
			var err error
			if n == keyUseRows {
				if full == nil {
					if full, err = tx.PrepareContext(ctx, insertKeyUseRows); err != nil {
						return err
					}
				}
				_, err = full.ExecContext(ctx, args...)
			} else {
				_, err = tx.ExecContext(ctx, insertKeyUses(n), args...)
			}
			if err != nil {
				return err
			}
			rest = rest[n:]
		}
		_, err := tx.ExecContext(ctx, store.KeyUseMarkUpsert, markArgs...)
		return err
	})
}
