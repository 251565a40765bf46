// Package durable makes what Trent writes outside its store survive a
// crash: a file's bytes synced before it is closed, and the directory
// entry that names it synced after it is created, linked or renamed. It
// is for the os file system; the audit log syncs through its own
// FileSystem, which tests replace.
package durable

import (
	"context"
	"io"
	"os"
	"path/filepath"
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

// CopyNew copies what r reads to path, mode 0600, through a temporary
// name beside it, synced before it takes its name, so that path holds
// either nothing or all of it; it does not sync path's directory. With
// chunk > 0 each chunk is made durable before the next is copied, so
// that a large copy made while a server serves never puts more than a
// chunk in the disk's queue ahead of the server's own flushes (the
// audit archive; docs/ARCHITECTURE.md has the measurements); 0 syncs
// once, at the end. Cancelling ctx stops it between chunks, leaving
// nothing at path. From one file to another the kernel copies
// (copy_file_range), and nothing passes through this process's memory.
func CopyNew(ctx context.Context, path string, r io.Reader, chunk int64) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	step := chunk
	if step <= 0 {
		step = 1 << 62
	}
	for err == nil {
		if err = ctx.Err(); err != nil {
			break
		}
		var n int64
		n, err = io.CopyN(f, r, step)
		if n > 0 && (err == nil || err == io.EOF) {
			if serr := f.Sync(); serr != nil {
				err = serr
			}
		}
	}
	if err == io.EOF {
		err = nil
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
