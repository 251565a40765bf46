package audit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/trent-kms/trent/internal/durable"
)

// Lookup indexes (index.go) live beside the event files, one per closed
// file: lookup-<the event file's time and number>.idx. They are no part
// of the log — Verify, Open and the digests never read them, and
// deleting them is always safe: Lookup reads a file without a valid
// index, and the indexer writes it again.
var indexFileRE = regexp.MustCompile(`^lookup-([0-9]{8}T[0-9]{6}Z-[0-9]{8,19})\.idx$`)

// indexFileName is the name of the index of the event file named name.
func indexFileName(name string) string {
	return "lookup-" + strings.TrimSuffix(strings.TrimPrefix(name, "audit-"), ".jsonl") + ".idx"
}

// indexer writes the index of each closed event file in the background:
// after each rotation, at Open for the files an older Trent left without
// one, and when Lookup found one missing, damaged or stale. It never
// blocks the writer (which only kicks it) nor a request (which reads
// without the index meanwhile).
//
// It works only for a log that is searched: from the first Lookup on, or
// from Open if the directory holds an index already (a log searched
// before). A node whose LookupEvents reads the cluster's table instead
// (ClusterSearcher) never calls Lookup, and spends nothing on indexes.
type indexer struct {
	l *Log
	// closedThrough: the event files up to this number are closed — the
	// writer will not touch them again.
	closedThrough atomic.Uint64
	active        atomic.Bool // the log is searched: index it
	want          chan struct{}
	quit, done    chan struct{}
	stopOnce      sync.Once
	built         atomic.Int64 // indexes written, for the tests
	swept         bool         // the first pass's sweep is done (owned by run)
}

