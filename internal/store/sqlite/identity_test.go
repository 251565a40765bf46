package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/store"
)

// TestUpgradeKeepsAccessKeys opens a database written by the first schema,
// holding the account root's access keys, and checks that after migration
// they read back unchanged, as root keys that were never used, and that
// every foreign key holds.
func TestUpgradeKeepsAccessKeys(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	old, err := sql.Open("sqlite", dsn(path, true, busyTimeout))
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	for _, q := range []string{
		`CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`,
		ms[0].sql,
		`INSERT INTO schema_migrations (version, applied_at) VALUES (1, 1)`,
	} {
		if _, err := old.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := old.ExecContext(ctx, `INSERT INTO access_keys (id, account, principal_arn, wrapped_secret,
		created_at, active) VALUES ('AKIAOLD1', '111122223333', 'arn:aws:iam::111122223333:root', x'00ff', ?, 1),
		('AKIAOLD2', '444455556666', 'arn:aws:iam::444455556666:root', x'01', NULL, 0)`, created.UnixNano()); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	db := mustOpen(t, path)
	defer mustClose(t, db)
	want := []store.AccessKey{
		{ID: "AKIAOLD1", Account: "111122223333", PrincipalARN: "arn:aws:iam::111122223333:root", WrappedSecret: []byte{0, 0xff}, CreatedAt: created, Active: true},
		{ID: "AKIAOLD2", Account: "444455556666", PrincipalARN: "arn:aws:iam::444455556666:root", WrappedSecret: []byte{1}},
	}
	for _, w := range want {
		got, err := db.GetAccessKey(ctx, w.ID)
		if err != nil {
			t.Fatalf("GetAccessKey(%s): %v", w.ID, err)
		}
		if got.ID != w.ID || got.Account != w.Account || got.PrincipalARN != w.PrincipalARN ||
			string(got.WrappedSecret) != string(w.WrappedSecret) || !got.CreatedAt.Equal(w.CreatedAt) ||
			got.Active != w.Active || got.UserName != "" || !got.LastUsedAt.IsZero() ||
			got.LastUsedService != "" || got.LastUsedRegion != "" {
			t.Errorf("GetAccessKey(%s) after upgrade = %+v, want %+v", w.ID, got, w)
		}
		ks, err := db.ListAccessKeysForUser(ctx, w.Account, "")
		if err != nil || len(ks) != 1 || ks[0].ID != w.ID {
			t.Errorf("root keys of %s after upgrade = %+v, %v", w.Account, ks, err)
		}
	}
	if g, err := db.AuthzGeneration(ctx); err != nil || g != 0 {
		t.Errorf("AuthzGeneration after upgrade = %d, %v; want 0", g, err)
	}
	rows, err := db.r.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if rows.Next() {
		t.Error("PRAGMA foreign_key_check reports violations after the upgrade")
	}
}

// TestIdentityQueryPlans checks that the lookups the identity methods make
// (the WHERE and ORDER BY shapes of their queries) are served by an index,
// not a scan of the table or a sort.
func TestIdentityQueryPlans(t *testing.T) {
	db := openTemp(t)
	defer mustClose(t, db)
	queries := map[string]string{
		"principal by name":     "SELECT id FROM principals WHERE " + db.ByName(),
		"principals listed":     "SELECT * FROM principals WHERE account = ? AND kind = ? AND name > ? ORDER BY name LIMIT ?",
		"inline by name":        "DELETE FROM inline_policies WHERE name = ? AND principal_id = (SELECT id FROM principals WHERE " + db.ByName() + ")",
		"groups of user":        "SELECT group_id FROM group_members WHERE user_id = ?",
		"members of group":      "SELECT user_id FROM group_members WHERE group_id = ?",
		"entities of policy":    "SELECT principal_id FROM policy_attachments WHERE policy_id = ?",
		"policy by ARN":         "SELECT id, account FROM policies WHERE arn = ?",
		"policies of account":   "SELECT id FROM policies WHERE account = ? AND arn > ? ORDER BY arn",
		"user's access keys":    "SELECT id FROM access_keys WHERE user_id = ? ORDER BY id",
		"root's access keys":    "SELECT id FROM access_keys WHERE account = ? AND user_id IS NULL ORDER BY id",
		"grants of key":         "SELECT grant_id FROM grants WHERE key_id = ? AND grant_id > ? ORDER BY grant_id",
		"grants of grantee":     "SELECT grant_id FROM grants WHERE key_id = ? AND grantee_principal = ? AND grant_id > ? ORDER BY grant_id",
		"grants by name":        "SELECT grant_id FROM grants WHERE key_id = ? AND name = ? ORDER BY grant_id",
		"grants of retirer":     "SELECT grant_id FROM grants WHERE retiring_principal = ? AND grant_id > ? ORDER BY grant_id",
		"grant by id":           "SELECT key_id FROM grants WHERE grant_id = ?",
		"principal tags":        "SELECT tag_key FROM principal_tags WHERE principal_id = ?",
		"versions of policy":    "SELECT version FROM policy_versions WHERE policy_id = ?",
		"attachments of entity": "SELECT policy_id FROM policy_attachments WHERE principal_id = ?",
	}
	for name, q := range queries {
		plan := queryPlan(t, db.r, q)
		for _, line := range plan {
			if strings.HasPrefix(line, "SCAN ") && !strings.Contains(line, "USING") {
				t.Errorf("%s: plan scans a table: %q", name, plan)
			}
			if strings.Contains(line, "TEMP B-TREE") {
				t.Errorf("%s: plan sorts: %q", name, plan)
			}
		}
	}
}

func queryPlan(t *testing.T, q *sql.DB, query string) []string {
	t.Helper()
	n := strings.Count(query, "?")
	args := make([]any, n)
	for i := range args {
		args[i] = "x"
	}
	rows, err := q.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("EXPLAIN %s: %v", query, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}
