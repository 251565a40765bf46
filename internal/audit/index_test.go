package audit

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// indexedLog writes events drawn from weird over many small files,
// reopens the log so that every file is closed, and waits for the
// indexer to index them all.
func indexedLog(t *testing.T) (*Log, string, []*Event) {
	t.Helper()
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(3, 4))
	l := openLog(t, dir, Options{MaxFileBytes: 8 << 10})
	var events []*Event
	for i := range 200 {
		e := lookupEvent(r, base.Add(time.Duration(i)*time.Second), weird)
		if i%50 == 7 {
			e.UserAgent = strings.Repeat("long ", 400)
		}
		events = append(events, e)
		if err := l.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	closeLog(t, l)
	l = openLog(t, dir, Options{MaxFileBytes: 8 << 10})
	files := eventFiles(t, dir)
	if len(files) < 8 {
		t.Fatalf("%d files, want many", len(files))
	}
	waitIndexed(t, l, files)
	return l, dir, events
}

// waitIndexed searches the log once, which starts its indexer, and
// waits until every one of files has a valid index.
func waitIndexed(t *testing.T, l *Log, files []string) {
	t.Helper()
	if _, _, err := l.Lookup(context.Background(), Query{AccountID: testAccount, MaxResults: 1}); err != nil {
		t.Fatal(err)
	}
	waitIndexed0(t, l, files)
}

// waitIndexed0 waits until every one of files has a valid index.
func waitIndexed0(t *testing.T, l *Log, files []string) {
	t.Helper()
	waitFor(t, "the indexes", func() bool {
		for _, f := range files {
			if l.loadIndex(filepath.Base(f), new([]byte)) == nil {
				return false
			}
		}
		return true
	})
}

// TestLookupIndexSameAsFullScan: with indexes — valid, missing, damaged,
// cut short, stale (of other bytes than the file now holds) — Lookup
// answers what decoding every line answers, and the valid ones do skip
// files.
func TestLookupIndexSameAsFullScan(t *testing.T) {
	l, dir, events := indexedLog(t)
	l.indexer.stop() // so that what the test breaks stays broken
	files := eventFiles(t, dir)
	idx := func(i int) string { return filepath.Join(dir, indexFileName(filepath.Base(files[i]))) }

	check := func(name string, wantSkips bool) {
		t.Helper()
		views := decodeAll(t, dir)
		skipped := lookupFilesSkipped.Load()
		for _, q := range queriesFor(events) {
			want := referenceOf(views, q)
			for _, max := range []int{0, 3} {
				q := q
				q.MaxResults = max
				got, pages := lookupAll(t, l, q)
				if !slices.Equal(got, want) {
					t.Fatalf("%s: %+v: %d pages\n got %v\nwant %v", name, q, pages, got, want)
				}
			}
		}
		if n := lookupFilesSkipped.Load() - skipped; wantSkips && n == 0 {
			t.Errorf("%s: no file skipped: the indexes were not used", name)
		}
	}
	check("valid", true)

	// Damaged: a flipped bit in the filter, a cut, zeros, junk, gone.
	flip, err := os.ReadFile(idx(0))
	if err != nil {
		t.Fatal(err)
	}
	flip[len(flip)-40] ^= 1
	writeFile(t, idx(0), flip)
	cut, _ := os.ReadFile(idx(1))
	writeFile(t, idx(1), cut[:len(cut)/2])
	writeFile(t, idx(2), make([]byte, len(cut)))
	writeFile(t, idx(3), []byte("trentlx1 not an index"))
	if err := os.Remove(idx(4)); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if l.loadIndex(filepath.Base(files[i]), new([]byte)) != nil {
			t.Errorf("the broken index of %s is used", files[i])
		}
	}
	// Stale: file 5 now holds file 6's lines (as if replaced by another
	// log's), its index still the old bytes'; file 6's index is renamed
	// to file 7's.
	b6, _ := os.ReadFile(files[6])
	writeFile(t, files[5], b6)
	if err := os.Rename(idx(6), idx(7)); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{5, 7} {
		if l.loadIndex(filepath.Base(files[i]), new([]byte)) != nil {
			t.Errorf("the stale index of %s is used", files[i])
		}
	}
	check("broken", true)
}

