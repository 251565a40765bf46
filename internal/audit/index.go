package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"math"
	"math/bits"
	"os"
	"slices"
)

// A lookup index describes one closed event file well enough that Lookup
// can tell, without reading the file, that no line of it could be found
// by the pre-filter (lookupfilter.go) — and so that none could match.
//
// It is built from the file's bytes the same way the pre-filter searches
// them, not from decoded events, so that its one promise reduces to the
// pre-filter's: a needle (a value followed by its closing quote, right
// after one of a few member names or a slash) can be found in the file
// only if the index may hold it. Each needle's value holds no quote, so
// the value is exactly the bytes from the end of its "before" to the
// next quote. The index therefore keeps, for every line:
//
//   - in a Bloom filter, every span of bytes between two consecutive
//     quotes, and every span from a slash to the next quote (what a
//     needle after `"` or after `/`, `:key/` can be);
//   - exactly, while there are few of them, the spans after each of
//     indexMembers (EventName, EventSource, ResourceType, AccessKeyId and
//     the account): a set per member, dropped for the Bloom filter once
//     it grows past indexExactMax;
//   - whether `"readOnly":true` and `"readOnly":false` occur;
//   - the smallest and largest eventTime as the pre-filter reads it
//     (eventTimeOf), or that some line has none it can read.
//
// Nothing in it is trusted beyond that: a Bloom filter answers "maybe"
// for values never added (false positives: the file is read), and a
// file the index does not describe — another size, another tail — is
// read as if there were no index. An index hides an event only if it was
// built from other bytes than the file holds, which its name, size and
// tail hash make as unlikely as the chain makes the file's own lines.
type fileIndex struct {
	segment   string // the event file's name
	size      int64  // its size when indexed
	tail      [32]byte
	lines     uint64 // non-empty lines
	timeKnown bool   // every non-empty line has a fixed-form eventTime
	minTime   string // of those lines, as written; "" without lines
	maxTime   string
	readOnly  [2]bool // `"readOnly":false` and `"readOnly":true` occur
	// exact maps a member name (an entry of indexMembers) to every span
	// that follows it; a member absent here had too many: see bloom.
	exact map[string]map[string]struct{}
	bloom bloom
}

// indexMembers are the members whose values an index keeps exactly while
// they are few: each is a needle's "before" (attributeNeedles, and the
// account's in newPrefilter).
// (In this order: indexBuilder.member names them by position.)
var indexMembers = []string{`"eventName":"`, `"eventSource":"`, `"type":"`, `"accessKeyId":"`, `"recipientAccountId":"`}

const (
	indexMagic = "trentlx1" // the format; a change of anything below, the hash included, changes it
	// indexTailBytes of a file's end are hashed into its index: they hold
	// its last line's trentSeq and trentPrevHash, which the chain ties to
	// every line before.
	indexTailBytes = 4096
	// indexExactMax values, or indexExactBytes of them, make a member's
	// set too large to keep: past either it goes to the Bloom filter.
	indexExactMax   = 256
	indexExactBytes = 16 << 10
	bloomBitsPer    = 10 // bits per value: ~1 % false positives with 8 bits set in a block
	// indexMaxBytes bounds what is read of an index file: a larger one is
	// not one this code wrote for a file of at most a few hundred MiB.
	indexMaxBytes = 64 << 20
)

var (
	readOnlyFalse = []byte(`"readOnly":false`)
	readOnlyTrue  = []byte(`"readOnly":true`)
)

// bloom is a blocked Bloom filter over byte strings: a value sets 8
// bits, one in each 64-bit word of one 64-byte block (a cache line), so
// that adding or asking costs one cache miss, not 8. Its blocks are a
// power of two, so that it can be folded in half (fold) and still answer.
// It is the bytes the index file holds, bit n of a block at byte n/8,
// bit n%8.
type bloom struct {
	bits []byte // len(bits)/bloomBlock blocks, a power of two
	// Or, in an index kept in memory once checked (indexcache.go), with
	// bits nil: the filter is left in the index file, at byte at, and
	// read a block at a time.
	file   string
	at     int64
	blocks uint64
}

