package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"
)

// genesisHash is the trentPrevHash of the first event of a log: there is
// no previous line.
var genesisHash = [32]byte{}

// The file names. The UTC timestamp makes them sort in time order; the
// sequence number, which only grows, is what orders them (the writer never
// lets a timestamp go backwards, but Verify trusts the number, not the
// clock).
const (
	nameTimeLayout = "20060102T150405Z"
	// PublicKeyFile is the public half of the signing key, written beside
	// the events at Open.
	PublicKeyFile = "audit-public-key.pem"
)

var (
	eventFileRE  = regexp.MustCompile(`^audit-([0-9]{8}T[0-9]{6}Z)-([0-9]{8,19})\.jsonl$`)
	digestFileRE = regexp.MustCompile(`^digest-([0-9]{8}T[0-9]{6}Z)-([0-9]{8,19})\.json$`)
)

func eventFileName(t time.Time, seq uint64) string {
	return fmt.Sprintf("audit-%s-%08d.jsonl", t.UTC().Format(nameTimeLayout), seq)
}

func digestFileName(t time.Time, seq uint64) string {
	return fmt.Sprintf("digest-%s-%08d.json", t.UTC().Format(nameTimeLayout), seq)
}

// nameInfo is what a file's name says, and the directory it is in.
type nameInfo struct {
	dir  string
	name string
	time time.Time
	seq  uint64
}

func (n nameInfo) path() string { return filepath.Join(n.dir, n.name) }

func parseName(re *regexp.Regexp, name string) (nameInfo, bool) {
	m := re.FindStringSubmatch(name)
	if m == nil {
		return nameInfo{}, false
	}
	t, err := time.Parse(nameTimeLayout, m[1])
	if err != nil {
		return nameInfo{}, false
	}
	seq, err := strconv.ParseUint(m[2], 10, 64)
	if err != nil || seq == 0 {
		return nameInfo{}, false
	}
	return nameInfo{name: name, time: t, seq: seq}, true
}

