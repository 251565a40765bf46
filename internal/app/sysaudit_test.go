package app

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/audit"
)

// TestSealedQueueBounded floods a sealed node with more API requests
// than the queue holds, then unseals it: the log gets the first
// maxSealedEvents of them, every unseal share's event (the operator's
// reserve), and one summary counting the dropped ones, in that order.
//
// The flood's tail is status reads, which anyone may send: they do not
// reach into the reserve, so the shares' events still fit.
func TestSealedQueueBounded(t *testing.T) {
	n, _, res := shamirNode(t)
	h := n.Handler()
	const extra = 7
	for range maxSealedEvents + extra {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
		for k, v := range listKeys {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 503 {
			t.Fatalf("sealed ListKeys = %d", w.Code)
		}
	}
	for range sysReserve {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/sys/status", nil))
		if w.Code != 200 {
			t.Fatalf("status = %d", w.Code)
		}
	}
	for _, share := range res.UnsealShares[:res.Threshold] {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/sys/unseal", strings.NewReader(`{"share":"`+share+`"}`)))
		if w.Code != 200 {
			t.Fatalf("unseal = %d %s", w.Code, w.Body)
		}
	}
	if n.App() == nil {
		t.Fatal("not unsealed")
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(AuditDir(res.DataDir), "audit-*.jsonl"))
	var names []string
	var summary map[string]any
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var ev map[string]any
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Fatal(err)
			}
			names = append(names, ev["eventName"].(string))
			if ev["eventName"] == sealedDroppedEvent {
				summary = ev
			}
		}
		fh.Close()
	}
	want := maxSealedEvents + res.Threshold + 1
	if len(names) != want {
		t.Fatalf("%d events, want %d", len(names), want)
	}
	for i, name := range names[:maxSealedEvents] {
		if name != "ListKeys" {
			t.Fatalf("event %d is %s, want ListKeys", i, name)
		}
	}
	// The first share was queued (in the reserve), the summary follows the
	// queue, and the share that unsealed is recorded after it, on the open log.
	if got := strings.Join(names[maxSealedEvents:], " "); got != "Unseal "+sealedDroppedEvent+" Unseal" {
		t.Fatalf("after the queued ListKeys: %s", got)
	}
	d, _ := summary["serviceEventDetails"].(map[string]any)
	if summary["eventType"] != "AwsServiceEvent" || summary["eventSource"] != "trent.sys" ||
		d["dropped"] != float64(extra+sysReserve) || d["byEvent"].(map[string]any)["kms.amazonaws.com ListKeys"] != float64(extra) ||
		d["byEvent"].(map[string]any)["trent.sys GetStatus"] != float64(sysReserve) {
		t.Fatalf("summary event: %v", summary)
	}
}

// TestSealedQueueNamesBounded: the caller chooses the operation names it
// sends, so the summary counts at most maxDroppedNames apart and the rest
// as "other", every one counted.
func TestSealedQueueNamesBounded(t *testing.T) {
	var q sealedQueue
	const extra = 3 * maxDroppedNames
	for i := range maxSealedEvents + extra {
		q.add(audit.NewAPICall(time.Now(), audit.SourceKMS, fmt.Sprint("Op", i), false))
	}
	if len(q.evs) != maxSealedEvents || q.dropped != extra || len(q.byName) != maxDroppedNames+1 ||
		q.byName["other"] != extra-maxDroppedNames {
		t.Fatalf("queued %d, dropped %d, %d names, other %d", len(q.evs), q.dropped, len(q.byName), q.byName["other"])
	}
	evs := q.take("111122223333", "us-east-1")
	if len(evs) != maxSealedEvents+1 || evs[maxSealedEvents].EventName != sealedDroppedEvent || len(q.evs) != 0 || q.dropped != 0 {
		t.Fatalf("take: %d events, last %s; queue left %d/%d", len(evs), evs[len(evs)-1].EventName, len(q.evs), q.dropped)
	}
}