const bloomBlock = 64

// indexHash is a 64-bit hash of b. It is part of the index format: it
// must not change without a new indexMagic.
func indexHash(b []byte) uint64 {
	h := uint64(len(b)) * 0x9e3779b97f4a7c15
	for len(b) >= 8 {
		h = bits.RotateLeft64((h^binary.LittleEndian.Uint64(b))*0xbf58476d1ce4e5b9, 31)
		b = b[8:]
	}
	var t uint64
	for i, c := range b {
		t |= uint64(c) << (8 * i)
	}
	h = (h ^ t) * 0x94d049bb133111eb
	// splitmix64's finish, so that every bit depends on every input bit.
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// spot is where a value of hash h lives: its block, and bloomBits(h).
func (f *bloom) spot(h uint64) ([]byte, uint64) {
	blocks := uint64(len(f.bits) / bloomBlock)
	off := (h & (blocks - 1)) * bloomBlock
	return f.bits[off : off+bloomBlock], bloomBits(h)
}

// bloomBits is a second hash whose 6-bit groups pick a bit of each of
// the block's 8 words.
func bloomBits(h uint64) uint64 {
	g := (h ^ 0x5851f42d4c957f2d) * 0x2545f4914f6cdd1d
	return g ^ g>>29
}

func (f *bloom) addHash(h uint64) {
	blk, g := f.spot(h)
	for w := range uint64(8) {
		n := w*64 + (g>>(6*w))&63
		blk[n>>3] |= 1 << (n & 7)
	}
}

// blockHas reports whether every bit g picks is set in blk.
func blockHas(blk []byte, g uint64) bool {
	for w := range uint64(8) {
		n := w*64 + (g>>(6*w))&63
		if blk[n>>3]&(1<<(n&7)) == 0 {
			return false
		}
	}
	return true
}

func (f *bloom) has(v []byte) bool {
	if f.bits == nil && f.file != "" {
		return f.hasOnDisk(v)
	}
	if len(f.bits) == 0 {
		return true // no filter: anything may be there
	}
	blk, g := f.spot(indexHash(v))
	return blockHas(blk, g)
}

// hasOnDisk is has, reading v's block from the index file; a block it
// cannot read may hold anything.
func (f *bloom) hasOnDisk(v []byte) bool {
	h := indexHash(v)
	fd, err := os.Open(f.file)
	if err != nil {
		return true
	}
	defer fd.Close()
	var blk [bloomBlock]byte
	if _, err := fd.ReadAt(blk[:], f.at+int64(h&(f.blocks-1))*bloomBlock); err != nil {
		return true
	}
	return blockHas(blk[:], bloomBits(h))
}

// fold halves the filter while it keeps at least bloomBitsPer bits for
// each value it is estimated to hold. A bit of block b of the half is
// set when it was in block b or b+half: the block a hash masked to the
// smaller size picks.
func (f *bloom) fold() {
	set := 0
	for _, c := range f.bits {
		set += bits.OnesCount8(c)
	}
	m := float64(len(f.bits) * 8)
	if set == len(f.bits)*8 {
		return // saturated: it answers "maybe" to all, at any size
	}
	n := -m / 8 * math.Log(1-float64(set)/m) // the usual estimate of the values added
	for len(f.bits) > bloomBlock && float64(len(f.bits)/2*8) >= n*bloomBitsPer {
		half := len(f.bits) / 2
		for i := range half {
			f.bits[i] |= f.bits[i+half]
		}
		f.bits = f.bits[:half:half]
	}
}

// indexBuilder gathers a file's index, a line at a time.
type indexBuilder struct {
	ix         fileIndex
	exactBytes map[string]int
	tooMany    map[string]bool
	// recent are hashes added lately, by their top bits: a span seen
	// again (a member name, the region…) skips the filter's cache miss.
	recent [4096]uint64
}

func (b *indexBuilder) add(v []byte) {
	h := indexHash(v)
	if r := &b.recent[h>>52]; *r != h {
		*r = h
		b.ix.bloom.addHash(h)
	}
}

// newIndexBuilder starts the index of a file of size bytes: the Bloom
// filter starts at half a bit per byte of the file and is folded down
// when done: a log of Encrypt events needs an eighth (a new value every
// ~80 bytes), so a log four times as dense keeps its 10 bits a value,
// and a denser one only answers "maybe" more often. Starting larger
// costs cache misses: at a bit per byte building took ~20 % more CPU.
func newIndexBuilder(size int64) *indexBuilder {
	n := bloomBlock
	for int64(n)*16 < size && n < 32<<20 {
		n *= 2
	}
	b := &indexBuilder{
		ix:         fileIndex{timeKnown: true, exact: map[string]map[string]struct{}{}, bloom: bloom{bits: make([]byte, n)}},
		exactBytes: map[string]int{},
		tooMany:    map[string]bool{},
	}
	for _, m := range indexMembers {
		b.ix.exact[m] = map[string]struct{}{}
	}
	return b
}

// addLine adds a line, without its newline. It walks the line's quotes
// once: the spans between them are what the filter keeps, and what it
// reads besides — a member's value, readOnly, the first eventTime — is
// found from those spans as the pre-filter finds it with its searches
// (every one of its needles starts at a quote).
func (b *indexBuilder) addLine(line []byte) {
	if len(line) == 0 {
		return // no needle is found on an empty line
	}
	ix := &b.ix
	ix.lines++
	var when []byte // the eventTime eventTimeOf reads
	timeSeen := false
	var name, last []byte // the two spans before seg, each after a quote
	prev := -1            // the quote before seg; -1: seg starts the line
	for {
		q := bytes.IndexByte(line[prev+1:], '"')
		if q < 0 {
			break // what follows the last quote is no needle's: none ends it
		}
		q += prev + 1
		seg := line[prev+1 : q]
		if prev >= 0 {
			b.add(seg)
			// seg follows `"name":"`.
			if len(last) == 1 && last[0] == ':' && name != nil {
				b.member(name, seg)
			}
			after := line[q+1:]
			switch string(seg) {
			case "readOnly": // `"readOnly":true` is this quote's
				if bytes.HasPrefix(after, readOnlyTrue[len(`"readOnly"`):]) {
					ix.readOnly[1] = true
				} else if bytes.HasPrefix(after, readOnlyFalse[len(`"readOnly"`):]) {
					ix.readOnly[0] = true
				}
			case "eventTime": // the first `"eventTime":"` is eventTimeOf's
				if !timeSeen && bytes.HasPrefix(after, []byte(`:"`)) {
					timeSeen = true
					when, _ = timeShape(after[2:])
				}
			}
			name, last = last, seg
		}
		for s := seg; ; {
			i := bytes.IndexByte(s, '/')
			if i < 0 {
				break
			}
			s = s[i+1:]
			b.add(s)
		}
		prev = q
	}
	if when == nil {
		ix.timeKnown = false
		return
	}
	if ix.minTime == "" || string(when) < ix.minTime {
		ix.minTime = string(when)
	}
	if string(when) > ix.maxTime {
		ix.maxTime = string(when)
	}
}

// member adds v to the exact set of the member name, if it has one.
func (b *indexBuilder) member(name, v []byte) {
	var m string
	switch string(name) {
	case "eventName":
		m = indexMembers[0]
	case "eventSource":
		m = indexMembers[1]
	case "type":
		m = indexMembers[2]
	case "accessKeyId":
		m = indexMembers[3]
	case "recipientAccountId":
		m = indexMembers[4]
	default:
		return
	}
	if b.tooMany[m] {
		return
	}
	set := b.ix.exact[m]
	if _, ok := set[string(v)]; ok {
		return
	}
	b.exactBytes[m] += len(v)
	if len(set) >= indexExactMax || b.exactBytes[m] > indexExactBytes {
		b.tooMany[m] = true
		delete(b.ix.exact, m) // the Bloom filter holds every span already
		return
	}
	set[string(v)] = struct{}{}
}

// finish returns the index of the file whose lines were added.
func (b *indexBuilder) finish(segment string, size int64, tail [32]byte) *fileIndex {
	ix := &b.ix
	ix.segment, ix.size, ix.tail = segment, size, tail
	ix.bloom.fold()
	return ix
}

// mayHold reports whether some line of the file may hold the needle. It
// is false only when none can.
func (ix *fileIndex) mayHold(n *needle) bool {
	if len(n.before) == 0 {
		return true
	}
	for _, b := range n.before {
		if ix.mayFollow(b, n.find) {
			return true
		}
	}
	return false
}

// mayFollow reports whether find may follow before in some line.
func (ix *fileIndex) mayFollow(before, find []byte) bool {
	if string(before) == `"` {
		switch string(find) {
		case string(readOnlyFalse[1:]):
			return ix.readOnly[0]
		case string(readOnlyTrue[1:]):
			return ix.readOnly[1]
		}
	}
	if len(before) == 0 || len(find) == 0 || find[len(find)-1] != '"' {
		return true // not a shape the index knows
	}
	v := find[:len(find)-1]
	if bytes.IndexByte(v, '"') >= 0 || bytes.IndexByte(v, '\n') >= 0 {
		return true // the span the index keeps would end sooner
	}
	switch before[len(before)-1] {
	case '"', '/':
	default:
		return true
	}
	if set, ok := ix.exact[string(before)]; ok {
		_, in := set[string(v)]
		return in
	}
	return ix.bloom.has(v)
}

// excludes reports whether no line of the file can be both found by p's
// needles and passed by p.mayMatch: what Lookup would read of the file
// leads to no decoding at all.
func (ix *fileIndex) excludes(p *prefilter, q *Query) bool {
	if ix.lines == 0 {
		return true
	}
	if ix.timeKnown {
		if p.end != nil && ix.minTime > string(p.end) || p.start != nil && ix.maxTime < string(p.start) {
			return true
		}
	}
	if p.acct != nil {
		acct := newNeedle(q.AccountID+`"`, `"recipientAccountId":"`)
		if !ix.mayHold(&acct) {
			return true
		}
	}
	for k := range p.needles {
		if ix.mayHold(&p.needles[k]) {
			return false
		}
	}
	return true
}

// buildIndex indexes the event file at path, reading it in chunks of
// whole lines. stop, if it returns true between chunks, abandons the work.
func buildIndex(path string, stop func() bool) (*fileIndex, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	tail, err := tailHash(f, size)
	if err != nil {
		return nil, err
	}
	b := newIndexBuilder(size)
	c := &chunks{f: f, at: size, size: 1 << 20}
	for {
		chunk, _, err := c.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if stop != nil && stop() {
			return nil, errIndexStopped
		}
		for len(chunk) > 0 {
			i := bytes.IndexByte(chunk, '\n')
			if i < 0 {
				i = len(chunk)
			}
			b.addLine(chunk[:i])
			chunk = chunk[min(i+1, len(chunk)):]
		}
	}
	return b.finish(fi.Name(), size, tail), nil
}

var errIndexStopped = errors.New("audit: index: stopped")

// tailHash is the SHA-256 of the last indexTailBytes of a file of size
// bytes.
func tailHash(f *os.File, size int64) ([32]byte, error) {
	n := min(size, indexTailBytes)
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, size-n); err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(buf), nil
}