// TestLookupIndexMustBeSigned: an index claiming that a file holds
// nothing — right name, size and tail, a valid checksum — hides the
// file's events only if the log's own key signed it. Unsigned (as an
// older Trent wrote them, or planted) or signed by another key, it is
// ignored and the file read.
func TestLookupIndexMustBeSigned(t *testing.T) {
	l, dir, _ := indexedLog(t)
	l.indexer.stop() // so that the indexer does not write over the forgeries
	files := eventFiles(t, dir)
	name := filepath.Base(files[0])
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	tail, err := tailHash(f, fi.Size())
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := bytes.Cut(mustRead(t, files[0]), []byte("\n"))
	var first struct{ EventID string }
	if err := json.Unmarshal(line, &first); err != nil || first.EventID == "" {
		t.Fatalf("first line of %s: %v", name, err)
	}
	q := Query{AccountID: testAccount, Attributes: []Attribute{{AttrEventID, first.EventID}}}
	empty := newIndexBuilder(fi.Size()).finish(name, fi.Size(), tail).marshal()
	other, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		data  func() []byte
		found bool
	}{
		{"unsigned", func() []byte { return empty }, true},
		{"signed by another key", func() []byte { b, _ := signIndex(other, empty); return b }, true},
		{"signature of other bytes", func() []byte {
			b, _ := signIndex(testSigner, empty)
			b[len(b)-5] ^= 1 // in the filter, checksum made right again
			binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[len(b)-len(empty):len(b)-4], crc32c))
			return b
		}, true},
		// The control: the same lie under the log's key is believed, so
		// the cases above pass because of the signature.
		{"signed by the log's key", func() []byte { b, _ := signIndex(testSigner, empty); return b }, false},
	} {
		writeFile(t, filepath.Join(dir, indexFileName(name)), tc.data())
		got, _ := lookupAll(t, l, q)
		if found := len(got) == 1; found != tc.found {
			t.Errorf("%s: found %v, want %v", tc.name, found, tc.found)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestLookupIndexSkipsFiles: a value no file holds, or only one, reads
// only the newest file (which Lookup reads whole) and the one that holds
// it; a time range before or after a file's events skips it.
// Without indexes every file is read.
func TestLookupIndexSkipsFiles(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{MaxFileBytes: 1})
	const n = 12
	for i := range n {
		e := ev(i*60, SourceKMS, "Encrypt", false, alice, "arn:aws:kms:us-east-1:"+testAccount+":key/k"+string(rune('a'+i)))
		if err := l.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	files := eventFiles(t, dir)
	if len(files) != n {
		t.Fatalf("%d files, want %d", len(files), n)
	}
	// Lookup reads the newest file whole, index or not: the writer may
	// still append to it (here, each file was closed at once).
	waitIndexed(t, l, files[:n-1])
	defer func(b bool) { lookupIndexes = b }(lookupIndexes)
	// Once read, an index is kept: the next lookups read a block of it.
	q := Query{AccountID: testAccount, Attributes: []Attribute{{AttrResourceName, "k-none"}}}
	lookupAll(t, l, q)
	loads := lookupIndexLoads.Load()
	lookupAll(t, l, q)
	if n := lookupIndexLoads.Load() - loads; n != 0 {
		t.Errorf("%d indexes read again", n)
	}
	for _, tc := range []struct {
		name    string
		q       Query
		results int
		files   int64 // read with indexes
	}{
		{"absent key", Query{AccountID: testAccount, Attributes: []Attribute{{AttrResourceName, "k-none"}}}, 0, 1},
		{"one key", Query{AccountID: testAccount, Attributes: []Attribute{{AttrResourceName, "kc"}}}, 1, 2},
		{"its ARN", Query{AccountID: testAccount, Attributes: []Attribute{{AttrResourceName, "arn:aws:kms:us-east-1:" + testAccount + ":key/kc"}}}, 1, 2},
		{"absent user", Query{AccountID: testAccount, Attributes: []Attribute{{AttrUsername, "mallory"}}}, 0, 1},
		{"absent name", Query{AccountID: testAccount, Attributes: []Attribute{{AttrEventName, "CreateKey"}}}, 0, 1},
		{"read-only", Query{AccountID: testAccount, Attributes: []Attribute{{AttrReadOnly, "true"}}}, 0, 1},
		{"other account", Query{AccountID: otherAcct}, 0, 1},
		{"before all", Query{AccountID: testAccount, EndTime: base.Add(-time.Hour)}, 0, 1},
		{"the first two", Query{AccountID: testAccount, EndTime: base.Add(90 * time.Second)}, 2, 3},
	} {
		for _, use := range []bool{true, false} {
			lookupIndexes = use
			opened := lookupFilesOpened.Load()
			got, _ := lookupAll(t, l, tc.q)
			read := lookupFilesOpened.Load() - opened
			if len(got) != tc.results {
				t.Errorf("%s (indexes %v): %d results, want %d", tc.name, use, len(got), tc.results)
			}
			if use && read != tc.files || !use && read != n {
				t.Errorf("%s (indexes %v): %d files read, want %d", tc.name, use, read, map[bool]int64{true: tc.files, false: n}[use])
			}
		}
	}
}

// TestLookupIndexFiles: indexes are files of their own beside the log
// (0600, named after their event file) that Verify ignores; a torn index
// and a leftover temporary file are harmless; an index whose event file
// is gone is removed, and a missing or torn one written again in the
// background — Lookup asks for it.
func TestLookupIndexFiles(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{MaxFileBytes: 1})
	record(t, l, 0, 5)
	files := eventFiles(t, dir)
	waitIndexed(t, l, files[:len(files)-1])
	closeLog(t, l)
	before := mustVerify(t, dir)

	ents, _ := os.ReadDir(dir)
	var idx []string
	for _, e := range ents {
		if indexFileRE.MatchString(e.Name()) {
			idx = append(idx, e.Name())
			fi, _ := e.Info()
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s mode %v, want 0600", e.Name(), fi.Mode().Perm())
			}
		}
	}
	if len(idx) < len(files)-1 || len(idx) > len(files) { // the newest was closed at once too: maybe
		t.Fatalf("index files %v for %d event files", idx, len(files))
	}
	// Torn, a leftover temporary file, an orphan, one missing.
	torn := filepath.Join(dir, idx[0])
	data, _ := os.ReadFile(torn)
	writeFile(t, torn, data[:len(data)-3])
	tmp := filepath.Join(dir, "."+idx[1]+".tmp")
	writeFile(t, tmp, data[:10])
	orphan := filepath.Join(dir, "lookup-20200101T000000Z-00000099.idx")
	writeFile(t, orphan, data)
	if err := os.Remove(filepath.Join(dir, idx[2])); err != nil {
		t.Fatal(err)
	}
	if after := mustVerify(t, dir); after.Files != before.Files || after.Events != before.Events {
		t.Errorf("verify with index files around: %+v, want %+v", after, before)
	}

	l = openLog(t, dir, Options{MaxFileBytes: 1})
	if _, err := os.Stat(tmp); err == nil {
		t.Error("the leftover temporary index survived Open")
	}
	q := Query{AccountID: testAccount, Attributes: []Attribute{{AttrResourceName, "nothing-has-this"}}}
	if got, _ := lookupAll(t, l, q); len(got) != 0 {
		t.Errorf("found %v", got)
	}
	waitIndexed(t, l, files) // every file is closed now
	waitFor(t, "the orphan's removal", func() bool { _, err := os.Stat(orphan); return err != nil })
}

