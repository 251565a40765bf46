// Package durable makes what Trent writes outside its store survive a
// crash: a file's bytes synced before it is closed, and the directory
// entry that names it synced after it is created, linked or renamed. It
// is for the os file system; the audit log syncs through its own
// FileSystem, which tests replace.
package durable

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
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
// either nothing or all of it; it does not sync path's directory. The
// temporary name is new to this call (".<base>.<random>.tmp", created
// exclusively): two copies to one path at once each fill their own, and
// whichever is renamed last is whole, where one shared name let a copy
// truncate the other's under it. With chunk > 0 each chunk is made
// durable before the next is copied, so that a large copy made while a
// server serves never puts more than a chunk in the disk's queue ahead
// of the server's own flushes (the audit archive; docs/ARCHITECTURE.md
// has the measurements); 0 syncs once, at the end. Cancelling ctx stops it between chunks, leaving
// nothing at path. From one file to another the kernel copies
// (copy_file_range), and nothing passes through this process's memory.
// A crash leaves the temporary file: RemoveTemps.
func CopyNew(ctx context.Context, path string, r io.Reader, chunk int64) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*"+tempSuffix)
	if err != nil {
		return err
	}
	tmp := f.Name()
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
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// tempSuffix ends the names of CopyNew's temporary files.
const tempSuffix = ".tmp"

// IsTemp reports whether name is that of a temporary file: CopyNew's,
// or any other Trent writes beside a file before renaming it into place
// (".<name>.tmp"). Nothing reads them as part of what they stand for.
func IsTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.HasSuffix(name, tempSuffix)
}

// RemoveTemps removes the temporary files (IsTemp) that copies a crash
// interrupted left in dir, and returns how many. The caller makes sure
// that no copy into dir is under way: it would remove its file.
func RemoveTemps(dir string) (int, error) {
	names, err := ReadNames(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, name := range names {
		if !IsTemp(name) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return n, err
		}
		n++
	}
	return n, nil
}

// ReadNames returns the names in dir, unsorted: cheaper than os.ReadDir's
// sorted entries where the caller orders the names itself (the audit log's
// directories hold a digest per minute).
func ReadNames(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}
