package sqlite

import (
	"bufio"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkColdRead is a key cache miss through the store alone: GetKey
// and KeyVersions of keys taken in turn from a data set filled beforehand
// (TRENT_BENCH_DB, the database file; TRENT_BENCH_IDS, its key ids one a
// line, as `trent bench populate --keys-file` writes them), from 16
// goroutines. It reports the process's CPU time per read besides ns/op.
func BenchmarkColdRead(b *testing.B) {
	path, idsPath := os.Getenv("TRENT_BENCH_DB"), os.Getenv("TRENT_BENCH_IDS")
	if path == "" || idsPath == "" {
		b.Skip("TRENT_BENCH_DB and TRENT_BENCH_IDS name a filled database and its key ids")
	}
	f, err := os.Open(idsPath)
	if err != nil {
		b.Fatal(err)
	}
	var ids []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// A line may be an ARN; the id is after the last slash.
		line := sc.Text()
		ids = append(ids, line[strings.LastIndexByte(line, '/')+1:])
	}
	f.Close()
	if len(ids) == 0 {
		b.Fatal("no key ids")
	}
	db, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var n atomic.Int64
	cpu0 := cpuTime()
	b.ResetTimer()
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := n.Add(1)
				if i > int64(b.N) {
					return
				}
				// A stride through the ids: neighbours in the file are
				// neighbours in the tables.
				id := ids[(i*7919)%int64(len(ids))]
				if _, err := db.GetKey(b.Context(), id); err != nil {
					b.Error(err)
					return
				}
				if _, err := db.KeyVersions(b.Context(), id); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}
