package testfiles

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCopyDir(t *testing.T) {
	from := t.TempDir()
	for name, content := range map[string]string{"a.jsonl": "one\n", "b.json": "two"} {
		if err := os.WriteFile(filepath.Join(from, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(from, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	to := filepath.Join(t.TempDir(), "made", "here")
	CopyDir(t, from, to)
	CopyDir(t, from, to) // again over the copies: replaced, not refused

	entries, err := os.ReadDir(to)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", e.Name(), fi.Mode().Perm())
		}
	}
	if len(names) != 2 || names[0] != "a.jsonl" || names[1] != "b.json" {
		t.Fatalf("copied %q, want the two files and not the subdirectory", names)
	}
	if b, err := os.ReadFile(filepath.Join(to, "a.jsonl")); err != nil || string(b) != "one\n" {
		t.Fatalf("a.jsonl: %q, %v", b, err)
	}
}
