package durable

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/trent-kms/trent/internal/testenv/testfiles"
)

func TestWriteAndClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteAndClose(f, []byte("data")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "data" {
		t.Fatalf("file holds %q, %v", b, err)
	}
	if err := f.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("f after WriteAndClose: Close = %v, want it closed already", err)
	}

	// A file open read-only: the write fails, and f is closed all the same.
	r, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteAndClose(r, []byte("more")); err == nil {
		t.Error("WriteAndClose on a read-only file succeeded")
	}
	if err := r.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("f after a failed WriteAndClose: Close = %v, want it closed already", err)
	}
}

func TestSyncDir(t *testing.T) {
	if err := SyncDir(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if err := SyncDir(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("SyncDir of a missing directory: %v", err)
	}
}

func TestSyncInChunks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), (1<<20)/16+1)
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	for _, chunk := range []int64{256 << 10, 1 << 30} {
		if err := SyncInChunks(f, chunk); err != nil {
			t.Fatalf("chunk %d: %v", chunk, err)
		}
	}
	f.Close()
	if err := SyncInChunks(f, 256<<10); err == nil {
		t.Fatal("SyncInChunks of a closed file: no error")
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the file after syncing: %d bytes, %v", len(got), err)
	}
}

// TestCopyNew: the copy is whole at its name with mode 0600 in either
// syncing mode; a cancelled copy leaves nothing, not even its temporary
// file.
func TestCopyNew(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 100_000)
	for _, chunk := range []int64{0, 64 << 10} {
		dir := t.TempDir()
		path := filepath.Join(dir, "copy")
		if err := CopyNew(t.Context(), path, bytes.NewReader(data), chunk); err != nil {
			t.Fatalf("chunk %d: %v", chunk, err)
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("chunk %d: %d bytes, %v", chunk, len(got), err)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
			t.Fatalf("chunk %d: mode %v", chunk, fi.Mode().Perm())
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := CopyNew(ctx, filepath.Join(dir, "cancelled"), bytes.NewReader(data), chunk); !errors.Is(err, context.Canceled) {
			t.Fatalf("chunk %d: cancelled copy: %v", chunk, err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Fatalf("chunk %d: %d files left, want the first copy alone", chunk, len(ents))
		}
	}
}

// TestCopyNewConcurrent: copies to one path at once each fill a
// temporary file of their own, so the file that takes the name is whole
// whichever is renamed last, and none is left behind.
func TestCopyNewConcurrent(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 200_000)
	dir := t.TempDir()
	path := filepath.Join(dir, "copy")
	const copies = 4
	errs := make(chan error, copies)
	for range copies {
		go func() { errs <- CopyNew(t.Context(), path, bytes.NewReader(data), 16<<10) }()
	}
	for range copies {
		if err := <-errs; err != nil {
			t.Errorf("CopyNew: %v", err)
		}
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the copy holds %d of %d bytes, %v", len(got), len(data), err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("%d files left, want the copy alone", len(ents))
	}
}

// TestRemoveTemps: what an interrupted copy leaves is removed, and
// nothing else.
func TestRemoveTemps(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		temp bool
	}{
		{".audit-20261206T101312Z-00000001.jsonl.1234567.tmp", true}, // CopyNew's
		{".audit-20261206T101312Z-00000001.jsonl.tmp", true},         // an older version's
		{"audit-20261206T101312Z-00000001.jsonl", false},
		{"audit-public-key.pem", false},
		{"notes.tmp", false},
		{".hidden", false},
	} {
		if got := IsTemp(c.name); got != c.temp {
			t.Errorf("IsTemp(%q) = %v, want %v", c.name, got, c.temp)
		}
		if err := os.WriteFile(filepath.Join(dir, c.name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := RemoveTemps(dir); n != 2 || err != nil {
		t.Fatalf("RemoveTemps = %d, %v; want 2", n, err)
	}
	for _, e := range testfiles.ReadDir(t, dir) {
		if IsTemp(e.Name()) {
			t.Errorf("%s left", e.Name())
		}
	}
	if ents := testfiles.ReadDir(t, dir); len(ents) != 4 {
		t.Errorf("%d files left, want 4", len(ents))
	}
}