// appendLine appends the event line of body — an event's JSON object —
// with the log's two fields added at its end: the event's sequence number
// in the log and the hash of the line before it. It returns the line's
// hash: SHA-256 of its bytes as written, newline included.
func appendLine(dst, body []byte, seq uint64, prev *[32]byte) ([]byte, [32]byte) {
	start := len(dst)
	dst = append(dst, body[:len(body)-1]...) // without its closing brace
	dst = append(dst, `,"trentSeq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, `,"trentPrevHash":"`...)
	dst = hex.AppendEncode(dst, prev[:])
	dst = append(dst, "\"}\n"...)
	return dst, sha256.Sum256(dst[start:])
}

// trentSuffix starts the log's own fields in a line.
var trentSuffix = []byte(`,"trentSeq":`)

// cloudTrailJSON returns the event of a line (without its newline) as
// CloudTrail would show it: without the log's own fields.
func cloudTrailJSON(line []byte) []byte {
	i := bytes.LastIndex(line, trentSuffix)
	if i < 0 {
		return line
	}
	out := make([]byte, 0, i+1)
	out = append(out, line[:i]...)
	return append(out, '}')
}

// lineFields are the log's fields of a line.
type lineFields struct {
	Seq      uint64
	PrevHash [32]byte
}

var errNotObject = errors.New("not a JSON object")

// parseLine parses one event line, without its newline, as Verify reads
// it: a JSON object with a trentSeq of at least 1 and a trentPrevHash of
// 64 lowercase hex digits. The other fields are not judged here: the hash
// chain, not the parser, is what proves a line unedited.
//
// Its answer is encoding/json's (parseLineJSON), which takes ~10 µs for a
// typical line; lineFieldsFast gives the same answer in a fraction of that
// for the lines Trent writes, and defers to it for anything else
// (FuzzParseLine holds the two together). Verify, the shipper and Open
// parse every line.
func parseLine(b []byte) (lineFields, error) {
	if f, ok := lineFieldsFast(b); ok {
		return f, nil
	}
	return parseLineJSON(b)
}

// parseLineJSON is parseLine through encoding/json.
func parseLineJSON(b []byte) (lineFields, error) {
	if len(b) == 0 || b[0] != '{' {
		return lineFields{}, errNotObject
	}
	var v struct {
		Seq  *uint64 `json:"trentSeq"`
		Prev *string `json:"trentPrevHash"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return lineFields{}, fmt.Errorf("not valid JSON: %w", err)
	}
	if v.Seq == nil || *v.Seq == 0 {
		return lineFields{}, errors.New("no trentSeq of 1 or more")
	}
	if v.Prev == nil {
		return lineFields{}, errors.New("no trentPrevHash")
	}
	var f lineFields
	f.Seq = *v.Seq
	if len(*v.Prev) != 64 || !isLowerHex(*v.Prev) {
		return lineFields{}, fmt.Errorf("trentPrevHash %q is not 64 lowercase hex digits", *v.Prev)
	}
	if _, err := hex.Decode(f.PrevHash[:], []byte(*v.Prev)); err != nil {
		return lineFields{}, fmt.Errorf("trentPrevHash: %w", err)
	}
	return f, nil
}

// lineFieldsFast reads a line that parseLineJSON would accept, and ok says
// it is sure of the answer: the line is valid JSON (scanJSON's scanner,
// held to json.Valid), an object whose top-level names are plain ASCII,
// exactly one of which matches trentSeq and one trentPrevHash the way
// encoding/json matches names (ignoring ASCII case), with a value of
// digits from 1 to 2^64-1 and a string of 64 lowercase hex digits. For
// anything else — an escaped or non-ASCII name, which encoding/json might
// fold onto these, a duplicate, whose earlier value it would also decode
// — it says nothing, and parseLineJSON decides.
func lineFieldsFast(b []byte) (f lineFields, ok bool) {
	if len(b) < 2 || b[0] != '{' {
		return f, false
	}
	c := scanner{src: b, i: 1, depth: 1}
	c.space()
	var seq, prev []byte
	nSeq, nPrev := 0, 0
	for {
		if x, _ := c.peek(); x != '"' {
			return f, false // also an empty object: parseLineJSON says why
		}
		k := c.i
		if !c.str() {
			return f, false
		}
		name := b[k+1 : c.i-1]
		c.space()
		if x, _ := c.peek(); x != ':' {
			return f, false
		}
		c.i++
		c.space()
		v := c.i
		if !c.value() {
			return f, false
		}
		for _, x := range name {
			if x == '\\' || x >= utf8.RuneSelf {
				return f, false
			}
		}
		switch {
		case bytes.EqualFold(name, []byte("trentSeq")):
			seq, nSeq = b[v:c.i], nSeq+1
		case bytes.EqualFold(name, []byte("trentPrevHash")):
			prev, nPrev = b[v:c.i], nPrev+1
		}
		more, valid := c.next('}')
		if !valid {
			return f, false
		}
		if !more {
			break
		}
	}
	c.space()
	if c.i != len(b) || nSeq != 1 || nPrev != 1 || len(prev) != 66 || prev[0] != '"' {
		return f, false
	}
	var n uint64
	for _, x := range seq {
		d := uint64(x - '0')
		if x < '0' || x > '9' || n > (math.MaxUint64-d)/10 {
			return f, false
		}
		n = n*10 + d
	}
	hash := prev[1:65]
	for _, x := range hash {
		if !(x >= '0' && x <= '9' || x >= 'a' && x <= 'f') {
			return f, false
		}
	}
	if n == 0 || prev[65] != '"' {
		return f, false
	}
	hex.Decode(f.PrevHash[:], hash) // cannot fail: 64 hex digits
	f.Seq = n
	return f, true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// splitLines splits a file's bytes into its complete lines (each with its
// newline) and returns what follows the last newline: an incomplete line,
// or nothing.
func splitLines(data []byte) (lines [][]byte, torn []byte) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return lines, data
		}
		lines = append(lines, data[:i+1])
		data = data[i+1:]
	}
	return lines, nil
}

// splitSegment splits an event file's bytes, from a line boundary on, as
// Open and Verify read them: the complete lines before the first zero
// byte, where a preallocated file's unwritten space begins (no line holds
// one: JSON escapes it), and the tail after those lines. torn is the
// tail without its trailing zeros: what a crash left of a write that
// never completed — an incomplete line, or blocks of it that reached the
// disk out of order — and nil when the tail is zeros only.
func splitSegment(data []byte) (lines [][]byte, tail int, torn []byte) {
	content := data
	if i := bytes.IndexByte(data, 0); i >= 0 {
		content = data[:i]
	}
	lines, partial := splitLines(content)
	end := len(content) - len(partial)
	if t := bytes.TrimRight(data[end:], "\x00"); len(t) > 0 {
		torn = t
	}
	return lines, len(data) - end, torn
}
