package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Errors of Lookup, one per CloudTrail exception the API layer answers.
var (
	ErrInvalidLookupAttributes = errors.New("audit: invalid lookup attributes") // InvalidLookupAttributesException
	ErrInvalidTimeRange        = errors.New("audit: invalid time range")        // InvalidTimeRangeException
	ErrInvalidMaxResults       = errors.New("audit: invalid max results")       // InvalidMaxResultsException
	ErrInvalidNextToken        = errors.New("audit: invalid next token")        // InvalidNextTokenException
)

// The lookup attribute keys CloudTrail's LookupEvents accepts.
const (
	AttrEventID      = "EventId"
	AttrEventName    = "EventName"
	AttrReadOnly     = "ReadOnly"
	AttrUsername     = "Username"
	AttrResourceType = "ResourceType"
	AttrResourceName = "ResourceName"
	AttrEventSource  = "EventSource"
	AttrAccessKeyID  = "AccessKeyId"
)

// Query is a LookupEvents request, for one account.
type Query struct {
	// AccountID is the caller's account: only events delivered to it
	// (recipientAccountId) are seen. Required.
	AccountID string
	// Attributes filter the events; CloudTrail accepts at most one.
	Attributes []Attribute
	// StartTime and EndTime bound eventTime, inclusive; zero is unbounded.
	StartTime, EndTime time.Time
	// MaxResults is 1 to 50; 0 means 50.
	MaxResults int
	// NextToken continues an earlier Lookup with the same query.
	NextToken string
}

// Attribute is a LookupAttribute: a key from the Attr constants and the
// value the event must have.
type Attribute struct {
	Key, Value string
}

// Match is one event found, with the fields LookupEvents answers besides
// the event itself.
type Match struct {
	EventID     string
	EventName   string
	EventSource string
	EventTime   time.Time
	ReadOnly    bool
	Username    string
	AccessKeyID string
	Resources   []Resource
	// CloudTrailEvent is the event as CloudTrail shows it: the line
	// without the log's own trentSeq and trentPrevHash.
	CloudTrailEvent json.RawMessage
}

// view is what Lookup reads of a line.
type view struct {
	EventID      string    `json:"eventID"`
	EventName    string    `json:"eventName"`
	EventSource  string    `json:"eventSource"`
	EventTime    Timestamp `json:"eventTime"`
	ReadOnly     bool      `json:"readOnly"`
	Recipient    string    `json:"recipientAccountId"`
	UserIdentity struct {
		Type        string `json:"type"`
		ARN         string `json:"arn"`
		AccessKeyID string `json:"accessKeyId"`
		UserName    string `json:"userName"`
	} `json:"userIdentity"`
	Resources []Resource `json:"resources"`
	Node      string     `json:"trentNode"` // the log's own field, on a node of several (cluster.go)
	// What the last-use index reads at Open (usage.go).
	EventType string `json:"eventType"`
	RequestID string `json:"requestID"`
	ErrorCode string `json:"errorCode"`
}

// username is LookupEvents' Username of an event: the IAM user's name,
// "root" for the root user, the session name for a role session.
func (v *view) username() string {
	switch v.UserIdentity.Type {
	case "Root":
		return "root"
	case "AssumedRole":
		return v.UserIdentity.ARN[strings.LastIndexByte(v.UserIdentity.ARN, '/')+1:]
	}
	return v.UserIdentity.UserName
}

type pageToken struct {
	File   uint64 `json:"f"`
	Offset int64  `json:"o"`
	Query  string `json:"q"`
}