// describes reports whether ix is the index of the event file at path as
// it is now: same name, size and tail.
func (ix *fileIndex) describes(name string, f *os.File) bool {
	fi, err := f.Stat()
	if err != nil || ix.segment != name || fi.Size() != ix.size {
		return false
	}
	tail, err := tailHash(f, fi.Size())
	return err == nil && tail == ix.tail
}

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// marshal writes the index: indexMagic, then its fields little-endian,
// strings with a 16-bit length, and a CRC-32C of everything before it
// last, so that a file cut short or damaged is refused whole.
func (ix *fileIndex) marshal() []byte {
	b := []byte(indexMagic)
	str := func(s string) {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
	}
	str(ix.segment)
	b = binary.LittleEndian.AppendUint64(b, uint64(ix.size))
	b = append(b, ix.tail[:]...)
	b = binary.LittleEndian.AppendUint64(b, ix.lines)
	var flags byte
	if ix.timeKnown {
		flags |= 1
	}
	if ix.readOnly[0] {
		flags |= 2
	}
	if ix.readOnly[1] {
		flags |= 4
	}
	b = append(b, flags)
	str(ix.minTime)
	str(ix.maxTime)
	b = append(b, byte(len(ix.exact)))
	for _, m := range indexMembers { // in a fixed order: the same file, the same bytes
		set, ok := ix.exact[m]
		if !ok {
			continue
		}
		str(m)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(set)))
		for _, v := range slices.Sorted(maps.Keys(set)) {
			str(v)
		}
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(ix.bloom.bits)/bloomBlock))
	b = append(b, ix.bloom.bits...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crc32c))
}

