package store

import (
	"context"
	"time"
)

// ChangeFeed is implemented by a store that several processes share (the
// PostgreSQL store): it tells each of them what the others changed, so that
// what they cache of the store can be dropped in time. A store only one
// process writes (SQLite) does not implement it: that process's own writes
// keep its caches right.
type ChangeFeed interface {
	// WatchChanges passes every change committed to the store, by any
	// process (this one included), to w until ctx ends, then returns
	// ctx's error. It reconnects by itself after a failure; while it
	// cannot deliver changes it does not call w.Fresh, so that the caller
	// can tell how current its knowledge is.
	WatchChanges(ctx context.Context, w ChangeWatcher) error
}

// ChangeWatcher receives a ChangeFeed's news. Its methods are called from
// one goroutine, one at a time, and must not block for long.
type ChangeWatcher interface {
	// Changed says that what c names may have changed: drop it from
	// every cache. A Change of kind ChangeAll means that changes may have
	// been missed (the feed was disconnected): drop everything.
	Changed(c Change)
	// Fresh says that every change committed before at has been passed
	// to Changed (named, or covered by a ChangeAll). at never goes back.
	Fresh(at time.Time)
	// Trouble reports why the feed is not delivering (a lost connection
	// and its reconnection), for the log.
	Trouble(err error)
}

// ChangeKind says what a Change names.
type ChangeKind uint8

const (
	// ChangeAll: anything may have changed.
	ChangeAll ChangeKind = iota
	// ChangeKey: the key KeyID — its metadata, tags, versions or
	// multi-Region family.
	ChangeKey
	// ChangeKeyAliases: the alias names of key KeyID.
	ChangeKeyAliases
	// ChangeAlias: the alias Name of Account and Region (its target, or
	// whether it exists).
	ChangeAlias
	// ChangeGrants: the grants of key KeyID.
	ChangeGrants
	// ChangeAuthz: identities, their policies or access keys (the
	// authorization generation moved).
	ChangeAuthz
)

// Change is one thing a ChangeFeed reports changed.
type Change struct {
	Kind  ChangeKind
	KeyID string
	// Account, Region and Name name the alias of a ChangeAlias.
	Account, Region, Name string
}
