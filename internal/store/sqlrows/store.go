package sqlrows

import (
	"context"
	"fmt"

	"github.com/trent-kms/trent/internal/store"
)

// Store implements the methods of store.Store whose SQL and transaction
// bodies are the same in both backends: accounts, users, groups and roles,
// their policies and access keys, settings and their rewrapping, grants,
// aliases, and the writes of keys that neither store prepares. A backend
// embeds it and fills it with NewStore; the methods then run on the
// backend's reader, writer and transactions and return its errors.
type Store struct {
	prefix    string
	r         Tx
	w         Execer
	write     TxFunc
	writeKey  TxFunc
	writeKeys TxFunc
	read      TxFunc
	purge     func(ctx context.Context) error
	wrapErr   func(op string, err error) error
	dialect   Dialect

	byName string
}

// TxFunc runs f in a transaction (or, for a write, in a transaction the
// backend may retry or commit with others) and returns f's error, or the
// transaction's, through the backend's error mapping with op. f's
// statements run under the context f is given, which the backend chooses.
type TxFunc func(ctx context.Context, op string, f func(ctx context.Context, tx Tx) error) error

// Backend is what a store gives Store to run on.
type Backend struct {
	// Prefix starts every error: "sqlite" or "postgres".
	Prefix string
	// Reader runs single statements outside a transaction.
	Reader Tx
	// Writer runs a one-statement write.
	Writer Execer
	// Write runs the write transactions of identities, policies and
	// settings, Read a read transaction whose statements see one snapshot.
	Write, Read TxFunc
	// WriteKey runs the write transactions of one key, its aliases and
	// grants; WriteKeys those that write several keys or imported
	// material.
	WriteKey, WriteKeys TxFunc
	// Purge removes what deleted key material leaves behind (the WAL, dead
	// tuples), after DeleteKey and DeleteKeyMaterial.
	Purge func(ctx context.Context) error
	// WrapErr maps a driver error to the store sentinels and adds
	// "<Prefix>: <op>: ".
	WrapErr func(op string, err error) error
	Dialect Dialect
}

// Dialect is the SQL that differs between the stores' databases.
type Dialect struct {
	// TextArg is a bound parameter used as text where the database must
	// know its type: "?" for SQLite, "CAST(? AS text)" for PostgreSQL.
	TextArg string
	// LowerArg is a bound name lower-cased to compare with lower(name)
	// under the index principals_by_name.
	LowerArg string
	// Text is how a free-text value that may hold any character, NUL
	// included (key descriptions and tags), is bound: as the string for
	// SQLite, as its UTF-8 bytes for PostgreSQL's bytea columns.
	Text func(string) any
	// EmptyBlob is the literal of an empty BLOB (bytea).
	EmptyBlob string
}

// Dialect's methods are the statements whose arguments or SQL depend on
// it.

// NewStore returns the shared methods on b.
func NewStore(b Backend) Store {
	return Store{
		prefix: b.Prefix, r: b.Reader, w: b.Writer,
		write: b.Write, writeKey: b.WriteKey, writeKeys: b.WriteKeys, read: b.Read,
		purge: b.Purge, wrapErr: b.WrapErr, dialect: b.Dialect,
		byName: "account = ? AND kind = ? AND lower(name) = " + b.Dialect.LowerArg,
	}
}

// ByName is the condition that selects a principal by account, kind and
// name, case-insensitively; it is served by the index principals_by_name.
func (s *Store) ByName() string { return s.byName }

// checkLimit refuses a limit that is not positive.
func (s *Store) checkLimit(op string, limit int) error {
	if limit <= 0 {
		return fmt.Errorf("%s: %s: limit %d is not positive", s.prefix, op, limit)
	}
	return nil
}

// pathPrefix is the condition "column starts with ?" for a path prefix
// bound twice: substr and length count characters alike, and the
// comparison is exact (LIKE would fold case and treat _ and % specially).
func (s *Store) pathPrefix(column string) string {
	return "substr(" + column + ", 1, length(" + s.dialect.TextArg + ")) = ?"
}

// checkTags refuses two tags with one key: the store would otherwise have
// to pick one.
func checkTags(tags []store.Tag) error {
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		if seen[t.Key] {
			return fmt.Errorf("duplicate tag key %q", t.Key)
		}
		seen[t.Key] = true
	}
	return nil
}
