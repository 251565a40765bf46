package postgres

import (
	"crypto/sha256"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/audit"
)

// TestKeyLastUseBackfill: the last-use migration fills key_last_use from
// the events shipped before it with what its trigger made of the same
// events shipped after it, batch by batch — and that is the latest
// successful cryptographic use of each key: failed calls, service events,
// other operations and alias ARNs count for nothing, an older use shipped
// later replaces nothing, a tie in time goes to the greater (node, seq).
// The one-writer migration, which dropped the trigger, keeps what it
// wrote; after it shipping writes no key use (the nodes do).
func TestKeyLastUseBackfill(t *testing.T) {
	ctx := t.Context()
	batches := lastUseBatches()
	ship := func(db *DB) {
		t.Helper()
		for _, b := range batches {
			if err := db.ShipEvents(ctx, b[0].Node, b); err != nil {
				t.Fatal(err)
			}
		}
	}
	open := func(url string) *DB {
		t.Helper()
		db, err := Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}

	// The migrations before the one-writer one, the events, then the
	// rest: the trigger.
	url := emptyStore(t)
	ship(migratedBefore(t, url, oneWriterMigration))
	trigger := open(url)

	// The migrations before the last-use one, the events, then the rest:
	// the backfill.
	url = emptyStore(t)
	ship(migratedBefore(t, url, "_lastuse.sql"))
	backfill := open(url)

	// Every migration, then the events: no trigger.
	none := openTest(t)
	ship(none)

	want := []string{
		"arn:aws:kms:us-east-1:111122223333:key/k-late 1700000100 n1 12 Decrypt ev-late req-late",
		"arn:aws:kms:us-east-1:111122223333:key/k-nul 1700000004 n1 9 Encrypt ev-nul req-nul",
		"arn:aws:kms:us-east-1:111122223333:key/k1 1700000010 n2 1 Decrypt ev-k1b req-k1b",
		"arn:aws:kms:us-east-1:111122223333:key/k3 1700000005 n1 4 Sign ev-k3 req-k3",
		"arn:aws:kms:us-east-1:111122223333:key/k4 1700000006 n1 5 ReEncrypt ev-re req-re",
		"arn:aws:kms:us-east-1:111122223333:key/k5 1700000006 n1 5 ReEncrypt ev-re req-re",
		"arn:aws:kms:us-east-1:111122223333:key/k6 1700000007 n2 3 GenerateDataKey ev-k6b req-k6b",
	}
	for name, db := range map[string]*DB{"trigger": trigger, "backfill": backfill} {
		if got := keyLastUseRows(t, db); !slices.Equal(got, want) {
			t.Errorf("key_last_use by the %s:\n%s\nwant:\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	if got := keyLastUseRows(t, none); len(got) != 0 {
		t.Errorf("shipping after the one-writer migration wrote key uses:\n%s", strings.Join(got, "\n"))
	}

	// docs/postgres.md's statement that adds a lost node's shipped uses,
	// run for each node, makes the same table.
	doc, err := os.ReadFile("../../../docs/postgres.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```sql\n *(INSERT INTO key_last_use .*?)```").FindSubmatch(doc)
	if m == nil || !strings.Contains(string(m[1]), "'n-…'") {
		t.Fatal("docs/postgres.md has no statement INSERT INTO key_last_use for the node 'n-…'")
	}
	for _, node := range []string{"n1", "n2"} {
		if _, err := none.pool.Exec(ctx, strings.Replace(string(m[1]), "'n-…'", "'"+node+"'", 1)); err != nil {
			t.Fatalf("docs/postgres.md's statement for %s: %v", node, err)
		}
	}
	if got := keyLastUseRows(t, none); !slices.Equal(got, want) {
		t.Errorf("key_last_use by docs/postgres.md's statement:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// keyLastUseRows is key_last_use, a row a line, in ARN order.
func keyLastUseRows(t *testing.T, db *DB) []string {
	t.Helper()
	rows, err := db.pool.Query(t.Context(), `SELECT arn, event_time, node, seq, operation, event_id, request_id FROM key_last_use ORDER BY arn`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var arn, node, op, ev, req string
		var at, seq int64
		if err := rows.Scan(&arn, &at, &node, &seq, &op, &ev, &req); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(arn, " ", at, " ", node, " ", seq, " ", op, " ", ev, " ", req))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// lastUseBatches are three shipping batches of two nodes' events;
// TestKeyLastUseBackfill's want is the key_last_use they leave.
func lastUseBatches() [][]audit.ShippedEvent {
	const t0 = 1700000000
	key := func(id string) []string {
		return []string{"arn:aws:kms:us-east-1:111122223333:key/" + id, id}
	}
	ev := func(node string, seq uint64, dt int64, name, id, extra string, names ...string) audit.ShippedEvent {
		typ := "AwsApiCall"
		if name == "RotateKey" {
			typ = "AwsServiceEvent"
		}
		line := fmt.Sprintf(`{"eventTime":"%s","eventSource":"%s","eventName":"%s"%s,"requestID":"req-%s","eventID":"ev-%s","eventType":"%s"}`,
			time.Unix(t0+dt, 0).UTC().Format(time.RFC3339), audit.SourceKMS, name, extra, id, id, typ)
		types := []string{audit.ResourceTypeKey}
		if strings.Contains(strings.Join(names, " "), ":alias/") {
			types = append(types, "AWS::KMS::Alias")
		}
		return audit.ShippedEvent{Node: node, Seq: seq, Hash: sha256.Sum256([]byte(line + "\n")), File: "events-1.jsonl",
			EndOffset: int64(seq) * 512, Line: []byte(line), EventTime: time.Unix(t0+dt, 0).UTC(), EventID: "ev-" + id,
			EventName: name, EventSource: audit.SourceKMS, Recipient: "111122223333", Username: "root", AccessKeyID: "AKIAEXAMPLE",
			ReadOnly: name != "ReEncrypt", ResourceTypes: types, ResourceNames: names}
	}
	return [][]audit.ShippedEvent{
		{
			ev("n1", 1, 1, "Encrypt", "k1a", "", key("k1")...),
			ev("n1", 2, 2, "Encrypt", "k2", `,"errorCode":"DisabledException"`, key("k2")...), // failed: no use
			ev("n1", 3, 3, "CreateKey", "k3new", "", key("k3")...),                            // not a use
			ev("n1", 4, 5, "Sign", "k3", "", key("k3")...),
			ev("n1", 5, 6, "ReEncrypt", "re", "", append(key("k4"), key("k5")...)...),                                                 // a use of both keys
			ev("n1", 6, 7, "Encrypt", "k6a", "", key("k6")...),                                                                        // ties with n2's, which wins
			ev("n1", 7, 8, "Decrypt", "alias", "", append([]string{"arn:aws:kms:us-east-1:111122223333:alias/app"}, key("k7")[1])...), // no key ARN: no use
		},
		{
			ev("n2", 1, 10, "Decrypt", "k1b", "", key("k1")...),
			ev("n2", 2, 9, "RotateKey", "rot", "", key("k1")...), // a service event: no use
			ev("n2", 3, 7, "GenerateDataKey", "k6b", "", key("k6")...),
		},
		{
			ev("n1", 8, 0, "Decrypt", "k1old", "", key("k1")...),                                       // older than k1's use: replaces nothing
			ev("n1", 9, 4, "Encrypt", "nul", `,"encryptionContext":{"k":"a\u0000b"}`, key("k-nul")...), // no jsonb cast
			ev("n1", 10, 99, "Encrypt", "late0", "", key("k-late")...),
			ev("n1", 11, 100, "Encrypt", "late1", "", key("k-late")...),
			ev("n1", 12, 100, "Decrypt", "late", "", key("k-late")...), // same time, later seq: wins
		},
	}
}
