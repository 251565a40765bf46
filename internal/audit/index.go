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
	bloomK          = 7  // hashes per value
	bloomBitsPer    = 10 // bits per value: with 7 hashes, ~1 % false positives
	// indexMaxBytes bounds what is read of an index file: a larger one is
	// not one this code wrote for a file of at most a few hundred MiB.
	indexMaxBytes = 64 << 20
)

var (
	readOnlyFalse = []byte(`"readOnly":false`)
	readOnlyTrue  = []byte(`"readOnly":true`)
)

// bloom is a Bloom filter over byte strings whose size is a power of two
// words, so that it can be folded in half (fold) and still answer.
type bloom struct {
	k    uint8
	bits []uint64
}

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

func (f *bloom) add(v []byte) {
	mask := uint64(len(f.bits))*64 - 1
	h := indexHash(v)
	h1, h2 := h, h>>32|1
	for i := uint64(0); i < uint64(f.k); i++ {
		n := (h1 + i*h2) & mask
		f.bits[n>>6] |= 1 << (n & 63)
	}
}

func (f *bloom) has(v []byte) bool {
	if len(f.bits) == 0 {
		return true // no filter: anything may be there
	}
	mask := uint64(len(f.bits))*64 - 1
	h := indexHash(v)
	h1, h2 := h, h>>32|1
	for i := uint64(0); i < uint64(f.k); i++ {
		n := (h1 + i*h2) & mask
		if f.bits[n>>6]&(1<<(n&63)) == 0 {
			return false
		}
	}
	return true
}

// fold halves the filter while it keeps at least bloomBitsPer bits for
// each value it is estimated to hold. A bit n of the half is set when n
// or n+half was: the same bit a hash masked to the smaller size picks.
func (f *bloom) fold() {
	set := 0
	for _, w := range f.bits {
		set += bits.OnesCount64(w)
	}
	m := float64(len(f.bits) * 64)
	if set == len(f.bits)*64 {
		return // saturated: it answers "maybe" to all, at any size
	}
	n := -m / float64(f.k) * math.Log(1-float64(set)/m) // the usual estimate of the values added
	for len(f.bits) > 8 && float64(len(f.bits)/2*64) >= n*bloomBitsPer {
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
}

// newIndexBuilder starts the index of a file of size bytes: the Bloom
// filter starts at about a bit per byte of the file (a value every few
// dozen bytes, many repeated) and is folded down when done.
func newIndexBuilder(size int64) *indexBuilder {
	words := 8
	for int64(words)*64 < size && words < 1<<22 { // at most 32 MiB
		words *= 2
	}
	b := &indexBuilder{
		ix:         fileIndex{timeKnown: true, exact: map[string]map[string]struct{}{}, bloom: bloom{k: bloomK, bits: make([]uint64, words)}},
		exactBytes: map[string]int{},
		tooMany:    map[string]bool{},
	}
	for _, m := range indexMembers {
		b.ix.exact[m] = map[string]struct{}{}
	}
	return b
}

// addLine adds a line, without its newline.
func (b *indexBuilder) addLine(line []byte) {
	if len(line) == 0 {
		return // no needle is found on an empty line
	}
	ix := &b.ix
	ix.lines++
	if t, ok := eventTimeOf(line); ok {
		if ix.minTime == "" || string(t) < ix.minTime {
			ix.minTime = string(t)
		}
		if string(t) > ix.maxTime {
			ix.maxTime = string(t)
		}
	} else {
		ix.timeKnown = false
	}
	if !ix.readOnly[0] && bytes.Contains(line, readOnlyFalse) {
		ix.readOnly[0] = true
	}
	if !ix.readOnly[1] && bytes.Contains(line, readOnlyTrue) {
		ix.readOnly[1] = true
	}
	prev := -1 // the quote before seg; -1: seg starts the line
	for {
		q := bytes.IndexByte(line[prev+1:], '"')
		if q < 0 {
			return // what follows the last quote is no needle's: none ends it
		}
		q += prev + 1
		seg := line[prev+1 : q]
		if prev >= 0 {
			ix.bloom.add(seg)
			if prev > 0 && line[prev-1] == ':' {
				b.member(line[:prev+1], seg)
			}
		}
		for s := seg; ; {
			i := bytes.IndexByte(s, '/')
			if i < 0 {
				break
			}
			s = s[i+1:]
			ix.bloom.add(s)
		}
		prev = q
	}
}

// member adds v to the exact set of the member that ends head, if any.
func (b *indexBuilder) member(head, v []byte) {
	for _, m := range indexMembers {
		if !bytes.HasSuffix(head, []byte(m)) || b.tooMany[m] {
			continue
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
		return
	}
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
	b = append(b, ix.bloom.k)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(ix.bloom.bits)))
	for _, w := range ix.bloom.bits {
		b = binary.LittleEndian.AppendUint64(b, w)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crc32c))
}

var errBadIndex = errors.New("audit: not a lookup index")

// parseIndex reads what marshal wrote. The bytes are untrusted: anything
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
	ix.bloom.k = r.u8()
	words := r.u32()
	if r.err == nil && (ix.bloom.k == 0 || ix.bloom.k > 32 || words == 0 || words&(words-1) != 0 || uint64(words)*8 != uint64(len(r.b))) {
		return nil, fmt.Errorf("%w: filter of %d words, %d hashes", errBadIndex, words, ix.bloom.k)
	}
	if r.err != nil {
		return nil, r.err
	}
	ix.bloom.bits = make([]uint64, words)
	for i := range ix.bloom.bits {
		ix.bloom.bits[i] = binary.LittleEndian.Uint64(r.b[8*i:])
	}
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
