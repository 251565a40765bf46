package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/jackc/pgx/v5"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/testenv/testcmd"
	"github.com/trent-kms/trent/internal/testenv/testfiles"
)

// TestClusterAudit runs three real nodes on one PostgreSQL database:
// requests through each node are found by LookupEvents through any other;
// a node killed with SIGKILL under load and restarted ships what it had not
// shipped, once (every acknowledged request found, no event twice); after
// a clean stop `trent audit verify --database-url` passes over the three
// logs, and names node B when its directory is left out or its log is cut
// short together with its newest digest — a cut that B's files alone do
// not reveal.
func TestClusterAudit(t *testing.T) {
	ctx := context.Background()
	in := initOnDatabase(t)
	url, bin := in.URL, trentBinary(t)
	dirs := map[string]string{}
	serve := func(name string) *trentProc {
		if dirs[name] == "" {
			dirs[name] = filepath.Join(t.TempDir(), "node-"+name)
		}
		return in.serveAt(t, dirs[name])
	}
	procs := map[string]*trentProc{}
	// One after the other: the audit signing key's first-start race is not
	// this test's subject.
	for _, name := range []string{"A", "B", "C"} {
		procs[name] = serve(name)
	}
	nodeID := func(name string) string {
		id, err := audit.ReadNodeID(filepath.Join(dirs[name], "audit"))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	if a, b := nodeID("A"), nodeID("B"); a == b {
		t.Fatalf("two nodes share the node id %s", a)
	}
	// One client of each kind per process, made on first use: a client
	// per call opens a connection per call (every Encrypt of the load
	// below, every look of lookupEncrypts), each then left idle for 90 s.
	var clientsMu sync.Mutex
	kmsClients, trailClients := map[*trentProc]*kms.Client{}, map[*trentProc]*cloudtrail.Client{}
	kmsOf := func(name string) *kms.Client {
		clientsMu.Lock()
		defer clientsMu.Unlock()
		p := procs[name]
		if kmsClients[p] == nil {
			kmsClients[p] = in.rootClient(p)
		}
		return kmsClients[p]
	}
	trailOf := func(name string) *cloudtrail.Client {
		clientsMu.Lock()
		defer clientsMu.Unlock()
		p := procs[name]
		if trailClients[p] == nil {
			trailClients[p] = p.CloudTrail(in.AccessKeyID, in.SecretAccessKey)
		}
		return trailClients[p]
	}
	key, err := kmsOf("A").CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("cluster audit")})
	if err != nil {
		t.Fatal(err)
	}
	keyID := aws.ToString(key.KeyMetadata.KeyId)

	encrypt := func(ctx context.Context, name string) (string, error) {
		out, err := kmsOf(name).Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: []byte("x")})
		if err != nil {
			return "", err
		}
		id, _ := awsmw.GetRequestIDMetadata(out.ResultMetadata)
		return id, nil
	}
	made := map[string]string{} // request id → node it went through
	for name, n := range map[string]int{"A": 4, "B": 6, "C": 3} {
		for range n {
			id, err := encrypt(ctx, name)
			if err != nil {
				t.Fatalf("Encrypt through %s: %v", name, err)
			}
			made[id] = name
		}
	}

	// lookupEncrypts pages through the key's Encrypt events as seen
	// through node name, until every request of want is there (the
	// shipping is asynchronous); it fails on an event seen twice.
	lookupEncrypts := func(name string, want map[string]string) map[string]bool {
		t.Helper()
		var seen map[string]bool
		for attempt := 0; attempt < 300; attempt++ {
			seen = map[string]bool{}
			p := cloudtrail.NewLookupEventsPaginator(trailOf(name), &cloudtrail.LookupEventsInput{
				LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyResourceName, AttributeValue: aws.String(keyID)}},
				MaxResults:       aws.Int32(7),
			})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					t.Fatalf("LookupEvents through %s: %v", name, err)
				}
				for _, ev := range page.Events {
					if aws.ToString(ev.EventName) != "Encrypt" {
						continue
					}
					var ct struct {
						RequestID string `json:"requestID"`
					}
					if strings.Contains(aws.ToString(ev.CloudTrailEvent), `"trent`) {
						t.Fatalf("CloudTrailEvent shows the log's own fields: %s", aws.ToString(ev.CloudTrailEvent))
					}
					if err := json.Unmarshal([]byte(aws.ToString(ev.CloudTrailEvent)), &ct); err != nil || ct.RequestID == "" {
						t.Fatalf("CloudTrailEvent %q: %v", aws.ToString(ev.CloudTrailEvent), err)
					}
					if seen[ct.RequestID] {
						t.Fatalf("LookupEvents through %s returns request %s twice", name, ct.RequestID)
					}
					seen[ct.RequestID] = true
				}
			}
			missing := 0
			for id := range want {
				if !seen[id] {
					missing++
				}
			}
			if missing == 0 {
				return seen
			}
			time.Sleep(100 * time.Millisecond)
		}
		var missing []string
		for id, via := range want {
			if !seen[id] {
				missing = append(missing, id+" (through "+via+")")
			}
		}
		sort.Strings(missing)
		t.Fatalf("LookupEvents through %s never found %d of %d requests: %v", name, len(missing), len(want), missing[:min(5, len(missing))])
		return nil
	}
	if seen := lookupEncrypts("A", made); len(seen) != len(made) {
		t.Fatalf("through A: %d Encrypt events of the key, want %d", len(seen), len(made))
	}
	lookupEncrypts("C", made)

	// SIGKILL of B under load, then a restart: what B acknowledged is in
	// its files (issue 8) and reaches the table once.
	var (
		mu    sync.Mutex
		acked = map[string]string{}
		wg    sync.WaitGroup
	)
	loadCtx, stopLoad := context.WithCancel(ctx)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for loadCtx.Err() == nil {
				if id, err := encrypt(loadCtx, "B"); err == nil {
					mu.Lock()
					acked[id] = "B"
					mu.Unlock()
				}
			}
		}()
	}
	loadAtLeast(700*time.Millisecond, func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) >= 10 })
	procs["B"].Kill(t)
	stopLoad()
	wg.Wait()
	if len(acked) < 10 {
		t.Fatalf("only %d requests acknowledged by B before the kill: no load", len(acked))
	}
	procs["B"] = serve("B")
	for range 3 { // B's second run writes a file of its own
		id, err := encrypt(ctx, "B")
		if err != nil {
			t.Fatalf("Encrypt through B after its restart: %v", err)
		}
		acked[id] = "B"
	}
	for id, via := range made {
		acked[id] = via
	}
	lookupEncrypts("A", acked)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var rows, distinct int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT event_id) FROM audit_events`).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != distinct {
		t.Fatalf("audit_events holds %d rows for %d distinct events: an event shipped twice", rows, distinct)
	}

	for _, name := range []string{"A", "B", "C"} {
		if err := procs[name].Stop(t); err != nil {
			t.Fatalf("stop %s: %v", name, err)
		}
	}

	verify := func(args ...string) (string, error) {
		out, err := testcmd.Command(t, bin, append([]string{"audit", "verify", "--database-url", url}, args...)...).CombinedOutput()
		return string(out), err
	}
	out, err := verify("--data-dir", dirs["A"], "--data-dir", dirs["B"], "--data-dir", dirs["C"])
	if err != nil || !strings.Contains(out, "verified 3 nodes") {
		t.Fatalf("verify across the nodes: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	// The per-node contract still holds.
	if out, err := testcmd.Command(t, bin, "audit", "verify", "--data-dir", dirs["B"]).CombinedOutput(); err != nil {
		t.Fatalf("verify B alone: %v\n%s", err, out)
	}
	pemDB, err := testcmd.Command(t, bin, "audit", "public-key", "--database-url", url).Output()
	if err != nil {
		t.Fatalf("audit public-key --database-url: %v", err)
	}
	pemFile, err := os.ReadFile(filepath.Join(dirs["A"], "audit", audit.PublicKeyFile))
	if err != nil || string(pemDB) != string(pemFile) {
		t.Fatalf("audit public-key --database-url:\n%s\nthe node's file:\n%s", pemDB, pemFile)
	}

	// Every line of B's log names B.
	idB := nodeID("B")
	files, _ := filepath.Glob(filepath.Join(dirs["B"], "audit", "audit-*.jsonl"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, ln := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			var fields struct {
				Node string `json:"trentNode"`
			}
			if err := json.Unmarshal([]byte(ln), &fields); err != nil || fields.Node != idB {
				t.Fatalf("a line of B's log names node %q, not %s: %v", fields.Node, idB, err)
			}
		}
	}

	// B's directory deleted (left out).
	if out, err := verify("--data-dir", dirs["A"], "--data-dir", dirs["C"]); err == nil ||
		!strings.Contains(out, "node "+idB+": its log is missing") {
		t.Fatalf("verify without B's log: %v\n%s", err, out)
	}

	// B's log cut short: its last run's event file and the digest that
	// covers it removed. What is left agrees with itself.
	cut := filepath.Join(t.TempDir(), "B-cut")
	testfiles.CopyDir(t, filepath.Join(dirs["B"], "audit"), cut)
	evs, _ := filepath.Glob(filepath.Join(cut, "audit-*.jsonl"))
	dgs, _ := filepath.Glob(filepath.Join(cut, "digest-*.json"))
	sort.Strings(evs)
	sort.Strings(dgs)
	if len(evs) < 2 || len(dgs) < 2 {
		t.Fatalf("B's log: %d event files and %d digests, want two runs' worth", len(evs), len(dgs))
	}
	os.Remove(evs[len(evs)-1])
	os.Remove(dgs[len(dgs)-1])
	if out, err := testcmd.Command(t, bin, "audit", "verify", "--data-dir", cut).CombinedOutput(); err != nil {
		t.Fatalf("the cut log alone should pass (that is what the database adds): %v\n%s", err, out)
	}
	if out, err := verify("--data-dir", dirs["A"], "--data-dir", cut, "--data-dir", dirs["C"]); err == nil ||
		!strings.Contains(out, "node "+idB) || !strings.Contains(out, "truncated") {
		t.Fatalf("verify with B cut short: %v\n%s", err, out)
	}

	// The database's copies pruned, all but each node's newest: the files
	// stay the record, and the cluster still verifies from what is left.
	pruned, err := testcmd.Command(t, bin, "audit", "prune", "--database-url", url, "--older-than", "0s").CombinedOutput()
	if err != nil || !strings.Contains(string(pruned), "from the database; its files keep them") {
		t.Fatalf("trent audit prune: %v\n%s", err, pruned)
	}
	if out, err := verify("--data-dir", dirs["A"], "--data-dir", dirs["B"], "--data-dir", dirs["C"]); err != nil ||
		!strings.Contains(out, "verified 3 nodes") || !strings.Contains(out, "pruned from the database") {
		t.Fatalf("verify after pruning: %v\n%s", err, out)
	}
}
