package app

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/identity"
	"github.com/trent-kms/trent/internal/server"
)

// The audit log belongs to the App (its signing key is wrapped by the
// root key), so while sealed no log is open. The events of requests
// answered then — unseal shares, /sys/status, a seal of a sealed node,
// every API request refused 503 — wait in a bounded queue on the Node,
// and Node.open records them before it publishes the App, so they precede
// everything the unsealed node does. They are not durable before their
// answer: a process that stops while sealed loses them (Close says how
// many). The trade-off is acceptable because every such answer is an
// error or a status that performed nothing, or an accepted unseal share,
// which only counts toward the threshold: the share that completes the
// unseal is recorded on the open log before its answer. No event holds a
// share. The queue holds at most 11,000 events of about 1 KB.

// maxSealedEvents bounds the queue. Past it, events are only counted,
// by source and name, and recorded as one summary event
// (sealedDroppedEvent) after the queued ones. The unseal shares, resets
// and seals may use sysReserve more, so that a flood of API requests at a
// sealed node cannot push out the record of who unsealed it. Status and
// metrics reads, which anyone may send, may not: a flood of them would
// (review, December 8).
const (
	maxSealedEvents = 10000
	sysReserve      = 1000
	maxDroppedNames = 100 // distinct names the summary counts apart
)

// sealedDroppedEvent is the eventName of that summary, an AwsServiceEvent
// of server.SourceSys.
const sealedDroppedEvent = "SealedEventsDropped"

// sealedQueue holds the events of requests answered while sealed.
type sealedQueue struct {
	evs                 []*audit.Event
	dropped             int
	byName              map[string]int
	firstDrop, lastDrop time.Time
}

func (q *sealedQueue) add(ev *audit.Event) {
	limit := maxSealedEvents
	if ev.EventSource == server.SourceSys && ev.EventName != "GetStatus" && ev.EventName != "GetMetrics" {
		limit += sysReserve
	}
	if len(q.evs) < limit {
		q.evs = append(q.evs, ev)
		return
	}
	if q.byName == nil {
		q.byName = make(map[string]int)
		q.firstDrop = ev.EventTime.Time
	}
	q.dropped++
	// The name is the caller's to choose: the distinct ones are bounded too.
	key := ev.EventSource + " " + ev.EventName
	if _, ok := q.byName[key]; !ok && len(q.byName) >= maxDroppedNames {
		key = "other"
	}
	q.byName[key]++
	q.lastDrop = ev.EventTime.Time
}

// take empties q and returns its events, the summary of the dropped
// ones last.
func (q *sealedQueue) take(account, region string) []*audit.Event {
	evs := q.evs
	if q.dropped > 0 {
		details := struct {
			Dropped       int            `json:"dropped"`
			Limit         int            `json:"limit"`
			ByEvent       map[string]int `json:"byEvent"`
			FirstDropTime string         `json:"firstDropTime"`
			LastDropTime  string         `json:"lastDropTime"`
		}{q.dropped, maxSealedEvents, q.byName,
			q.firstDrop.UTC().Format(time.RFC3339), q.lastDrop.UTC().Format(time.RFC3339)}
		if ev, err := audit.NewServiceEvent(time.Now(), server.SourceSys, sealedDroppedEvent, account, region, details); err == nil {
			evs = append(evs, ev)
		}
	}
	*q = sealedQueue{}
	return evs
}

// Record implements server.Backend (see stamp for the account).
func (n *Node) Record(ctx context.Context, ev *audit.Event) error {
	n.stamp(ev)
	for {
		if a := n.cur.Load(); a != nil && a.enter() {
			err := a.Audit.Record(ctx, ev)
			a.leave()
			return err
		}
		// open publishes the App holding qmu, after taking the queue: an
		// event queued here is either taken by it or sees the App.
		n.qmu.Lock()
		if n.cur.Load() == nil {
			n.sealed.add(ev)
			n.qmu.Unlock()
			return nil
		}
		n.qmu.Unlock()
	}
}

// recordOn records ev on the App a, which the caller has entered.
func (n *Node) recordOn(ctx context.Context, a *App, ev *audit.Event) error {
	n.stamp(ev)
	return a.Audit.Record(ctx, ev)
}

// stamp gives ev the installation's region and first account (the
// operator's) unless it names them.
func (n *Node) stamp(ev *audit.Event) {
	if ev.AWSRegion == "" {
		ev.AWSRegion = n.Region
	}
	if ev.RecipientAccountID == "" {
		ev.RecipientAccountID = n.Account
	}
}

// publish records the events queued while sealed on a's log, then makes
// a the current App. A failure to record them does not stop the unseal:
// the log keeps them queued until its disk takes them, and refuses
// requests meanwhile, as for any event.
func (n *Node) publish(ctx context.Context, a *App) {
	n.qmu.Lock()
	defer n.qmu.Unlock()
	if evs := n.sealed.take(n.Account, n.Region); len(evs) > 0 {
		if err := a.Audit.Record(ctx, evs...); err != nil {
			n.log.Error("audit: the events of requests answered while sealed are not recorded yet", "events", len(evs), "err", err)
		}
	}
	n.cur.Store(a)
}

// sealedPending says how many events wait in the queue, dropped ones
// included.
func (n *Node) sealedPending() int {
	n.qmu.Lock()
	defer n.qmu.Unlock()
	return len(n.sealed.evs) + n.sealed.dropped
}

// sysFailure completes ev with err's outcome.
func sysFailure(ev *audit.Event, err error) {
	ev.ResponseElements = nil
	ev.SetError(server.SysErrorCode(err))
}

// elements marshals v as an event's responseElements.
func elements(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// authorizeMetrics is authorizeOperator with the request's event: a
// signed GET /metrics is an operator call like /sys/seal.
func (n *Node) authorizeMetrics(r *http.Request) error {
	ev := server.NewSysEvent(r, "GetMetrics", true)
	err := n.authorizeOperator(r)
	if err == nil {
		ev.UserIdentity = audit.IdentityOf(identity.Root(n.Account, ev.UserIdentity.AccessKeyID))
	} else if errors.Is(err, server.ErrConflict) {
		ev.SetError(apierr.ServiceUnavailable, server.SealedMessage)
	} else {
		sysFailure(ev, err)
	}
	if rerr := n.Record(r.Context(), ev); rerr != nil {
		n.log.Error("audit: metrics request not recorded yet", "err", rerr)
	}
	return err
}
