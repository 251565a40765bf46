package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	"github.com/jackc/pgx/v5"
)

// Database trouble and dead nodes, with the real binary on a throwaway
// PostgreSQL (docs/postgres.md, "Database trouble"): two nodes serve one
// database under concurrent load (CreateKey, Encrypt, Decrypt,
// TagResource, DescribeKey) while the database is restarted, or while one
// node is killed with SIGKILL. Every request must be answered — 200, or
// a server fault in AWS's shape (HTTP 500 DependencyTimeoutException or
// KMSInternalException), never a client error (4xx) for the database's
// trouble and never a dropped connection — every node must live through
// it and serve again by itself, and every write a client was told
// succeeded must be there afterwards.

// outageDBTimeout is the nodes' --database-timeout.
const outageDBTimeout = 2 * time.Second

// outageAnswerWithin bounds how long a request may take before the test
// calls it a hang: the nodes' database deadline a few times over (a
// request makes a few store calls) plus room for a loaded machine — far
// below the 30 s after which the server's write timeout drops the
// connection. The slowest answer measured with the whole test pinned to
// one CPU under -race took 4.2 s: two store calls at their deadline, a
// wait on timers that load does not stretch, and 0.2 s of the rest.
const outageAnswerWithin = 4*outageDBTimeout + 10*time.Second

// outageInstall is an installation in a database of a cluster of the
// test's own.
type outageInstall struct{ *pgInstallation }

func newOutageInstall(t *testing.T) *outageInstall {
	t.Helper()
	in := initOnDatabase(t)
	// The throwaway cluster runs with synchronous_commit off; a commit a
	// node acknowledges must survive what the test does to the server.
	// (What init wrote is on disk long before the server is first stopped.)
	ctx := t.Context()
	cfg, err := pgx.ParseConfig(in.URL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, in.Cluster.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{cfg.Database}.Sanitize()+" SET synchronous_commit = on")
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return &outageInstall{in}
}

// node starts a node serving the installation.
func (in *outageInstall) node(t *testing.T) (*trentProc, *kms.Client) {
	t.Helper()
	p := in.serve(t, "--database-timeout", outageDBTimeout.String(), "--throttle=false")
	return p, in.rootClient(p)
}