var errBadIndex = errors.New("audit: not a lookup index")

// parseIndex reads what marshal wrote; the index it returns holds on to
// data. The bytes are untrusted: anything
// else — cut short, damaged, a length past the end, a filter whose size
// is not a power of two — is refused, never a panic or an allocation
// larger than the input.
func parseIndex(data []byte) (*fileIndex, error) {
	if len(data) < len(indexMagic)+4 || string(data[:len(indexMagic)]) != indexMagic {
		return nil, errBadIndex
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, crc32c) != sum {
		return nil, fmt.Errorf("%w: checksum", errBadIndex)
	}
	r := indexReader{b: body[len(indexMagic):]}
	ix := &fileIndex{exact: map[string]map[string]struct{}{}}
	ix.segment = r.str()
	ix.size = int64(r.u64())
	copy(ix.tail[:], r.take(32))
	ix.lines = r.u64()
	flags := r.u8()
	ix.timeKnown, ix.readOnly[0], ix.readOnly[1] = flags&1 != 0, flags&2 != 0, flags&4 != 0
	ix.minTime, ix.maxTime = r.str(), r.str()
	for n := r.u8(); n > 0 && r.err == nil; n-- {
		m := r.str()
		if !slices.Contains(indexMembers, m) || ix.exact[m] != nil {
			return nil, fmt.Errorf("%w: member %q", errBadIndex, m)
		}
		count := r.u32()
		if uint64(count)*2 > uint64(len(r.b)) {
			return nil, fmt.Errorf("%w: %d values of %s", errBadIndex, count, m)
		}
		set := make(map[string]struct{}, count)
		for range count {
			set[r.str()] = struct{}{}
		}
		ix.exact[m] = set
	}
	blocks := r.u32()
	if r.err == nil && (blocks == 0 || blocks&(blocks-1) != 0 || uint64(blocks)*bloomBlock != uint64(len(r.b))) {
		return nil, fmt.Errorf("%w: filter of %d blocks in %d bytes", errBadIndex, blocks, len(r.b))
	}
	if r.err != nil {
		return nil, r.err
	}
	ix.bloom.bits = r.b // no copy: the index lives as long as data
	if ix.size < 0 || ix.minTime > ix.maxTime {
		return nil, fmt.Errorf("%w: size %d, times %q..%q", errBadIndex, ix.size, ix.minTime, ix.maxTime)
	}
	return ix, nil
}

// indexReader reads an index's fields; past the end it returns zeros and
// keeps the error.
type indexReader struct {
	b   []byte
	err error
}

func (r *indexReader) take(n int) []byte {
	if r.err != nil || n > len(r.b) {
		r.err = fmt.Errorf("%w: cut short", errBadIndex)
		r.b = nil
		return make([]byte, n)
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *indexReader) u8() uint8   { return r.take(1)[0] }
func (r *indexReader) u32() uint32 { return binary.LittleEndian.Uint32(r.take(4)) }
func (r *indexReader) u64() uint64 { return binary.LittleEndian.Uint64(r.take(8)) }
func (r *indexReader) str() string { return string(r.take(int(binary.LittleEndian.Uint16(r.take(2))))) }
