package store

import (
	"context"
	"time"
)

// KeyUse is a KMS key's last successful cryptographic use, as
// GetKeyLastUsage answers it: taken from an audit event, and placed in the
// audit log by Node and Seq.
type KeyUse struct {
	KeyARN    string
	Operation string
	Time      time.Time // the event's time (whole seconds)
	EventID   string
	RequestID string
	Node      string // the audit log's node id; "" for a single node
	Seq       uint64 // the event's sequence number in that node's log
}

// Later reports whether u is later than v in the order every store keeps
// key uses in: by time, then node, then sequence number. (A clock that
// went back makes time and sequence disagree; both stores and the
// PostgreSQL trigger agree on this one order.)
func (u KeyUse) Later(v KeyUse) bool {
	ut, vt := u.Time.Unix(), v.Time.Unix()
	switch {
	case ut != vt:
		return ut > vt
	case u.Node != v.Node:
		return u.Node > v.Node
	}
	return u.Seq > v.Seq
}

// KeyUseMark is how far a node's audit log has been copied into the key
// use table: every use with a sequence number up to Seq is stored.
type KeyUseMark struct {
	Seq uint64
	// Hash is the SHA-256 of the log's line at Seq (what the next line
	// carries as trentPrevHash): at start a node checks that its log is
	// still the one the mark was taken from. Zero for Seq 0, and for a
	// mark stored before marks had hashes.
	Hash [32]byte
	// TrackingStart is GetKeyLastUsage's TrackingStartDate for this log:
	// the time of its first event, or of its opening if it was empty.
	TrackingStart time.Time
}

// KeyUses is a store that keeps each key's last use (GetKeyLastUsage), fed
// in batches from the audit log (internal/audit/usage.go) instead of one
// write per request.
type KeyUses interface {
	// LastKeyUse returns the key's latest stored use, false if none.
	LastKeyUse(ctx context.Context, keyARN string) (KeyUse, bool, error)
	// KeyUseMark returns node's mark (zero if none is stored).
	KeyUseMark(ctx context.Context, node string) (KeyUseMark, error)
	// PutKeyUses stores uses, each replacing the key's stored use only if
	// it is later, and node's mark, in one transaction: after a crash the
	// mark says exactly which uses the table may lack.
	PutKeyUses(ctx context.Context, node string, uses []KeyUse, mark KeyUseMark) error
}
