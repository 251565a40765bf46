package store

import (
	"context"
	"strings"
	"time"
)

// AuditIntent is the audit outbox entry of a request that may change
// state: a small row the store writes in the same transaction as the
// change, so that a change is never committed without a trace of the
// request that made it. The audit log deletes the row once the request's
// event is durable, and at start writes the event of every row left by a
// process that stopped between the two (internal/audit/intent.go).
//
// The dispatch layer puts it in the request's context (WithAuditIntent);
// every write transaction run under that context inserts it (once: a
// request that writes several times updates its row). Writes without one
// — background jobs, populate, tools — write none.
type AuditIntent struct {
	Node      string    // the audit log's node id; "" for one node
	EventID   string    // the eventID the request's event will carry
	EventTime time.Time // the event's time
	// Body returns the event as known when a write runs, in the audit
	// log's encoding (who called, from where, the keys it named). It is
	// called on the caller's goroutine before each write.
	Body func() []byte
	// Keys are the ARNs of the keys the request's writes create, which
	// its event names only once the handler returns (NoteCreatedKey).
	Keys []string
	// Written is set once a write carried the intent, so that the audit
	// log asks for its deletion only then.
	Written bool
	// Committed is set by the store once a write carrying the intent
	// committed: a later write of the request updates the row.
	Committed bool
}

type intentKey struct{}

// WithAuditIntent returns ctx carrying in for the store's writes.
func WithAuditIntent(ctx context.Context, in *AuditIntent) context.Context {
	return context.WithValue(ctx, intentKey{}, in)
}

// AuditIntentFrom returns the intent ctx carries, or nil.
func AuditIntentFrom(ctx context.Context) *AuditIntent {
	in, _ := ctx.Value(intentKey{}).(*AuditIntent)
	return in
}

// NoteCreatedKey adds the ARN of key k, which the write about to run
// creates, to the intent ctx carries, if any.
func NoteCreatedKey(ctx context.Context, k Key) {
	if in := AuditIntentFrom(ctx); in != nil {
		in.Keys = append(in.Keys, KeyARN(k))
	}
}

// KeyARN is the ARN of a stored key, as the API names it (a multi-Region
// key's store id carries its region after a slash, which its ARN does
// not).
func KeyARN(k Key) string {
	id := k.ID
	if strings.HasPrefix(id, "mrk-") {
		if i := strings.IndexByte(id, '/'); i >= 0 {
			id = id[:i]
		}
	}
	return "arn:aws:kms:" + k.Region + ":" + k.Account + ":key/" + id
}

// AuditIntentID names a stored intent: its event's time, then its event
// id, the table's primary key (the time first, so that the rows of new
// requests go to the end of the table's b-tree instead of all over it).
type AuditIntentID struct {
	EventTime time.Time
	EventID   string
}

// StoredIntent is an intent as the store holds it.
type StoredIntent struct {
	Node      string
	EventID   string
	EventTime time.Time
	Keys      []string
	Body      []byte
	// Origin is the node whose request wrote the intent when another
	// node, Node, claimed it because its own had gone (PostgreSQL:
	// internal/audit/orphan.go), and ClaimedAt when; "" and zero while
	// the intent is its own node's.
	Origin    string
	ClaimedAt time.Time
}

// AuditIntents is the store's outbox table (store.AuditIntent).
type AuditIntents interface {
	// AuditIntents returns node's intents, oldest first.
	AuditIntents(ctx context.Context, node string) ([]StoredIntent, error)
	// DeleteAuditIntents deletes the given intents.
	DeleteAuditIntents(ctx context.Context, ids []AuditIntentID) error
}
