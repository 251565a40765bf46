package sqlite

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/storetest"
)

func TestKeyUsesConformance(t *testing.T) {
	storetest.RunKeyUses(t, func(t *testing.T) storetest.KeyUsesStore { return openTemp(t) })
}

// BenchmarkPutKeyUsesHot is the last-use flusher's write (internal/audit,
// usageflush.go) when a hot set of keys is used again between every two
// flushes: each op stores one newer use of every key, sorted by ARN, in
// transactions of 2,048 uses, the last with the mark — as Encrypt spread
// over 10,000 hot keys does every 5 s. It reports per flush the pages
// written to the WAL, the bytes the process wrote (wchar: the WAL, the
// statement journal's temporary file, checkpoints into the database file)
// and its CPU time.
//
//	go test ./internal/store/sqlite -run '^$' -bench PutKeyUsesHot -benchtime 20x
func BenchmarkPutKeyUsesHot(b *testing.B) {
	for _, keys := range []int{10000, 1000} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) { benchPutKeyUsesHot(b, keys) })
	}
}

func benchPutKeyUsesHot(b *testing.B, keys int) {
	db, err := Open(filepath.Join(b.TempDir(), "trent.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := b.Context()
	arns := make([]string, keys)
	for i := range arns {
		arns[i] = "arn:aws:kms:us-east-1:111122223333:key/" + uuid()
	}
	slices.Sort(arns)
	var seq uint64
	at := time.Unix(1_800_000_000, 0).UTC()
	// The uses of each flush are made before the timer runs: only the
	// store's part is measured.
	next := func() []store.KeyUse {
		at = at.Add(5 * time.Second)
		uses := make([]store.KeyUse, len(arns))
		for i, arn := range arns {
			seq++
			uses[i] = store.KeyUse{KeyARN: arn, Operation: "Encrypt", Time: at, Seq: seq, EventID: uuid(), RequestID: uuid()}
		}
		return uses
	}
	flush := func(uses []store.KeyUse) {
		last := uses[len(uses)-1].Seq
		mark := store.KeyUseMark{Seq: last, TrackingStart: time.Unix(1_800_000_000, 0).UTC()}
		for len(uses) > 0 {
			n, mk := min(len(uses), 2048), mark
			if n < len(uses) {
				mk.Seq = uses[0].Seq - 1
			}
			if err := db.PutKeyUses(ctx, "", uses[:n], mk); err != nil {
				b.Fatal(err)
			}
			uses = uses[n:]
		}
	}
	batches := make([][]store.KeyUse, b.N+1)
	for i := range batches {
		batches[i] = next()
	}
	flush(batches[0]) // the rows exist: later flushes replace them
	time.Sleep(300 * time.Millisecond)
	pages0, wchar0, cpu0 := walPagesWritten(b, db), wchar(b), cpuTime()
	b.ResetTimer()
	for i := range b.N {
		flush(batches[i+1])
	}
	b.StopTimer()
	time.Sleep(2 * checkpointEvery) // the last flush's checkpoint
	n := float64(b.N)
	b.ReportMetric(float64(walPagesWritten(b, db)-pages0)/n, "WALpages/flush")
	b.ReportMetric(float64(wchar(b)-wchar0)/n/(1<<20), "MiB-written/flush")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/n/1000, "cpu-ms/flush")
}

// uuid is a random version-4-like UUID string, as key ids, event ids and
// request ids are.
func uuid() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}

// wchar is the bytes the process has written so far (Linux).
func wchar(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		b.Skipf("no /proc/self/io: %v", err)
	}
	for _, ln := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(ln, "wchar: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatal("no wchar in /proc/self/io")
	return 0
}
