package audit

import (
	"bytes"
	"io"
	"os"
	"sync/atomic"
	"time"
)

// chunks reads a file's whole lines backwards, a chunk of many lines at a
// time, so that Lookup can search a chunk at once.
type chunks struct {
	f   *os.File
	at  int64  // the bytes before at are not read yet
	buf []byte // buf[:carry] holds bytes [at, at+carry): the end of a line that starts before at
	// carry is how many bytes at buf's start belong to the next chunk.
	carry int
	size  int // bytes read at a time
}

// lookupChunk is how much chunks reads at a time: large enough that a
// search runs long in bytes.Index, small enough that a page found in the
// newest lines costs little.
// (A variable for the tests.)
var lookupChunk = 1 << 20

// openChunks opens path to read its lines before offset end (-1: the
// file's size), which must be at a line boundary.
func openChunks(path string, end int64) (*chunks, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if end < 0 {
		end = fi.Size()
	}
	if end > fi.Size() {
		f.Close()
		return nil, ErrInvalidNextToken // only a token names another end
	}
	lookupFilesOpened.Add(1)
	return &chunks{f: f, at: end, size: lookupChunk}, nil
}

// next returns the next chunk of whole lines towards the file's start,
// each ended by a newline but perhaps the file's last one, and the offset
// of its first line; io.EOF at the file's start. The chunk is valid until
// the next call.
func (c *chunks) next() ([]byte, int64, error) {
	for {
		if c.at == 0 {
			if c.carry == 0 {
				return nil, 0, io.EOF
			}
			b := c.buf[:c.carry]
			c.carry = 0
			return b, 0, nil
		}
		n := int(min(int64(c.size), c.at))
		if cap(c.buf) < n+c.carry {
			nb := make([]byte, n+c.carry, max(n+c.carry, 2*cap(c.buf)))
			copy(nb[n:], c.buf[:c.carry])
			c.buf = nb
		} else {
			c.buf = c.buf[:n+c.carry]
			copy(c.buf[n:], c.buf[:c.carry])
		}
		if _, err := c.f.ReadAt(c.buf[:n], c.at-n64(n)); err != nil {
			return nil, 0, err
		}
		c.at -= n64(n)
		if c.at == 0 {
			c.carry = len(c.buf)
			continue
		}
		// The bytes up to the first newline may be the end of a line that
		// starts before at: they wait for the next read. (They may also
		// be a whole line; it comes with the next chunk then.)
		i := bytes.IndexByte(c.buf, '\n')
		if i < 0 || i == len(c.buf)-1 {
			c.carry = len(c.buf) // a line longer than the chunk, so far
			continue
		}
		chunk := c.buf[i+1:]
		c.carry = i + 1
		return chunk, c.at + n64(i+1), nil
	}
}

func n64(n int) int64 { return int64(n) }

func (c *chunks) close() { c.f.Close() }

// The bounds of one Lookup call's scan: past either, it answers the page
// it has so far with a NextToken where it stopped, as LookupEvents may (a
// NextToken says more events may exist, not that they do). A query that
// matches rarely over a large log then costs each request a bounded time
// and the client pages on, instead of one request reading the whole log
// past the client's read timeout — and past the server's own 30 s
// WriteTimeout, after which no answer reaches the client at all. 10 s is
// some 10 GB of log searched at this machine's speed, so most queries end
// in one call: the AWS CLI stops paging by itself when given
// --max-results, showing the NextToken instead. Variables for the tests.
var (
	lookupFilesOpened, lookupDecoded, lookupFilesSkipped atomic.Int64 // for the tests
	// lookupIndexes: Lookup skips the files whose index excludes the
	// query (index.go); the tests compare with and without.
	lookupIndexes = true

	lookupMaxScanTime        = 10 * time.Second
	lookupMaxScanBytes int64 = 0 // none
)
