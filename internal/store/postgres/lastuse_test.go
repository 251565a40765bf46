package postgres

import (
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/testenv/pgtest"
)

// migratedBefore applies, to the empty schema at url, the migrations
// before the first one whose name ends with suffix (every one if none
// does), as Open would but stopping there, and returns a store on it.
func migratedBefore(tb testing.TB, url, suffix string) *DB {
	tb.Helper()
	ms := allMigrations(tb)
	n := slices.IndexFunc(ms, func(m migration) bool { return strings.HasSuffix(m.name, suffix) })
	if n < 0 {
		n = len(ms)
	}
	return migrated(tb, url, ms[:n])
}

// migratedWithout applies every migration but the one whose name ends
// with suffix.
func migratedWithout(tb testing.TB, url, suffix string) *DB {
	tb.Helper()
	ms := slices.DeleteFunc(allMigrations(tb), func(m migration) bool { return strings.HasSuffix(m.name, suffix) })
	return migrated(tb, url, ms)
}

func allMigrations(tb testing.TB) []migration {
	tb.Helper()
	ms, err := migrations()
	if err != nil {
		tb.Fatal(err)
	}
	return ms
}

// migrated applies ms to the empty schema at url and returns a store on
// it (without Open's own migrating).
func migrated(tb testing.TB, url string, ms []migration) *DB {
	tb.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	if _, err := pool.Exec(ctx, `CREATE TABLE schema_migrations (version integer NOT NULL PRIMARY KEY, applied_at bigint NOT NULL)`); err != nil {
		tb.Fatal(err)
	}
	for _, m := range ms {
		if _, err := pool.Exec(ctx, m.sql); err != nil {
			tb.Fatalf("migration %s: %v", m.name, err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO schema_migrations VALUES ($1, 0)`, m.version); err != nil {
			tb.Fatal(err)
		}
	}
	return &DB{pool: pool}
}

// oneWriterMigration is the migration that left the nodes the only writer
// of key_last_use (it dropped 0008's trigger on audit_events).
const oneWriterMigration = "_key_use_one_writer.sql"

// BenchmarkKeyUseWriters is what storing key uses costs the database, as
// a node does it: each round ships 256 Encrypt events (about 1 KiB each,
// of 1000 or 10 keys; the shipper, every 100 ms) and then writes their
// uses with the node's mark (the flusher, every second). "node+trigger" is
// the schema before the one-writer migration, where 0008's trigger on
// audit_events wrote each use a second time (every migration but that
// one); "node" is today's. Besides
// ns/op (both writes of a round), it reports per event: the time of the
// shipper's insert and of the flusher's write, the WAL PostgreSQL wrote,
// and the CPU time its processes used during each (the server's share,
// which every node's shipping adds to; counted in 10 ms ticks, so only
// sums over many rounds mean anything):
//
//	go test ./internal/store/postgres -run '^$' -bench KeyUseWriters -benchtime 40x
func BenchmarkKeyUseWriters(b *testing.B) {
	c := pgtest.Require(b)
	ctx := context.Background()
	url, err := c.NewDatabase(ctx, "")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.DropDatabase(context.Background(), url) })
	const batch = 256
	for _, w := range []string{"node+trigger", "node"} {
		for _, keys := range []uint64{1000, 10} {
			b.Run(fmt.Sprintf("writers=%s/keys=%d", w, keys), func(b *testing.B) {
				suffix := "-" // none
				if w == "node+trigger" {
					suffix = oneWriterMigration
				}
				db := migratedWithout(b, pgtest.Schema(b, url), suffix)
				var seq uint64
				now := time.Now().UTC().Truncate(time.Second)
				var ship, put, shipCPU, putCPU time.Duration
				wal0 := walInsertLSN(b, db)
				b.ResetTimer()
				for range b.N {
					evs, uses := shipBatch("n1", &seq, batch, keys, now)
					b.StopTimer()
					c0 := serverCPU(b, c)
					b.StartTimer()
					t0 := time.Now()
					if err := db.ShipEvents(ctx, "n1", evs); err != nil {
						b.Fatal(err)
					}
					t1 := time.Now()
					b.StopTimer()
					c1 := serverCPU(b, c)
					b.StartTimer()
					t2 := time.Now()
					if err := db.PutKeyUses(ctx, "n1", uses, store.KeyUseMark{Seq: seq, TrackingStart: now}); err != nil {
						b.Fatal(err)
					}
					ship, put = ship+t1.Sub(t0), put+time.Since(t2)
					b.StopTimer()
					c2 := serverCPU(b, c)
					b.StartTimer()
					shipCPU, putCPU = shipCPU+c1-c0, putCPU+c2-c1
				}
				b.StopTimer()
				events := float64(b.N * batch)
				b.ReportMetric(float64(ship.Nanoseconds())/events, "ship-ns/event")
				b.ReportMetric(float64(put.Nanoseconds())/events, "put-ns/event")
				b.ReportMetric(float64(walInsertLSN(b, db)-wal0)/events, "WAL-B/event")
				b.ReportMetric(float64(shipCPU.Microseconds())/events, "ship-server-CPU-µs/event")
				b.ReportMetric(float64(putCPU.Microseconds())/events, "put-server-CPU-µs/event")
				var n int
				if err := db.pool.QueryRow(ctx, "SELECT count(*) FROM key_last_use").Scan(&n); err != nil || n != min(int(keys), int(seq)) {
					b.Fatalf("key_last_use rows: %d, %v", n, err)
				}
			})
		}
	}
}

// shipBatch makes n Encrypt events of node, after *seq, each of one of
// keys keys, as the shipper sends them, and the uses the flusher writes
// for them: the latest of each key, in ARN order.
func shipBatch(node string, seq *uint64, n int, keys uint64, at time.Time) ([]audit.ShippedEvent, []store.KeyUse) {
	evs := make([]audit.ShippedEvent, n)
	latest := map[string]store.KeyUse{}
	for i := range evs {
		*seq++
		s := *seq
		arn := fmt.Sprintf("arn:aws:kms:us-east-1:111122223333:key/%08d-1111-2222-3333-444455556666", s%keys)
		line := fmt.Sprintf(`{"eventVersion":"1.11","userIdentity":{"type":"Root","principalId":"111122223333","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333","accessKeyId":"AKIAEXAMPLE"},"eventTime":"%s","eventSource":"kms.amazonaws.com","eventName":"Encrypt","awsRegion":"us-east-1","sourceIPAddress":"127.0.0.1","userAgent":"aws-sdk-go-v2/1.0","requestParameters":{"keyId":"%s","encryptionAlgorithm":"SYMMETRIC_DEFAULT"},"responseElements":null,"requestID":"req-%d","eventID":"ev-%d","readOnly":true,"resources":[{"accountId":"111122223333","type":"AWS::KMS::Key","ARN":"%s"}],"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management","trentSeq":%d}`,
			at.Format(time.RFC3339), arn, s, s, arn, s)
		evs[i] = audit.ShippedEvent{Node: node, Seq: s, Hash: sha256.Sum256([]byte(line + "\n")), File: "events-1.jsonl",
			EndOffset: int64(s) * 1024, Line: []byte(line), EventTime: at, EventID: fmt.Sprintf("ev-%d", s),
			EventName: "Encrypt", EventSource: audit.SourceKMS, Recipient: "111122223333", Username: "root",
			AccessKeyID: "AKIAEXAMPLE", ReadOnly: true, ResourceTypes: []string{audit.ResourceTypeKey},
			ResourceNames: []string{arn, arn[len(arn)-36:]}}
		latest[arn] = store.KeyUse{KeyARN: arn, Operation: "Encrypt", Time: at, EventID: fmt.Sprintf("ev-%d", s),
			RequestID: fmt.Sprintf("req-%d", s), Node: node, Seq: s}
	}
	uses := make([]store.KeyUse, 0, len(latest))
	for _, u := range latest {
		uses = append(uses, u)
	}
	slices.SortFunc(uses, func(a, b store.KeyUse) int { return cmp.Compare(a.KeyARN, b.KeyARN) })
	return evs, uses
}

// walInsertLSN is where PostgreSQL writes its WAL next, in bytes.
func walInsertLSN(tb testing.TB, db *DB) int64 {
	tb.Helper()
	var n int64
	if err := db.pool.QueryRow(context.Background(), `SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn`).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// serverCPU is the CPU time used so far by the cluster's backends.
func serverCPU(tb testing.TB, c *pgtest.Cluster) time.Duration {
	tb.Helper()
	d, err := c.ServerCPU()
	if err != nil {
		tb.Fatal(err)
	}
	return d
}