// fingerprint binds a page token to the query it continues.
func (q *Query) fingerprint() string {
	b, _ := json.Marshal([]any{q.AccountID, q.Attributes, q.StartTime.Unix(), q.EndTime.Unix(), q.StartTime.IsZero(), q.EndTime.IsZero()})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func (q *Query) check() (int, error) {
	if q.AccountID == "" {
		return 0, fmt.Errorf("%w: no account", ErrInvalidLookupAttributes)
	}
	if len(q.Attributes) > 1 {
		return 0, fmt.Errorf("%w: at most one lookup attribute", ErrInvalidLookupAttributes)
	}
	for _, a := range q.Attributes {
		switch a.Key {
		case AttrEventID, AttrEventName, AttrReadOnly, AttrUsername, AttrResourceType, AttrResourceName, AttrEventSource, AttrAccessKeyID:
		default:
			return 0, fmt.Errorf("%w: unknown attribute key %q", ErrInvalidLookupAttributes, a.Key)
		}
	}
	if !q.StartTime.IsZero() && !q.EndTime.IsZero() && q.StartTime.After(q.EndTime) {
		return 0, fmt.Errorf("%w: start time after end time", ErrInvalidTimeRange)
	}
	switch {
	case q.MaxResults == 0:
		return 50, nil
	case q.MaxResults < 1 || q.MaxResults > 50:
		return 0, fmt.Errorf("%w: %d is not from 1 to 50", ErrInvalidMaxResults, q.MaxResults)
	}
	return q.MaxResults, nil
}

func (q *Query) matches(v *view) bool {
	if v.Recipient != q.AccountID {
		return false
	}
	if !q.StartTime.IsZero() && v.EventTime.Before(q.StartTime.Truncate(time.Second)) ||
		!q.EndTime.IsZero() && v.EventTime.After(q.EndTime) {
		return false
	}
	for _, a := range q.Attributes {
		var ok bool
		switch a.Key {
		case AttrEventID:
			ok = v.EventID == a.Value
		case AttrEventName:
			ok = v.EventName == a.Value
		case AttrReadOnly:
			ok = a.Value == fmt.Sprint(v.ReadOnly)
		case AttrUsername:
			ok = v.username() == a.Value
		case AttrEventSource:
			ok = v.EventSource == a.Value
		case AttrAccessKeyID:
			ok = v.UserIdentity.AccessKeyID == a.Value
		case AttrResourceType:
			ok = slices.ContainsFunc(v.Resources, func(r Resource) bool { return r.Type == a.Value })
		case AttrResourceName:
			ok = slices.ContainsFunc(v.Resources, func(r Resource) bool { return r.ARN == a.Value || keyIDOf(r.ARN) == a.Value })
		}
		if !ok {
			return false
		}
	}
	return true
}

// keyIDOf returns the key id of a key ARN, "" for any other ARN.
func keyIDOf(arn string) string {
	if i := strings.Index(arn, ":key/"); i >= 0 {
		return arn[i+len(":key/"):]
	}
	return ""
}

// Lookup returns the account's events that match q, newest first, and a
// token for the next page ("" when the scan reached the oldest file). It
// reads only durable events.
//
// Cost: it reads the files backwards from the newest (or from the token's
// place) until it has a page. Lines are first searched for, a megabyte at
// a time, by the bytes a matching line must hold (the attribute's value
// as the encoder writes it, else the account), and only those with the
// account and an eventTime in range are decoded (prefilter). With a
// StartTime, files whose successor was created well before it are not
// read at all (clockSlack). So a query costs a pass over the log's bytes
// at memory-search speed, not a JSON decode per line; past
// lookupMaxScanTime a call answers what it has so far with a NextToken,
// and the client's next call goes on from there.
func (l *Log) Lookup(ctx context.Context, q Query) ([]Match, string, error) {
	max, err := q.check()
	if err != nil {
		return nil, "", err
	}
	fp := q.fingerprint()
	pos := l.durable.Load()
	var tok *pageToken
	if q.NextToken != "" {
		tok = new(pageToken)
		b, err := base64.RawURLEncoding.DecodeString(q.NextToken)
		if err != nil || json.Unmarshal(b, tok) != nil || tok.Query != fp || tok.File > pos.fileSeq || tok.Offset < 0 {
			return nil, "", ErrInvalidNextToken
		}
	}
	files := l.files.get()
	pf := newPrefilter(&q)
	l.indexer.activate()
	token := func(file uint64, offset int64) string {
		b, _ := json.Marshal(pageToken{File: file, Offset: offset, Query: fp})
		return base64.RawURLEncoding.EncodeToString(b)
	}
	began := time.Now()
	var scanned int64
	var out []Match
	var spans []lineSpan
	var ixBuf []byte // the index being read
	for i := len(files) - 1; i >= 0; i-- {
		f := files[i]
		if f.seq > pos.fileSeq || tok != nil && f.seq > tok.File {
			continue
		}
		if i+1 < len(files) && olderThanStart(files[i+1].time, q.StartTime) {
			break // and every older file too: their names sort in time order
		}
		end := int64(-1) // the whole file
		if f.seq == pos.fileSeq {
			end = pos.size
		}
		if tok != nil && f.seq == tok.File {
			if end >= 0 && tok.Offset > end {
				return nil, "", ErrInvalidNextToken // past what is durable
			}
			end = tok.Offset
		}
		if lookupIndexes && f.seq < pos.fileSeq { // closed: it may have an index
			if ix := l.lookupIndex(f.name, &ixBuf); ix == nil {
				l.indexer.kick() // missing, damaged or stale: write it anew
			} else if ix.excludes(&pf, &q) {
				lookupFilesSkipped.Add(1)
				continue
			}
		}
		r, err := openChunks(filepath.Join(l.dir, f.name), end)
		if errors.Is(err, fs.ErrNotExist) {
			l.files.forgetThrough(f.seq)
			break // archived, and every older file with it (Archive)
		}
		if err != nil {
			return nil, "", fmt.Errorf("audit: lookup: %w", err)
		}
		for {
			chunk, at, err := r.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				r.close()
				return nil, "", fmt.Errorf("audit: lookup %s: %w", f.name, err)
			}
			if err := ctx.Err(); err != nil {
				r.close()
				return nil, "", err
			}
			spans = candidates(spans[:0], chunk, pf.needles)
			for j := len(spans) - 1; j >= 0; j-- {
				line := chunk[spans[j].start:spans[j].end]
				if !pf.mayMatch(line) {
					continue
				}
				var v view
				lookupDecoded.Add(1)
				if json.Unmarshal(line, &v) != nil || !q.matches(&v) {
					continue
				}
				out = append(out, Match{
					EventID: v.EventID, EventName: v.EventName, EventSource: v.EventSource,
					EventTime: v.EventTime.Time, ReadOnly: v.ReadOnly, Username: v.username(),
					AccessKeyID: v.UserIdentity.AccessKeyID, Resources: v.Resources,
					CloudTrailEvent: ownCloudTrailJSON(line),
				})
				if len(out) == max {
					r.close()
					start := at + int64(spans[j].start)
					if start == 0 && i == 0 {
						return out, "", nil
					}
					return out, token(f.seq, start), nil
				}
			}
			scanned += int64(len(chunk))
			if lookupMaxScanBytes > 0 && scanned >= lookupMaxScanBytes || time.Since(began) >= lookupMaxScanTime {
				// Everything from at on is searched: the next page starts
				// before it.
				r.close()
				if at == 0 && i == 0 {
					return out, "", nil
				}
				return out, token(f.seq, at), nil
			}
		}
		r.close()
	}
	return out, "", nil
}

