package durable

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
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
