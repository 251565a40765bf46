package audit

import (
	"fmt"
	"os"

	"github.com/trent-kms/trent/internal/durable"
)

// FileSystem is what the log's writer does to the disk. OS is the real
// one; tests wrap it to count fsyncs and to make writes fail or block,
// which a real disk does only when it is full or failing. Reading —
// Verify, Lookup, the scan at Open — uses the os package directly.
type FileSystem interface {
	// Create makes a new file for writing, with permission 0600, its
	// offset at 0. It fails if the file exists: the log never writes over
	// anything but the zeros of a segment it preallocated itself.
	Create(path string) (File, error)
	// SyncDir makes the directory's entries durable: a file created or
	// renamed in it survives a crash only after this returns.
	SyncDir(dir string) error
	// Rename moves a file within the directory, atomically replacing no
	// existing file (callers rename to fresh names only).
	Rename(oldPath, newPath string) error
	// Remove deletes a file.
	Remove(path string) error
}

// File is an open file the log appends to. Writes land at the file's
// offset, which only the log moves. A File that is also an io.Seeker can
// hold a preallocated segment (spare.go): zeros written ahead of need,
// which the log then writes over from the start.
type File interface {
	Write(p []byte) (int, error)
	// Sync returns once everything written is durable, with the file's
	// size (fdatasync on Linux: the timestamps need not be).
	Sync() error
	// Truncate cuts the file to size bytes: the writer cuts away a write
	// that failed half-way before it tries again.
	Truncate(size int64) error
	Close() error
}

// OS is the real file system.
type OS struct{}

var _ FileSystem = OS{}

func (OS) Create(path string) (File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

// osFile is an *os.File whose Sync is fdatasync where there is one: the
// log needs its data and size durable, not its timestamps, and on a
// preallocated segment fdatasync commits no metadata at all.
type osFile struct{ *os.File }

func (f osFile) Sync() error { return datasync(f.File) }

func (OS) SyncDir(dir string) error {
	if err := durable.SyncDir(dir); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

func (OS) Rename(oldPath, newPath string) error { return os.Rename(oldPath, newPath) }

func (OS) Remove(path string) error { return os.Remove(path) }