// TestIndexRoundTrip: what marshal writes, parseIndex reads back, and
// the values added are held.
func TestIndexRoundTrip(t *testing.T) {
	b := newIndexBuilder(1 << 16)
	var lines [][]byte
	for i := range 300 {
		e := testEvent(i)
		body, err := e.appendBody(nil)
		if err != nil {
			t.Fatal(err)
		}
		line, _ := appendLine(nil, body, uint64(i+1), new([32]byte))
		lines = append(lines, line[:len(line)-1])
		b.addLine(line[:len(line)-1])
	}
	ix := b.finish("audit-20261206T101312Z-00000001.jsonl", 12345, [32]byte{1})
	got, err := parseIndex(ix.marshal())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.marshal(), ix.marshal()) {
		t.Error("the index read back differs")
	}
	if got.minTime != "2026-12-06T10:13:12Z" || got.maxTime != "2026-12-06T10:18:11Z" || !got.timeKnown || got.lines != 300 {
		t.Errorf("times %q..%q known %v, %d lines", got.minTime, got.maxTime, got.timeKnown, got.lines)
	}
	for _, v := range view0(t, lines[7]) {
		if !got.bloom.has([]byte(v)) {
			t.Errorf("%q is not in the filter", v)
		}
	}
	if _, ok := got.exact[`"eventName":"`]["Encrypt"]; !ok || len(got.exact[`"eventName":"`]) != 1 {
		t.Errorf("event names %v", got.exact[`"eventName":"`])
	}
	if _, ok := got.exact[`"accessKeyId":"`]; !ok {
		t.Error("one access key is not kept exactly")
	}
	// 300 lines of ~20 distinct spans each, at 10 bits a span: well under
	// the 64 KiB the filter started at.
	if n := len(got.bloom.bits); n > 16<<10 {
		t.Errorf("a filter of %d bytes", n)
	}
	false_ := 0
	for i := range 10000 {
		if got.bloom.has([]byte("absent-" + string(rune(i)))) {
			false_++
		}
	}
	if false_ > 500 {
		t.Errorf("%d of 10000 absent values are maybe there", false_)
	}
}

