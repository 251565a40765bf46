//go:build !linux

package durable

import "os"

// SyncInChunks syncs f: sync_file_range, which spreads the writing out,
// is Linux's (syncranges_linux.go).
func SyncInChunks(f *os.File, _ int64) error { return f.Sync() }
