package sqlite

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	sqlite "modernc.org/sqlite"

	"github.com/trent-kms/trent/internal/policy"
)

// BenchmarkCreateKeyConcurrent is CreateKey through the group commit alone,
// from 16 goroutines as the HTTP benchmark's 16 clients, with rows like
// the service's (default key policy, wrapped 32-byte material, ids with a
// prefix shared by a window of 64 keys as kms/keyid.go makes them; and
// 4,096, as it did before). It reports the
// writes per commit, the largest WAL file seen and the committer's
// finished checkpoints (WAL restarts), the pages written to the WAL per
// key, and the process's CPU time per key
// (steadier than ns/op on a shared machine), besides ns/op per key.
func BenchmarkCreateKeyConcurrent(b *testing.B) {
	for _, window := range []int64{64, 4096} {
		b.Run(fmt.Sprintf("window=%d", window), func(b *testing.B) { benchCreateKeys(b, window) })
	}
}

// benchCreateKeys is BenchmarkCreateKeyConcurrent with ids whose random
// prefix changes every window keys.
func benchCreateKeys(b *testing.B, window int64) {
	const clients = 16
	path := filepath.Join(b.TempDir(), "trent.db")
	db, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	pol := policy.Default("111122223333")
	var prefix [3]byte
	var n atomic.Int64
	newID := func(i int64) string {
		var u [16]byte
		_, _ = rand.Read(u[3:])
		if i%window == 0 || prefix == [3]byte{} {
			_, _ = rand.Read(prefix[:])
		}
		copy(u[:3], prefix[:])
		return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
	}
	var idMu sync.Mutex
	var maxWAL atomic.Int64
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() { // the WAL's size, as the loop sees it
		defer close(watched)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > maxWAL.Load() {
				maxWAL.Store(fi.Size())
			}
		}
	}()
	before := db.WriteStats()
	pages0 := walPagesWritten(b, db)
	cpu0 := cpuTime()
	b.ResetTimer()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := n.Add(1)
				if i > int64(b.N) {
					return
				}
				idMu.Lock()
				id := newID(i)
				idMu.Unlock()
				k, v := testKey(id)
				k.Tags = nil
				k.Policy = pol
				v.MaterialID = strings.Repeat("0f", 32)
				v.Wrapped = make([]byte, 1+12+32+16)
				_, _ = rand.Read(v.Wrapped)
				if err := db.CreateKey(b.Context(), k, v); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	cpu := cpuTime() - cpu0
	close(stop)
	<-watched
	ws := db.WriteStats()
	b.ReportMetric(float64(walPagesWritten(b, db)-pages0)/float64(b.N), "WALframes/op")
	b.ReportMetric(float64(ws.Writes-before.Writes)/float64(ws.Batches-before.Batches), "writes/commit")
	b.ReportMetric(float64(maxWAL.Load())/(1<<20), "maxWAL-MiB")
	b.ReportMetric(float64(ws.Finished-before.Finished), "restarts")
	if n := ws.Finished - before.Finished; n > 0 {
		b.ReportMetric(float64((ws.FinishTime-before.FinishTime).Microseconds())/float64(n), "µs/restart")
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
}

// walPagesWritten is the number of pages the writer connection has
// written to the WAL since it was opened. The committer must be idle.
func walPagesWritten(b *testing.B, db *DB) int {
	conn, err := db.w.Conn(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	var n int
	if err := conn.Raw(func(dc any) error {
		var err error
		n, _, err = dc.(sqlite.DBStatus).Status(sqlite.DBStatusCacheWrite, false)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	return n
}

// cpuTime is the CPU time the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