// view0 returns the searchable values of a line.
func view0(t *testing.T, line []byte) []string {
	var v view
	if err := json.Unmarshal(line, &v); err != nil {
		t.Fatal(err)
	}
	out := []string{v.EventID, v.EventName, v.EventSource, v.UserIdentity.AccessKeyID, v.username()}
	for _, r := range v.Resources {
		out = append(out, r.ARN, keyIDOf(r.ARN), r.Type)
	}
	return out
}

// FuzzParseIndex: an index file is untrusted input: any bytes are read
// back or refused, never a panic; what is read back writes the same.
func FuzzParseIndex(f *testing.F) {
	b := newIndexBuilder(1 << 12)
	b.addLine([]byte(`{"eventTime":"2026-12-06T10:13:12Z","eventName":"Encrypt","readOnly":false,"resources":[{"ARN":"arn:aws:kms:us-east-1:1:key/k","type":"AWS::KMS::Key"}],"recipientAccountId":"1"}`))
	good := b.finish("audit-20261206T101312Z-00000001.jsonl", 100, [32]byte{}).marshal()
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte(indexMagic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		// As given, and with its checksum made right, so that the fuzzer
		// reaches past it.
		sealed := slices.Clip(data[:max(len(data)-4, 0)])
		sealed = binary.LittleEndian.AppendUint32(sealed, crc32.Checksum(sealed, crc32c))
		for _, data := range [][]byte{data, sealed} {
			ix, err := parseIndex(data)
			if err != nil {
				continue
			}
			if again, err := parseIndex(ix.marshal()); err != nil || !bytes.Equal(again.marshal(), ix.marshal()) {
				t.Errorf("read back, written, read again: %v", err)
			}
			nd := newNeedle(`x"`, `"`, `/`)
			ix.mayHold(&nd)
		}
	})
}

// FuzzIndexSignature: checkIndexSignature, on any bytes, never panics
// and returns a body only where the log's key signed it.
func FuzzIndexSignature(f *testing.F) {
	body := newIndexBuilder(1<<12).finish("audit-20261206T101312Z-00000001.jsonl", 100, [32]byte{}).marshal()
	signed, err := signIndex(testSigner, body)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	f.Add(signed[:len(indexFileMagic)+2])
	f.Add(body)
	f.Add([]byte(indexFileMagic + "\xff\xff"))
	pub := testSigner.Public().(*ecdsa.PublicKey)
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := checkIndexSignature(pub, data)
		if err != nil {
			return
		}
		if !bytes.HasSuffix(data, got) {
			t.Fatalf("the body returned is not the file's tail")
		}
		if !bytes.Equal(got, body) {
			t.Fatalf("a body the test never signed verified: %q", got)
		}
	})
}

// FuzzIndexNeverHides: for any lines and any query, if the pre-filter
// finds a line that it passes — one Lookup would decode — the index of
// those lines does not exclude the query.
func FuzzIndexNeverHides(f *testing.F) {
	f.Add([]byte("{\"userName\":\"root\"}\n{\"arn\":\"x:root\",\"type\":\"Root\"}\n"), "root", uint8(3), int64(0))
	f.Add([]byte("\"eventName\":\"Encrypt\"\"eventName\":\"Encrypt\"\n\n\"eventTime\":\"2026-12-06T10:00:00Z\",\"recipientAccountId\":\"111122223333\""), "Encrypt", uint8(1), int64(60))
	f.Add([]byte(":key/k\"\n\"ARN\":\"k\"\"recipientAccountId\":\"111122223333\""), "k", uint8(5), int64(-1))
	f.Add([]byte("\"readOnly\":true,\"recipientAccountId\":\"111122223333\""), "true", uint8(2), int64(5))
	f.Add([]byte("a/b/c\"recipientAccountId\":\"111122223333\""), "c", uint8(3), int64(0))
	f.Fuzz(func(t *testing.T, chunk []byte, value string, key uint8, dt int64) {
		keys := []string{AttrEventID, AttrEventName, AttrReadOnly, AttrUsername, AttrResourceType, AttrResourceName, AttrEventSource, AttrAccessKeyID, ""}
		k := keys[int(key)%len(keys)]
		b := newIndexBuilder(int64(len(chunk)))
		for _, line := range bytes.Split(chunk, []byte("\n")) {
			b.addLine(line)
		}
		ix := b.finish("f", 0, [32]byte{})
		start := base.Add(time.Duration(dt%7200) * time.Minute)
		for _, q := range []Query{
			{AccountID: testAccount},
			{AccountID: testAccount, StartTime: start},
			{AccountID: testAccount, EndTime: start},
			{AccountID: value},
		} {
			if k != "" {
				q.Attributes = []Attribute{{k, value}}
			}
			pf := newPrefilter(&q)
			found := false
			for _, s := range candidates(nil, chunk, pf.needles) {
				if pf.mayMatch(chunk[s.start:s.end]) {
					found = true
				}
			}
			if found && ix.excludes(&pf, &q) {
				t.Fatalf("%+v: the index excludes lines the pre-filter passes\n%q", q, chunk)
			}
		}
	})
}