// user makes an IAM user allowed every KMS action by an identity policy
// (the account's keys' default policy defers to IAM) and returns a KMS
// client of node p with its access key: its requests are authorized
// through its identity policies, not as the account root.
func (in *outageInstall) user(t *testing.T, p *trentProc, name string) *kms.Client {
	t.Helper()
	ctx := t.Context()
	admin := in.rootIAM(p)
	if _, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if _, err := admin.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String("kms"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`)}); err != nil {
		t.Fatalf("PutUserPolicy: %v", err)
	}
	k, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		t.Fatalf("CreateAccessKey: %v", err)
	}
	return p.Client(aws.ToString(k.AccessKey.AccessKeyId), aws.ToString(k.AccessKey.SecretAccessKey))
}

// outageCiphertext is an acknowledged Encrypt.
type outageCiphertext struct {
	blob, plaintext []byte
	keyID           string
}

// outageAcked is what the nodes acknowledged: the keys CreateKey returned,
// the tags TagResource added, the ciphertexts Encrypt returned.
type outageAcked struct {
	mu   sync.Mutex
	keys []string
	tags map[string]map[string]string // key ID → tag key → value
	cts  []outageCiphertext
}

func (a *outageAcked) key(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.keys = append(a.keys, id)
}

func (a *outageAcked) tag(keyID, k, v string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tags == nil {
		a.tags = map[string]map[string]string{}
	}
	if a.tags[keyID] == nil {
		a.tags[keyID] = map[string]string{}
	}
	a.tags[keyID][k] = v
}

func (a *outageAcked) ciphertext(c outageCiphertext) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cts = append(a.cts, c)
}

// check reads everything acknowledged back through each client.
func (a *outageAcked) check(t *testing.T, clients ...*kms.Client) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	ctx := t.Context()
	for i, id := range a.keys {
		c := clients[i%len(clients)]
		d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
		if err != nil {
			t.Errorf("acknowledged key %s: DescribeKey: %v", id, err)
			continue
		}
		if d.KeyMetadata.KeyState != types.KeyStateEnabled {
			t.Errorf("acknowledged key %s: state %s", id, d.KeyMetadata.KeyState)
		}
	}
	i := 0
	for id, want := range a.tags {
		c := clients[i%len(clients)]
		i++
		out, err := c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(id), Limit: aws.Int32(50)})
		if err != nil {
			t.Errorf("tags of %s: %v", id, err)
			continue
		}
		got := map[string]string{}
		for _, tg := range out.Tags {
			got[aws.ToString(tg.TagKey)] = aws.ToString(tg.TagValue)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("acknowledged tag %s=%s of key %s: has %q", k, v, id, got[k])
			}
		}
	}
	for i, ct := range a.cts {
		for _, c := range clients {
			out, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct.blob})
			if err != nil {
				t.Errorf("acknowledged ciphertext %d under %s: Decrypt: %v", i, ct.keyID, err)
				continue
			}
			if !bytes.Equal(out.Plaintext, ct.plaintext) {
				t.Errorf("acknowledged ciphertext %d under %s: Decrypt = %q, want %q", i, ct.keyID, out.Plaintext, ct.plaintext)
			}
		}
	}
	t.Logf("acknowledged and read back: %d keys, %d tagged keys, %d ciphertexts", len(a.keys), len(a.tags), len(a.cts))
}

// outageAnswer sorts a request's outcome: nil for 200, errFault for a
// server fault in AWS's shape, anything else a problem.
var errFault = errors.New("AWS-shaped server fault")

func outageAnswer(err error) error {
	if err == nil {
		return nil
	}
	var re *awshttp.ResponseError
	var ae smithy.APIError
	if errors.As(err, &re) && errors.As(err, &ae) {
		code := ae.ErrorCode()
		if re.HTTPStatusCode() == http.StatusInternalServerError &&
			(code == "DependencyTimeoutException" || code == "KMSInternalException") {
			return fmt.Errorf("%s: %w", code, errFault)
		}
		return fmt.Errorf("HTTP %d %s: %w", re.HTTPStatusCode(), code, err)
	}
	return fmt.Errorf("no AWS-shaped answer: %w", err)
}

// outageLoad runs workers against nodes until stopped, counting outcomes
// per node and recording what was acknowledged.
type outageLoad struct {
	acked    outageAcked
	cached   []string // keys made before the load, warm in every node's cache
	stop     chan struct{}
	wg       sync.WaitGroup
	ok       []atomic.Int64 // per node
	faults   []atomic.Int64
	problems atomic.Int64
	// dead[i] is set just before node i is killed: its answers from then
	// on are not judged.
	dead []atomic.Bool
	// codes counts the faults by operation and exception, for the log.
	codesMu sync.Mutex
	codes   map[string]int
}

func newOutageLoad(nodes int, cached []string) *outageLoad {
	return &outageLoad{cached: cached, stop: make(chan struct{}), ok: make([]atomic.Int64, nodes),
		faults: make([]atomic.Int64, nodes), dead: make([]atomic.Bool, nodes)}
}

func (l *outageLoad) oks() (n int64) {
	for i := range l.ok {
		n += l.ok[i].Load()
	}
	return n
}

// run starts workers on client c of node n.
func (l *outageLoad) run(t *testing.T, n int, c *kms.Client, workers int) {
	for w := range workers {
		l.wg.Go(func() { l.worker(t, n, w, c) })
	}
}

func (l *outageLoad) worker(t *testing.T, n, w int, c *kms.Client) {
	var mine string // the worker's newest acknowledged key
	var mineTags int
	var cts []outageCiphertext
	for i := 0; ; i++ {
		select {
		case <-l.stop:
			return
		default:
		}
		if l.dead[n].Load() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), outageAnswerWithin)
		op, err := l.step(ctx, c, n, w, i, &mine, &mineTags, &cts)
		cancel()
		switch err = outageAnswer(err); {
		case err == nil:
			l.ok[n].Add(1)
		case errors.Is(err, errFault):
			l.faults[n].Add(1)
			l.codesMu.Lock()
			if l.codes == nil {
				l.codes = map[string]int{}
			}
			l.codes[op+" "+err.Error()]++
			l.codesMu.Unlock()
		case l.dead[n].Load():
			return // killed under the request
		default:
			if l.problems.Add(1) <= 10 {
				t.Errorf("node %d worker %d: %s: %v", n, w, op, err)
			}
		}
	}
}

// step makes one request, chosen by i, and records what it acknowledged.
func (l *outageLoad) step(ctx context.Context, c *kms.Client, n, w, i int, mine *string, mineTags *int, cts *[]outageCiphertext) (string, error) {
	switch {
	case *mine == "" || i%5 == 0 || *mineTags >= 40:
		out, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String(fmt.Sprintf("outage %d/%d/%d", n, w, i))})
		if err == nil {
			*mine, *mineTags = aws.ToString(out.KeyMetadata.KeyId), 0
			l.acked.key(*mine)
		}
		return "CreateKey", err
	case i%5 == 1:
		// A new key's first Encrypt, or a warm key's.
		keyID := *mine
		if i%10 == 6 {
			keyID = l.cached[i%len(l.cached)]
		}
		pt := fmt.Appendf(nil, "secret %d/%d/%d", n, w, i)
		out, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: pt})
		if err == nil {
			ct := outageCiphertext{blob: out.CiphertextBlob, plaintext: pt, keyID: keyID}
			l.acked.ciphertext(ct)
			*cts = append(*cts, ct)
		}
		return "Encrypt", err
	case i%5 == 2 && len(*cts) > 0:
		ct := (*cts)[i%len(*cts)]
		out, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct.blob})
		if err == nil && !bytes.Equal(out.Plaintext, ct.plaintext) {
			return "Decrypt", fmt.Errorf("plaintext %q, want %q", out.Plaintext, ct.plaintext)
		}
		return "Decrypt", err
	case i%5 == 3:
		k, v := fmt.Sprintf("t-%d-%d-%d", n, w, i), fmt.Sprint(i)
		_, err := c.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(*mine),
			Tags: []types.Tag{{TagKey: aws.String(k), TagValue: aws.String(v)}}})
		if err == nil {
			*mineTags++
			l.acked.tag(*mine, k, v)
		}
		return "TagResource", err
	default:
		_, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(*mine)})
		return "DescribeKey", err
	}
}

// halt stops the load and waits for its workers.
func (l *outageLoad) halt() {
	close(l.stop)
	l.wg.Wait()
}

// outageWait polls cond until it holds, failing t after a minute.
func outageWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within a minute", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// probe returns the status of GET path on node p.
func probe(p *trentProc, path string) int {
	resp, err := http.Get(p.URL + path)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// alive fails t if the node's process has exited.
func alive(t *testing.T, name string, p *trentProc) {
	t.Helper()
	select {
	case <-p.done:
		t.Errorf("node %s exited (%v):\n%s", name, p.err, p.Stderr())
	default:
	}
	if s := probe(p, "/healthz"); s != http.StatusOK {
		t.Errorf("node %s: /healthz %d", name, s)
	}
}

// warmKeys creates n keys through c and uses each once through every
// client, so that every node has them cached.
func warmKeys(t *testing.T, n int, c *kms.Client, all ...*kms.Client) []string {
	t.Helper()
	var ids []string
	for range n {
		out, err := c.CreateKey(t.Context(), &kms.CreateKeyInput{Description: aws.String("warm")})
		if err != nil {
			t.Fatalf("CreateKey: %v", err)
		}
		id := aws.ToString(out.KeyMetadata.KeyId)
		for _, cl := range all {
			if _, err := cl.Encrypt(t.Context(), &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("warm")}); err != nil {
				t.Fatalf("Encrypt: %v", err)
			}
		}
		ids = append(ids, id)
	}
	return ids
}

// TestClusterDatabaseRestart puts two nodes serving concurrent load
// through two database outages. First PostgreSQL hangs (its processes
// stopped with SIGSTOP: connections accepted, nothing answered): requests
// must still be answered, by the nodes' database deadline, with
// AWS-shaped 500s — without the deadline they would wait until the
// server's write timeout drops their connections. Then it is stopped
// (pg_ctl's fast shutdown: sessions ended with 57P01, transactions in
// flight rolled back), kept down for a while, and started again — pg_ctl
// restart with a pause in the middle, so that the test sees the nodes
// while it is down: AWS-shaped 500s (cached keys' Encrypt and Decrypt may
// still succeed), /readyz 503, /healthz 200. After each, both nodes serve
// again without being touched, and everything acknowledged before, during
// and after is there. Last, PostgreSQL is restarted as after a crash
// (pg_ctl's immediate shutdown, then recovery), without a pause.
func TestClusterDatabaseRestart(t *testing.T) {
	in := newOutageInstall(t)
	a, ca := in.node(t)
	b, cb := in.node(t)
	user := in.user(t, b, "outage")
	l := newOutageLoad(2, warmKeys(t, 4, ca, ca, cb))
	l.run(t, 0, ca, 3)
	l.run(t, 1, cb, 2)
	l.run(t, 1, user, 1)
	stopped := false
	defer func() {
		if !stopped {
			l.halt()
		}
	}()
	outageWait(t, "requests before the outage", func() bool { return l.oks() >= 60 })

	t.Cleanup(func() { _ = in.Cluster.Thaw() }) // if the test stops while frozen
	if err := in.Cluster.Freeze(); err != nil {
		t.Fatal(err)
	}
	faults := l.faults[0].Load() + l.faults[1].Load()
	outageWait(t, "AWS-shaped 500s while the database hangs", func() bool {
		return l.faults[0].Load()+l.faults[1].Load() >= faults+12
	})
	if s := probe(a, "/readyz"); s != http.StatusServiceUnavailable {
		t.Errorf("node A: /readyz %d while the database hangs, want 503", s)
	}
	if err := in.Cluster.Thaw(); err != nil {
		t.Fatal(err)
	}
	okA, okB := l.ok[0].Load(), l.ok[1].Load()
	outageWait(t, "both nodes serving after the hang", func() bool { return l.ok[0].Load() >= okA+30 && l.ok[1].Load() >= okB+30 })

	if err := in.Cluster.Halt("fast"); err != nil {
		t.Fatal(err)
	}
	faults = l.faults[0].Load() + l.faults[1].Load()
	outageWait(t, "AWS-shaped 500s while the database is down", func() bool {
		return l.faults[0].Load()+l.faults[1].Load() >= faults+20
	})
	for name, p := range map[string]*trentProc{"A": a, "B": b} {
		outageWait(t, "node "+name+" /readyz 503 while the database is down", func() bool { return probe(p, "/readyz") == http.StatusServiceUnavailable })
		if s := probe(p, "/healthz"); s != http.StatusOK {
			t.Errorf("node %s: /healthz %d while the database is down, want 200", name, s)
		}
	}
	// IAM answers its own server fault.
	_, err := in.rootIAM(a).CreateUser(t.Context(), &iam.CreateUserInput{UserName: aws.String("during-outage")})
	var re *awshttp.ResponseError
	var ae smithy.APIError
	if !errors.As(err, &re) || !errors.As(err, &ae) || re.HTTPStatusCode() != http.StatusInternalServerError || ae.ErrorCode() != "ServiceFailure" {
		t.Errorf("IAM CreateUser while the database is down: %v, want HTTP 500 ServiceFailure", err)
	}
	if err := in.Cluster.Resume(); err != nil {
		t.Fatal(err)
	}
	okA, okB = l.ok[0].Load(), l.ok[1].Load()
	outageWait(t, "both nodes serving again", func() bool { return l.ok[0].Load() >= okA+30 && l.ok[1].Load() >= okB+30 })
	for name, p := range map[string]*trentProc{"A": a, "B": b} {
		outageWait(t, "node "+name+" /readyz 200 after the restart", func() bool { return probe(p, "/readyz") == http.StatusOK })
	}
	// Last, a restart as after a crash (immediate shutdown: no
	// checkpoint, recovery from the write-ahead log) without a pause.
	if err := in.Cluster.Restart("immediate"); err != nil {
		t.Fatal(err)
	}
	okA, okB = l.ok[0].Load(), l.ok[1].Load()
	outageWait(t, "both nodes serving after the crash restart", func() bool { return l.ok[0].Load() >= okA+30 && l.ok[1].Load() >= okB+30 })
	l.halt()
	stopped = true
	alive(t, "A", a)
	alive(t, "B", b)
	t.Logf("answers: node A %d ok, %d faults; node B %d ok, %d faults; %d problems",
		l.ok[0].Load(), l.faults[0].Load(), l.ok[1].Load(), l.faults[1].Load(), l.problems.Load())
	t.Logf("faults: %v", l.codes)
	l.acked.check(t, ca, cb)
}

// TestClusterNodeKilled kills one of two nodes with SIGKILL while both
// serve concurrent writes: the other keeps answering every request with
// success, and serves everything either node acknowledged.
func TestClusterNodeKilled(t *testing.T) {
	in := newOutageInstall(t)
	a, ca := in.node(t)
	b, cb := in.node(t)
	l := newOutageLoad(2, warmKeys(t, 2, ca, ca, cb))
	l.run(t, 0, ca, 3)
	l.run(t, 1, cb, 3)
	stopped := false
	defer func() {
		if !stopped {
			l.halt()
		}
	}()
	outageWait(t, "requests through node A", func() bool { return l.ok[0].Load() >= 60 })
	l.dead[0].Store(true)
	a.Kill(t) // with requests in flight
	okB := l.ok[1].Load()
	outageWait(t, "node B serving after A was killed", func() bool { return l.ok[1].Load() >= okB+60 })
	l.halt()
	stopped = true
	alive(t, "B", b)
	if n := l.faults[1].Load(); n != 0 {
		t.Errorf("node B answered %d server faults with a healthy database", n)
	}
	t.Logf("answers: node A %d ok before the kill; node B %d ok; %d problems", l.ok[0].Load(), l.ok[1].Load(), l.problems.Load())
	l.acked.check(t, cb)
}

// TestDatabaseTimeoutSources: --database-timeout is also the config-file
// key database-timeout and $TRENT_DATABASE_TIMEOUT, and is refused unless
// positive, wherever it comes from.
func TestDatabaseTimeoutSources(t *testing.T) {
	file := configFile(t, "dev = true\ndatabase-timeout = \"3s\"\n")
	stdout, stderr, code := runServe(t, nil, "--config", file, "--print-config")
	if code != 0 || !strings.Contains(stdout, `database-timeout = "3s"`) {
		t.Errorf("--print-config with database-timeout in the file: exit %d\n%s%s", code, stdout, stderr)
	}
	_, stderr, code = runServe(t, []string{"TRENT_DATABASE_TIMEOUT=0s"}, "--config", file)
	if code == 0 || !strings.Contains(stderr, "--database-timeout must be positive") {
		t.Errorf("TRENT_DATABASE_TIMEOUT=0s: exit %d\n%s", code, stderr)
	}
}
