package iam

import (
	"strings"
	"testing"
)

// TestImportAccessKey: importing a pair again is a no-op, the same id with
// another secret is refused, a short secret is refused without being
// quoted, and the stored secret is the pair's, wrapped.
func TestImportAccessKey(t *testing.T) {
	db, root := newStore(t)
	d := NewDirectory(db, root)
	ctx := t.Context()
	const id, secret = "AKIAIMPORTTEST00001", "a-secret-of-twenty-chars"
	if err := d.ImportAccessKey(ctx, "111122223333", id, secret); err != nil {
		t.Fatalf("first import: %v", err)
	}
	if err := d.ImportAccessKey(ctx, "111122223333", id, secret); err != nil {
		t.Fatalf("same pair again: %v", err)
	}
	if err := d.ImportAccessKey(ctx, "111122223333", id, "another-secret-of-twenty"); err == nil {
		t.Fatal("the same id with another secret was accepted")
	}
	err := d.ImportAccessKey(ctx, "111122223333", "AKIAIMPORTTEST00002", "short-secret")
	if err == nil || strings.Contains(err.Error(), "short-secret") {
		t.Fatalf("a 12-character secret: %v", err)
	}
	got, err := d.secretOf(ctx, id)
	if err != nil || string(got) != secret {
		t.Fatalf("stored secret: %q, %v", got, err)
	}
	k, err := db.GetAccessKey(ctx, id)
	if err != nil || strings.Contains(string(k.WrappedSecret), secret) {
		t.Fatalf("the stored secret is not wrapped: %v", err)
	}
}
