package postgres

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/testenv/pgtest"
)

// BenchmarkShipEvents ships batches of 256 Encrypt events (about 1 KiB
// each, as a node writes them) of 1000 or 10 keys, with and without migration 0007's
// key_last_use trigger, to show what the trigger adds to shipping (which
// runs off the request path):
//
//	go test ./internal/store/postgres -run '^$' -bench ShipEvents -benchtime 40x
func BenchmarkShipEvents(b *testing.B) {
	pgtest.Require(b)
	ctx := context.Background()
	const batch = 256
	for _, c := range []struct {
		trigger bool
		keys    uint64
	}{{true, 1000}, {true, 10}, {false, 1000}} {
		trigger := c.trigger
		b.Run(fmt.Sprintf("trigger=%v/keys=%d", trigger, c.keys), func(b *testing.B) {
			db, err := Open(ctx, pgtest.Database(b, ""))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if !trigger {
				if _, err := db.pool.Exec(ctx, "DROP TRIGGER audit_events_key_last_use ON audit_events"); err != nil {
					b.Fatal(err)
				}
			}
			seq := uint64(0)
			now := time.Now().UTC().Truncate(time.Second)
			b.ResetTimer()
			for range b.N {
				evs := make([]audit.ShippedEvent, batch)
				for i := range evs {
					seq++
					arn := fmt.Sprintf("arn:aws:kms:us-east-1:111122223333:key/%08d-1111-2222-3333-444455556666", seq%c.keys)
					line := fmt.Sprintf(`{"eventVersion":"1.11","userIdentity":{"type":"Root","principalId":"111122223333","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333","accessKeyId":"AKIAEXAMPLE"},"eventTime":"%s","eventSource":"kms.amazonaws.com","eventName":"Encrypt","awsRegion":"us-east-1","sourceIPAddress":"127.0.0.1","userAgent":"aws-sdk-go-v2/1.0","requestParameters":{"keyId":"%s","encryptionAlgorithm":"SYMMETRIC_DEFAULT"},"responseElements":null,"requestID":"req-%d","eventID":"ev-%d","readOnly":true,"resources":[{"accountId":"111122223333","type":"AWS::KMS::Key","ARN":"%s"}],"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management","trentSeq":%d}`,
						now.Format(time.RFC3339), arn, seq, seq, arn, seq)
					evs[i] = audit.ShippedEvent{Node: "n1", Seq: seq, Hash: sha256.Sum256([]byte(line + "\n")), File: "events-1.jsonl",
						EndOffset: int64(seq) * 1024, Line: []byte(line), EventTime: now, EventID: fmt.Sprintf("ev-%d", seq),
						EventName: "Encrypt", EventSource: audit.SourceKMS, Recipient: "111122223333", Username: "root",
						AccessKeyID: "AKIAEXAMPLE", ReadOnly: true, ResourceTypes: []string{audit.ResourceTypeKey},
						ResourceNames: []string{arn, arn[len(arn)-36:]}}
				}
				if err := db.ShipEvents(ctx, "n1", evs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/event")
			if trigger {
				var n int
				if err := db.pool.QueryRow(ctx, "SELECT count(*) FROM key_last_use").Scan(&n); err != nil || n != min(int(c.keys), int(seq)) {
					b.Fatalf("key_last_use rows: %d, %v", n, err)
				}
			}
		})
	}
}