func newIndexer(l *Log, closedThrough uint64) *indexer {
	x := &indexer{l: l, want: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	x.closedThrough.Store(closedThrough)
	if m, _ := filepath.Glob(filepath.Join(l.dir, "lookup-*.idx")); len(m) > 0 {
		x.active.Store(true)
	}
	go x.run()
	x.kick()
	return x
}

// activate starts the indexer's work: the log is searched.
func (x *indexer) activate() {
	if x != nil && !x.active.Load() {
		x.active.Store(true)
		x.kick()
	}
}

// closed tells the indexer that the event files up to seq are closed.
func (x *indexer) closed(seq uint64) {
	if x == nil {
		return
	}
	x.closedThrough.Store(seq)
	x.kick()
}

// kick asks for a pass over the directory, without waiting, if the log
// is searched.
func (x *indexer) kick() {
	if x == nil || !x.active.Load() {
		return
	}
	select {
	case x.want <- struct{}{}:
	default:
	}
}

// stop ends the indexer, abandoning an index half built (a leftover
// temporary file, if any, is removed at the next Open).
func (x *indexer) stop() {
	if x == nil {
		return
	}
	x.stopOnce.Do(func() { close(x.quit) })
	<-x.done
}

func (x *indexer) stopping() bool {
	select {
	case <-x.quit:
		return true
	default:
		return false
	}
}

func (x *indexer) run() {
	defer close(x.done)
	for {
		select {
		case <-x.want:
		case <-x.quit:
			return
		}
		x.pass()
	}
}

// pass indexes every closed event file without a valid index. The
// files are the log's own list (files.go), not a listing of the
// directory, which also holds a digest for every minute with events
// (~130,000 over 90 days, ~0.6 s to read sorted) and passes run at every
// rotation. Only the first pass lists the directory, to remove the
// indexes of event files that are gone; after it, a file leaves only by
// Archive, which removes its index itself.
func (x *indexer) pass() {
	files := x.l.files.get()
	if !x.swept {
		if err := x.sweep(files); err != nil {
			x.l.log.Warn("audit: lookup index: read directory", "err", err)
			return
		}
		x.swept = true
	}
	names := make(map[string]bool, len(files))
	var todo []nameInfo
	for _, f := range files {
		names[f.name] = true
		if f.seq <= x.closedThrough.Load() {
			todo = append(todo, f)
		}
	}
	x.l.indexCache.forget(names)
	var buf []byte
	for _, f := range todo {
		if x.stopping() {
			return
		}
		// Through the cache: an index checked before (its signature, its
		// file's tail) is not read and checked again at every rotation.
		if x.l.lookupIndex(f.name, &buf) != nil {
			continue
		}
		switch err := x.build(f.name); {
		case errors.Is(err, fs.ErrNotExist):
			// Archived from under the log (files are archived oldest
			// first): forget it, as a lookup that finds it gone does.
			x.l.files.forgetThrough(f.seq)
		case err != nil && err != errIndexStopped:
			// Lookup reads the file without it; the next pass tries again.
			x.l.log.Warn("audit: lookup index", "file", f.name, "err", err)
		}
	}
}

// sweep removes the indexes of event files that are not among files.
func (x *indexer) sweep(files []nameInfo) error {
	dirListings.Add(1)
	entries, err := durable.ReadNames(x.l.dir)
	if err != nil {
		return err
	}
	have := make(map[string]bool, len(files))
	for _, f := range files {
		have[indexFileName(f.name)] = true
	}
	for _, n := range entries {
		if indexFileRE.MatchString(n) && !have[n] {
			if err := os.Remove(filepath.Join(x.l.dir, n)); err != nil {
				x.l.log.Debug("audit: remove the lookup index of a file that is gone", "file", n, "err", err)
			}
		}
	}
	return nil
}

// build writes the index of the event file name: to a temporary file,
// renamed into place, so that a reader sees a whole index or none. It is
// not fsynced: after a crash, an index the disk did not keep whole fails
// its checksum and is written again; it never stands for the log.
func (x *indexer) build(name string) error {
	ix, err := buildIndex(filepath.Join(x.l.dir, name), x.stopping)
	if err != nil {
		return err
	}
	final := filepath.Join(x.l.dir, indexFileName(name))
	tmp := filepath.Join(x.l.dir, "."+indexFileName(name)+".tmp")
	data, err := signIndex(x.l.signer, ix.marshal())
	if err != nil {
		return err
	}
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	x.built.Add(1)
	return nil
}

// loadIndex returns the index of the event file name if there is one
// that the log signed and that describes the file as it is; nil if it is
// missing, damaged, not signed by this log's key, or of other bytes
// (stale). The index lives in *buf, which it grows: the
// index is good until buf is used again.
func (l *Log) loadIndex(name string, buf *[]byte) *fileIndex {
	ix, _ := l.loadIndexSized(name, buf)
	return ix
}

// loadIndexSized is loadIndex, and the size of the index file read.
func (l *Log) loadIndexSized(name string, buf *[]byte) (*fileIndex, int64) {
	data, err := readIndexFile(filepath.Join(l.dir, indexFileName(name)), buf)
	if err != nil {
		return nil, 0
	}
	body, err := checkIndexSignature(l.pub, data)
	if err != nil {
		return nil, 0
	}
	ix, err := parseIndex(body)
	if err != nil {
		return nil, 0
	}
	f, err := os.Open(filepath.Join(l.dir, name))
	if err != nil {
		return nil, 0
	}
	defer f.Close()
	if !ix.describes(name, f) {
		return nil, 0
	}
	return ix, int64(len(data))
}

// readIndexFile reads an index file of at most indexMaxBytes into *buf.
func readIndexFile(path string, buf *[]byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Size() > indexMaxBytes {
		return nil, errBadIndex
	}
	if int64(cap(*buf)) < fi.Size() {
		*buf = make([]byte, fi.Size())
	}
	data := (*buf)[:fi.Size()]
	if _, err := f.ReadAt(data, 0); err != nil {
		return nil, err
	}
	return data, nil
}
