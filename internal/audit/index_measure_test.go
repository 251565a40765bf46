package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system CPU so far.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestLookupIndexMeasure measures, on a large log, what the lookup index
// costs and saves: its size and build CPU per MB of log, and a rare
// ResourceName lookup's CPU with and without it. A measurement, not a
// test: it runs only with TRENT_INDEX_MEASURE_DIR set (the log is written
// there first if absent; TRENT_INDEX_MEASURE_MB, default 1800).
//
//	TRENT_INDEX_MEASURE_DIR=/tmp/biglog go test ./internal/audit/ -run TestLookupIndexMeasure -v -timeout 1h
func TestLookupIndexMeasure(t *testing.T) {
	dir := os.Getenv("TRENT_INDEX_MEASURE_DIR")
	if dir == "" {
		t.Skip("TRENT_INDEX_MEASURE_DIR not set")
	}
	mb := 1800
	if s := os.Getenv("TRENT_INDEX_MEASURE_MB"); s != "" {
		mb, _ = strconv.Atoi(s)
	}
	// The log's signing key, kept beside it for the next run.
	signer := testSigner
	if der, err := os.ReadFile(dir + ".key"); err == nil {
		if signer, err = ParseSigningKey(der); err != nil {
			t.Fatal(err)
		}
	} else {
		der, err := MarshalSigningKey(signer)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir+".key", der)
	}
	open := func(o Options) *Log {
		o.Dir, o.Signer = dir, signer
		l, err := Open(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
	if len(eventFiles(t, dir)) == 0 {
		// Encrypt events of one account over a million keys and ten
		// thousand users.
		l := open(Options{FS: noSyncFS{}})
		r := rand.New(rand.NewPCG(7, 8))
		evs := make([]*Event, 256)
		began := time.Now()
		for i := 0; ; i++ {
			for j := range evs {
				e := testEvent(i*len(evs) + j)
				e.Resources = nil
				e.AddKey(fmt.Sprintf("arn:aws:kms:us-east-1:%s:key/%08x-0000-4000-8000-%012x", testAccount, r.IntN(1<<20), r.IntN(1<<20)))
				e.UserIdentity.UserName = fmt.Sprintf("user-%d", r.IntN(10000))
				evs[j] = e
			}
			if err := l.Record(context.Background(), evs...); err != nil {
				t.Fatal(err)
			}
			if i%256 == 0 && l.durable.Load().fileSeq*64 >= uint64(mb) {
				break
			}
		}
		closeLog(t, l)
		t.Logf("wrote the log in %v", time.Since(began))
	}
	files := eventFiles(t, dir)
	var logBytes int64
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		logBytes += fi.Size()
	}
	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("log: %d files, %.0f MB; load %s", len(files), float64(logBytes)/1e6, load)

	// Build cost, on this goroutine, nothing else running.
	cpu0, wall0 := cpuTime(t), time.Now()
	var idxBytes int64
	for _, f := range files {
		ix, err := buildIndex(f, nil)
		if err != nil {
			t.Fatal(err)
		}
		idxBytes += int64(len(ix.marshal()))
	}
	cpu := cpuTime(t) - cpu0
	t.Logf("build: %v CPU (%v wall) for %.0f MB: %.2f ms CPU per MB; index %.1f MB, %.3f %% of the log",
		cpu, time.Since(wall0), float64(logBytes)/1e6, float64(cpu.Microseconds())/1e3/(float64(logBytes)/1e6),
		float64(idxBytes)/1e6, 100*float64(idxBytes)/float64(logBytes))

	l := open(Options{})
	defer func(b bool) { lookupIndexes = b }(lookupIndexes)
	// Open started a new file: every one above is closed.
	waitFor := func() {
		deadline := time.Now().Add(10 * time.Minute)
		for _, f := range files {
			for l.loadIndex(filepath.Base(f), new([]byte)) == nil {
				if time.Now().After(deadline) {
					t.Fatal("no indexes")
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	waitFor()
	// A key with one event: the first of the oldest file.
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var v view
	if err := json.Unmarshal(data[:bytes.IndexByte(data, '\n')], &v); err != nil {
		t.Fatal(err)
	}
	queries := map[string]Query{
		"absent key":  {AccountID: testAccount, Attributes: []Attribute{{AttrResourceName, "arn:aws:kms:us-east-1:" + testAccount + ":key/ffffffff-0000-4000-8000-000000000000"}}},
		"rare key":    {AccountID: testAccount, Attributes: []Attribute{{AttrResourceName, v.Resources[0].ARN}}},
		"absent user": {AccountID: testAccount, Attributes: []Attribute{{AttrUsername, "mallory"}}},
	}
	for round := range 3 {
		for _, name := range []string{"absent key", "rare key", "absent user"} {
			for _, use := range []bool{false, true} {
				lookupIndexes = use
				opened, skipped := lookupFilesOpened.Load(), lookupFilesSkipped.Load()
				cpu0, wall0 := cpuTime(t), time.Now()
				ids, pages := lookupAll(t, l, queries[name])
				load, _ := os.ReadFile("/proc/loadavg")
				t.Logf("round %d %-11s index %-5v: %d results, %d pages, %d files read, %d skipped: %v CPU, %v wall; load %s",
					round, name, use, len(ids), pages, lookupFilesOpened.Load()-opened, lookupFilesSkipped.Load()-skipped,
					(cpuTime(t) - cpu0).Round(time.Millisecond), time.Since(wall0).Round(time.Millisecond), load[:14])
			}
		}
	}
}

// BenchmarkIndexBuild indexes the oldest file of TRENT_INDEX_MEASURE_DIR.
func BenchmarkIndexBuild(b *testing.B) {
	dir := os.Getenv("TRENT_INDEX_MEASURE_DIR")
	if dir == "" {
		b.Skip("TRENT_INDEX_MEASURE_DIR not set")
	}
	files := eventFiles(b, dir)
	fi, err := os.Stat(files[0])
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	for b.Loop() {
		if _, err := buildIndex(files[0], nil); err != nil {
			b.Fatal(err)
		}
	}
}
