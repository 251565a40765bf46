package audit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"time"
)

// EventKey orders the cluster's events for LookupEvents: newest eventTime
// first, then by node and sequence (both descending), so that the order
// is total and a page token is a key.
type EventKey struct {
	Time int64  `json:"t"` // eventTime, Unix seconds
	Node string `json:"n"`
	Seq  uint64 `json:"s"`
}

// EventFilter is a search of the cluster's event table: one account's
// events, at most one attribute, a time range, before a key, newest first.
type EventFilter struct {
	Account   string
	Attribute *Attribute
	// Start and End bound eventTime in Unix seconds, inclusive; nil is
	// unbounded.
	Start, End *int64
	// Before, if set, takes only events ordered after it (older).
	Before *EventKey
	Limit  int
}

// StoredEvent is a row of the cluster's event table.
type StoredEvent struct {
	EventKey
	Line []byte // as written, without its newline
}

// ClusterSearcher answers LookupEvents from the cluster's event table, with
// the same checks, filters, page size and account restriction as
// Log.Lookup. Fetch runs the search (postgres.DB.FetchAuditEvents).
//
// The table is filled asynchronously by each node's Shipper, a few
// milliseconds after the events are durable on their node (longer while
// the database is unreachable): like CloudTrail, which delivers events
// within minutes, a lookup may not yet show the newest events.
type ClusterSearcher struct {
	Fetch func(ctx context.Context, f EventFilter) ([]StoredEvent, error)
	// Flush, if set, ships this node's durable events before each search
	// (Shipper.Sync), so that a node's lookups see its own requests at
	// once, as on a single node; other nodes' events arrive within their
	// shipping interval. Its error is ignored: the search runs anyway.
	Flush func(ctx context.Context) error
}

type clusterToken struct {
	EventKey
	Query string `json:"q"`
}

// Lookup is Log.Lookup over every node's events.
func (c ClusterSearcher) Lookup(ctx context.Context, q Query) ([]Match, string, error) {
	max, err := q.check()
	if err != nil {
		return nil, "", err
	}
	fp := "c" + q.fingerprint()
	f := EventFilter{Account: q.AccountID, Limit: max + 1}
	if q.NextToken != "" {
		var tok clusterToken
		b, err := base64.RawURLEncoding.DecodeString(q.NextToken)
		if err != nil || json.Unmarshal(b, &tok) != nil || tok.Query != fp || tok.Node == "" || tok.Seq == 0 {
			return nil, "", ErrInvalidNextToken
		}
		f.Before = &tok.EventKey
	}
	if len(q.Attributes) == 1 {
		f.Attribute = &q.Attributes[0]
	}
	if !q.StartTime.IsZero() {
		s := q.StartTime.Truncate(time.Second).Unix()
		f.Start = &s
	}
	if !q.EndTime.IsZero() {
		e := q.EndTime.Unix() // floor: an event at second e is not after EndTime
		f.End = &e
	}
	if c.Flush != nil {
		fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_ = c.Flush(fctx)
		cancel()
	}
	rows, err := c.Fetch(ctx, f)
	if err != nil {
		return nil, "", err
	}
	more := len(rows) > max
	if more {
		rows = rows[:max]
	}
	out := make([]Match, 0, len(rows))
	for _, r := range rows {
		var v view
		// The table's columns chose the rows; the line itself has the last
		// word, as in Log.Lookup, so both answer alike.
		if json.Unmarshal(r.Line, &v) != nil || !q.matches(&v) {
			continue
		}
		out = append(out, Match{
			EventID: v.EventID, EventName: v.EventName, EventSource: v.EventSource,
			EventTime: v.EventTime.Time, ReadOnly: v.ReadOnly, Username: v.username(),
			AccessKeyID: v.UserIdentity.AccessKeyID, Resources: v.Resources,
			CloudTrailEvent: cloudTrailJSON(r.Line),
		})
	}
	if !more {
		return out, "", nil
	}
	b, _ := json.Marshal(clusterToken{EventKey: rows[len(rows)-1].EventKey, Query: fp})
	return out, base64.RawURLEncoding.EncodeToString(b), nil
}