// TestLookupIndexOnlyWhenSearched: a log never searched (a node whose
// LookupEvents reads the cluster's table) writes no index; the first
// Lookup starts the indexer, and a log searched before indexes from Open
// on, each file it closes, with no Lookup.
func TestLookupIndexOnlyWhenSearched(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{MaxFileBytes: 1})
	record(t, l, 0, 4)
	closeLog(t, l)
	l = openLog(t, dir, Options{MaxFileBytes: 1})
	record(t, l, 4, 4)
	closeLog(t, l)
	if m, _ := filepath.Glob(filepath.Join(dir, "lookup-*")); len(m) > 0 {
		t.Fatalf("a log never searched has indexes: %v", m)
	}
	l = openLog(t, dir, Options{MaxFileBytes: 1})
	waitIndexed(t, l, eventFiles(t, dir)) // with a Lookup
	closeLog(t, l)
	l = openLog(t, dir, Options{MaxFileBytes: 1})
	record(t, l, 8, 3)
	files := eventFiles(t, dir)
	waitIndexed0(t, l, files[:len(files)-1]) // without
}

// TestIndexerListsOnce: a searched log indexes each file it closes
// without listing its directory again after the indexer's first pass:
// the directory holds a digest for every minute with events, and passes
// run at every rotation.
func TestIndexerListsOnce(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{MaxFileBytes: 1})
	record(t, l, 0, 3)
	files := eventFiles(t, dir)
	waitIndexed(t, l, files[:len(files)-1]) // the first pass, with its sweep
	<-l.usage.ready                         // GetKeyLastUsage's reading at Open, which may list
	listings := dirListings.Load()
	record(t, l, 3, 6)
	files, _ = filepath.Glob(filepath.Join(dir, "audit-*.jsonl")) // not counted: the test's own listing
	sort.Strings(files)
	waitIndexed0(t, l, files[:len(files)-1])
	if n := dirListings.Load() - listings; n != 0 {
		t.Errorf("the directory was listed %d times while %d more files were closed and indexed", n, 6)
	}
}

// TestIndexerForgetsArchivedFiles: files archived from under a searched
// log leave the indexer's work at its next pass, quietly: it works from
// the log's own list of files, which forgets them.
func TestIndexerForgetsArchivedFiles(t *testing.T) {
	dir, to := t.TempDir(), t.TempDir()
	threeRuns(t, dir)
	var logs syncBuffer
	l := openLog(t, dir, Options{MaxFileBytes: 2500, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	files := eventFiles(t, dir)
	waitIndexed(t, l, files[:len(files)-1])
	rep, err := Archive(dir, to, time.Now().Add(time.Hour))
	if err != nil || rep.EventFiles == 0 {
		t.Fatalf("Archive: %+v %v", rep, err)
	}
	moved := map[string]bool{}
	for _, f := range eventFiles(t, to) {
		moved[filepath.Base(f)] = true
	}
	record(t, l, 42, 10) // rotations: passes of the indexer
	waitFor(t, "the indexer to forget the archived files", func() bool {
		for _, f := range l.files.get() {
			if moved[f.name] {
				return false
			}
		}
		return true
	})
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if strings.Contains(logs.b.String(), "lookup index") {
		t.Errorf("the indexer complained about the archived files:\n%s", logs.b.String())
	}
}
