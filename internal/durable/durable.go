// Package durable makes what Trent writes outside its store survive a
// crash: a file's bytes synced before it is closed, and the directory
// entry that names it synced after it is created, linked or renamed. It
// is for the os file system; the audit log syncs through its own
// FileSystem, which tests replace.
package durable

import (
	"os"
	"runtime"
)

// WriteAndClose writes data to f, syncs f and closes it, returning the
// first error: f is closed whatever happens.
func WriteAndClose(f *os.File, data []byte) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// SyncDir makes dir's new entries durable. Windows cannot open a
// directory for syncing, and its rename and create are durable
// differently, so there it is skipped.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
