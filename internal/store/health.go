package store

import "context"

// KeyCount is how many keys of one state and spec a store holds.
type KeyCount struct {
	State, Spec string
	Count       int64
}

// Observable is what a store offers to health checks and metrics, apart
// from Store because a store may lack it (callers check with a type
// assertion and report the check as unknown).
type Observable interface {
	// Ping reads the store once: nil means it answers.
	Ping(ctx context.Context) error
	// CountKeys counts the keys of every account and region by state and
	// spec, in one query.
	CountKeys(ctx context.Context) ([]KeyCount, error)
}