// ownCloudTrailJSON is cloudTrailJSON(line) in memory of its own: line
// is in a buffer the scan reuses.
func ownCloudTrailJSON(line []byte) []byte {
	if b := cloudTrailJSON(line); len(b) < len(line) {
		return b // a copy already
	}
	return bytes.Clone(line)
}

// clockSlack is how far back the wall clock may have been set between an
// event and the creation of the next file without Lookup missing the
// event.
const clockSlack = 10 * time.Minute

// olderThanStart reports whether every event of a file is before start,
// given next, the time in the name of the file after it. Every event of
// a file was written before its successor was created, and an event's
// time is taken before it is written; the successor's name time is its
// creation time (truncated to the second, or a later name's if the clock
// had gone back: nameTime), so it is at or after every event time of the
// file — unless the wall clock stepped back in between. Events queued
// while the log could not write (sealed, disk full) are older still,
// never newer. Only a file whose successor was named more than
// clockSlack before start is skipped, so a step back of up to clockSlack
// loses nothing; the lower bound of a file's events has no such
// guarantee (queued events can be hours old) and is not used: EndTime
// spares decoding (prefilter), not reading.
func olderThanStart(next, start time.Time) bool {
	return !start.IsZero() && next.Add(clockSlack).Before(start.Truncate(time.Second))
}

// backward reads a file's lines from its end towards its start.
type backward struct {
	f     *os.File
	buf   []byte // file bytes [bufAt, bufAt+len(buf)), not yet returned
	bufAt int64
}

const backwardChunk = 64 << 10

// openBackward opens path to read its lines before offset end (-1: the
// file's size), which must be at a line boundary.
func openBackward(path string, end int64) (*backward, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if end < 0 {
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		end = fi.Size()
	}
	return &backward{f: f, bufAt: end}, nil
}

// prev returns the line before those already returned, without its
// newline, and the offset where it starts; io.EOF at the file's start.
func (b *backward) prev() ([]byte, int64, error) {
	for {
		if n := len(b.buf); n > 0 {
			// b.buf ends with a line's newline (or is an unterminated
			// last fragment); find where that line begins.
			if i := bytes.LastIndexByte(b.buf[:n-1], '\n'); i >= 0 {
				line := b.buf[i+1:]
				b.buf = b.buf[:i+1]
				return bytes.TrimSuffix(line, []byte("\n")), b.bufAt + int64(i+1), nil
			}
			if b.bufAt == 0 {
				line := b.buf
				b.buf = nil
				return bytes.TrimSuffix(line, []byte("\n")), 0, nil
			}
		} else if b.bufAt == 0 {
			return nil, 0, io.EOF
		}
		n := min(int64(backwardChunk), b.bufAt)
		nb := make([]byte, int(n)+len(b.buf))
		if _, err := b.f.ReadAt(nb[:n], b.bufAt-n); err != nil {
			return nil, 0, err
		}
		copy(nb[n:], b.buf)
		b.buf, b.bufAt = nb, b.bufAt-n
	}
}

func (b *backward) close() { b.f.Close() }
