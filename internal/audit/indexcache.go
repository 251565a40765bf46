package audit

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

var lookupIndexLoads atomic.Int64 // indexes read whole, for the tests

// indexCache keeps what Lookup read of each index: its small part (the
// times, flags and exact sets), checked once — signature, CRC, name,
// size, tail — and trusted while neither the index file nor its event
// file changes (stampOf). The Bloom filter stays on disk: a lookup reads
// the one 64-byte block its value hashes to. So a lookup costs a few
// system calls per file, not a read of 1.5 % of the log.
type indexCache struct {
	mu sync.Mutex
	m  map[string]*cachedIndex // by event file name
}

type cachedIndex struct {
	idx, seg fileStamp // of the index file and its event file when checked
	ix       *fileIndex
}

// fileStamp is what stat tells of a file's content: its size,
// modification time, and (fileChange) inode and change time.
type fileStamp struct {
	size    int64
	modNano int64
	chg     fileChange
}

func stampOf(fi os.FileInfo) fileStamp {
	return fileStamp{size: fi.Size(), modNano: fi.ModTime().UnixNano(), chg: changeOf(fi)}
}

// lookupIndex returns the index of the closed event file name, as
// loadIndex, from the cache when both files are as they were.
func (l *Log) lookupIndex(name string, buf *[]byte) *fileIndex {
	idxPath := filepath.Join(l.dir, indexFileName(name))
	ifi, err1 := os.Stat(idxPath)
	sfi, err2 := os.Stat(filepath.Join(l.dir, name))
	c := &l.indexCache
	c.mu.Lock()
	defer c.mu.Unlock()
	if err1 != nil || err2 != nil {
		delete(c.m, name)
		return nil
	}
	if e := c.m[name]; e != nil && e.idx == stampOf(ifi) && e.seg == stampOf(sfi) {
		return e.ix
	}
	// Read and checked whole; stat before, so that a change after is
	// seen next time.
	lookupIndexLoads.Add(1)
	ix, n := l.loadIndexSized(name, buf)
	if ix == nil {
		delete(c.m, name)
		return nil
	}
	if n != ifi.Size() {
		// Replaced since the Stat: use what was read, keep nothing.
		delete(c.m, name)
		return ix
	}
	kept := *ix
	kept.bloom = bloom{file: idxPath, at: n - 4 - int64(len(ix.bloom.bits)), blocks: uint64(len(ix.bloom.bits) / bloomBlock)}
	if c.m == nil {
		c.m = map[string]*cachedIndex{}
	}
	c.m[name] = &cachedIndex{idx: stampOf(ifi), seg: stampOf(sfi), ix: &kept}
	return &kept
}

// forget drops the entries of event files not in keep.
func (c *indexCache) forget(keep map[string]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name := range c.m {
		if !keep[name] {
			delete(c.m, name)
		}
	}
}
