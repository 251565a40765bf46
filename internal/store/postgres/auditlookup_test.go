package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/store"
)

// fillAuditEvents adds n events of account 111122223333 (and one in eight
// of 444455556666) straight into audit_events, shaped like shipped KMS
// events: a few names, 20 users, 40 access keys, 200 keys, one event in
// 500 also naming an alias. The lines are not real events: only the
// planner reads these rows.
func fillAuditEvents(t *testing.T, db *DB, n int) {
	t.Helper()
	if _, err := db.pool.Exec(t.Context(), `INSERT INTO audit_events (node, seq, hash, file, end_offset,
		event_time, recipient, event_id, event_name, event_source, username, access_key_id, read_only,
		resource_types, resource_names, line)
	SELECT CASE WHEN i % 2 = 0 THEN 'node-a' ELSE 'node-b' END, i, sha256(int8send(i)), 'audit-000001.log',
		i * 1200, 1796000000 + i * 5, acct, md5('ev' || i)::uuid::text,
		(ARRAY['Encrypt','Decrypt','GenerateDataKey','DescribeKey','CreateKey'])[1 + i % 5],
		'kms.amazonaws.com', 'user' || (i % 20), 'AKIA' || lpad((i % 40)::text, 16, '0'), i % 10 <> 7,
		CASE WHEN i % 500 = 3 THEN ARRAY['AWS::KMS::Key', 'AWS::KMS::Alias'] ELSE ARRAY['AWS::KMS::Key'] END,
		ARRAY['arn:aws:kms:us-east-1:' || acct || ':key/' || md5('key' || (i % 200))::uuid::text,
			md5('key' || (i % 200))::uuid::text],
		convert_to(repeat(md5(i::text), 30), 'UTF8')
	FROM (SELECT i, CASE WHEN i % 8 = 0 THEN '444455556666' ELSE '111122223333' END AS acct
		FROM generate_series(1::bigint, $1) i) s`, n); err != nil {
		t.Fatalf("fill audit_events: %v", err)
	}
	if _, err := db.pool.Exec(t.Context(), "ANALYZE audit_events"); err != nil {
		t.Fatal(err)
	}
}

// TestAuditLookupUsesAttributeIndexes: a LookupEvents search for a value
// the account has no event with is answered from the attribute's index
// (migration 0014), not by walking the account's events in
// audit_events_lookup or the table: the query the store sends, EXPLAINed
// on 40,000 events with the planner's own choices.
func TestAuditLookupUsesAttributeIndexes(t *testing.T) {
	db := openTest(t)
	defer db.Close()
	fillAuditEvents(t, db, 40000)
	start, end := int64(1796000000), int64(1796100000)
	for _, tc := range []struct {
		key, value string
		index      string
	}{
		{audit.AttrEventID, "00000000-0000-0000-0000-000000000000", "audit_events_event_id"},
		{audit.AttrEventName, "ScheduleKeyDeletion", "audit_events_event_name"},
		{audit.AttrEventSource, "sts.amazonaws.com", "audit_events_event_source"},
		{audit.AttrUsername, "nobody", "audit_events_username"},
		{audit.AttrAccessKeyID, "AKIANOSUCHKEY0000000", "audit_events_access_key_id"},
		{audit.AttrReadOnly, "false", "audit_events_read_write"},
		{audit.AttrResourceType, "AWS::S3::Bucket", "audit_events_resource_types"},
		{audit.AttrResourceName, "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000", "audit_events_resource_names"},
	} {
		for _, f := range []audit.EventFilter{
			{Account: "111122223333", Attribute: &audit.Attribute{Key: tc.key, Value: tc.value}, Limit: 51},
			{Account: "111122223333", Attribute: &audit.Attribute{Key: tc.key, Value: tc.value}, Limit: 51,
				Start: &start, End: &end, Before: &audit.EventKey{Time: 1796090000, Node: "node-a", Seq: 18000}},
		} {
			q, args, err := lookupQuery(f)
			if err != nil {
				t.Fatal(err)
			}
			plan := explain(t, db, q, args)
			if !strings.Contains(plan, tc.index) {
				t.Errorf("%s %q (Before %v): plan does not use %s:\n%s", tc.key, tc.value, f.Before != nil, tc.index, plan)
			}
		}
	}
	// The results are the same as without the indexes: TestClusterLookup
	// and the e2e Lookup tests.
}

func explain(t *testing.T, db *DB, q string, args []any) string {
	t.Helper()
	rows, err := db.pool.Query(t.Context(), "EXPLAIN "+q, append([]any{pgx.QueryExecModeExec}, args...)...)
	if err != nil {
		t.Fatalf("EXPLAIN %s: %v", q, err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// TestAuditLookupDeadlineEndsServerSearch: a search that outlives the
// store's call timeout (--database-timeout) is answered
// store.ErrUnavailable (a 500 to the client) at that
// timeout, and the server stops it too, rather than leaving it to run
// (here: to wait on a lock) after the caller has gone.
func TestAuditLookupDeadlineEndsServerSearch(t *testing.T) {
	url := emptyStore(t) + "&application_name=trent-lookup-deadline"
	db, err := OpenWith(t.Context(), url, Options{CallTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	locker, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close(context.Background())
	tx, err := locker.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck
	if _, err := tx.Exec(t.Context(), "LOCK TABLE audit_events IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() {
		_, err := db.FetchAuditEvents(context.Background(), audit.EventFilter{Account: "111122223333", Limit: 51})
		done <- err
	}()
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		_ = tx.Rollback(context.Background())
		<-done
		t.Fatal("FetchAuditEvents still waits 10 s after the store's call timeout of 300 ms")
	}
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("FetchAuditEvents past its deadline: %v, want store.ErrUnavailable", err)
	}

	// The lock is still held: a search the server did not end would wait
	// on it as long as it is.
	waiting := func() int {
		var n int
		if err := tx.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = 'trent-lookup-deadline' AND pid <> pg_backend_pid()
			AND query LIKE '%FROM audit_events WHERE recipient%' AND state = 'active'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for i := 0; waiting() > 0; i++ {
		if i == 100 {
			var info string
			_ = tx.QueryRow(t.Context(), `SELECT string_agg(format('pid %s, %s, waiting on %s %s since %s: %s', pid, state,
				wait_event_type, wait_event, query_start, query), E'\n') FROM pg_stat_activity
				WHERE application_name = 'trent-lookup-deadline' AND pid <> pg_backend_pid()`).Scan(&info)
			t.Fatalf("the search still runs on the server 10 s after its caller's deadline:\n%s", info)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
