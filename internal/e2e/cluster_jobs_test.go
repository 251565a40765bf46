package e2e

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/jackc/pgx/v5"

	"github.com/trent-kms/trent/internal/app"
	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/postgres"
)

// clusterNode is one `trent serve` of a cluster on one database.
type clusterNode struct {
	proc *trentProc
	dir  string
}

// startNodes starts n nodes of the installation at once (their first
// start: they race to make the audit signing key) with the given extra
// serve flags.
func startNodes(t *testing.T, in *pgInstallation, n int, args ...string) []*clusterNode {
	t.Helper()
	nodes := make([]*clusterNode, n)
	for i := range nodes {
		nodes[i] = &clusterNode{dir: filepath.Join(t.TempDir(), fmt.Sprintf("node%d", i))}
	}
	bin := trentBinary(t)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, nd := range nodes {
		wg.Go(func() {
			nd.proc, errs[i] = launchTrent(t, bin, nil, in.serveArgs(nd.dir, args...)...)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("node %d: %w", i, errs[i])
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return nodes
}

const leaseTaken = "this node holds the job lease"

// jobHolder waits until one of the nodes but those in skip says it holds
// the job lease, fails if several do, and checks that the database
// agrees: the lock's session names that node's pid.
func jobHolder(t *testing.T, db *pgx.Conn, nodes []*clusterNode, skip ...*clusterNode) *clusterNode {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var holders []*clusterNode
		for _, nd := range nodes {
			if !slices.Contains(skip, nd) && strings.Contains(nd.proc.Stderr(), leaseTaken) {
				holders = append(holders, nd)
			}
		}
		if len(holders) > 1 {
			t.Fatalf("%d nodes say they hold the job lease", len(holders))
		}
		if len(holders) == 1 {
			h := holders[0]
			var name string
			err := db.QueryRow(t.Context(), `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
				WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE 'trent lease jobs %'`).Scan(&name)
			if err != nil {
				t.Fatalf("the job lease's session: %v", err)
			}
			if want := fmt.Sprintf(" pid %d", h.proc.cmd.Process.Pid); !strings.HasSuffix(name, want) {
				t.Fatalf("the job lease is held by %q, not by the node saying so (%s)", name, want)
			}
			return h
		}
		if time.Now().After(deadline) {
			t.Fatal("no node took the job lease within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// jobEvents counts the job's AwsServiceEvents (DeleteKey, RotateKey,
// DeleteExpiredKeyMaterial) by key ARN in the node's audit log.
func jobEvents(t *testing.T, nd *clusterNode) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, ev := range auditEvents(t, nd.dir) {
		name, _ := ev["eventName"].(string)
		if ev["eventType"] != "AwsServiceEvent" || (name != "DeleteKey" && name != "RotateKey" && name != "DeleteExpiredKeyMaterial") {
			continue
		}
		var arn string
		if rs, _ := ev["resources"].([]any); len(rs) == 1 {
			arn, _ = field(rs[0].(map[string]any), "ARN").(string)
		}
		n[name+" "+arn]++
	}
	return n
}

// TestClusterJobRunner: three nodes on one database; one holds the job
// lease and runs every due deletion, rotation and expiry of imported
// material; SIGKILLed, another takes
// the lease and runs what falls due next; that one hangs (SIGSTOP), the
// last takes over. Every job ran exactly once:
// one AwsServiceEvent per job across all nodes' audit logs, each in the
// log of the node that held the lease; two versions per rotated key,
// deleted keys gone. The nodes, started together for the first time,
// sign their audit logs with one key.
func TestClusterJobRunner(t *testing.T) {
	in := initOnDatabase(t)
	ctx := t.Context()
	// A short interval makes every node eager; the key cache is off so
	// that a date this test moves in the database is what every node
	// reads (cache invalidation between nodes is not this test's subject).
	nodes := startNodes(t, in, 3, "--job-interval", "100ms", "--key-cache-idle", "0", "--throttle=false")

	pub0, err := os.ReadFile(filepath.Join(app.AuditDir(nodes[0].dir), audit.PublicKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	for i, nd := range nodes[1:] {
		pub, err := os.ReadFile(filepath.Join(app.AuditDir(nd.dir), audit.PublicKeyFile))
		if err != nil || !bytes.Equal(pub, pub0) {
			t.Fatalf("node %d's audit public key differs from node 0's (%v): nodes started together sign with different keys", i+1, err)
		}
	}

	db, err := pgx.Connect(ctx, in.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	first := jobHolder(t, db, nodes)

	// Keys whose deletion and rotation fall due later, made through a node
	// that does not hold the lease.
	var via *clusterNode
	for _, nd := range nodes {
		if nd != first {
			via = nd
			break
		}
	}
	c := in.rootClient(via.proc)
	type batch struct{ deletes, rotates, expires []string } // key ARNs
	newBatch := func() batch {
		var b batch
		for range 6 {
			k, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
			if err != nil {
				t.Fatalf("CreateKey: %v", err)
			}
			if _, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: k.KeyMetadata.KeyId, PendingWindowInDays: aws.Int32(7)}); err != nil {
				t.Fatalf("ScheduleKeyDeletion: %v", err)
			}
			b.deletes = append(b.deletes, aws.ToString(k.KeyMetadata.Arn))
			k, err = c.CreateKey(ctx, &kms.CreateKeyInput{})
			if err != nil {
				t.Fatalf("CreateKey: %v", err)
			}
			if _, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: k.KeyMetadata.KeyId, RotationPeriodInDays: aws.Int32(90)}); err != nil {
				t.Fatalf("EnableKeyRotation: %v", err)
			}
			b.rotates = append(b.rotates, aws.ToString(k.KeyMetadata.Arn))
		}
		for range 2 {
			k, err := c.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternal})
			if err != nil {
				t.Fatalf("CreateKey EXTERNAL: %v", err)
			}
			alg := types.AlgorithmSpecRsaesOaepSha256
			p, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: k.KeyMetadata.KeyId,
				WrappingAlgorithm: alg, WrappingKeySpec: types.WrappingKeySpecRsa2048})
			if err != nil {
				t.Fatalf("GetParametersForImport: %v", err)
			}
			pub, err := x509.ParsePKIXPublicKey(p.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: k.KeyMetadata.KeyId, ImportToken: p.ImportToken,
				EncryptedKeyMaterial: wrapMaterial(t, alg, pub.(*rsa.PublicKey), random(32)),
				ExpirationModel:      types.ExpirationModelTypeKeyMaterialExpires, ValidTo: aws.Time(time.Now().Add(time.Hour))})
			if err != nil {
				t.Fatalf("ImportKeyMaterial: %v", err)
			}
			b.expires = append(b.expires, aws.ToString(k.KeyMetadata.Arn))
		}
		return b
	}
	ids := func(arns []string) []string {
		var out []string
		for _, a := range arns {
			out = append(out, a[strings.LastIndexByte(a, '/')+1:])
		}
		return out
	}
	b1, b2, b3 := newBatch(), newBatch(), newBatch()

	// Time passes for a batch: its dates move to a moment ago, as if the
	// seven and ninety days had gone by.
	due := func(b batch) {
		t.Helper()
		now := time.Now().Add(-time.Second).UnixNano()
		if _, err := db.Exec(ctx, `UPDATE keys SET deletion_date = $1 WHERE id = ANY($2)`, now, ids(b.deletes)); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `UPDATE keys SET next_rotation = $1 WHERE id = ANY($2)`, now, ids(b.rotates)); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `UPDATE key_versions SET valid_to = $1 WHERE key_id = ANY($2)`, now, ids(b.expires)); err != nil {
			t.Fatal(err)
		}
	}
	// done waits until the batch's jobs are done in the database and
	// their events are in the holder's audit log, and checks that the
	// holder ran every one of them.
	done := func(b batch, holder *clusterNode, what string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			var left, versions, material int
			if err := db.QueryRow(ctx, `SELECT count(*) FROM keys WHERE id = ANY($1)`, ids(b.deletes)).Scan(&left); err != nil {
				t.Fatal(err)
			}
			if err := db.QueryRow(ctx, `SELECT count(*) FROM key_versions WHERE key_id = ANY($1) AND length(wrapped) > 0`, ids(b.expires)).Scan(&material); err != nil {
				t.Fatal(err)
			}
			if err := db.QueryRow(ctx, `SELECT count(*) FROM key_versions WHERE key_id = ANY($1)`, ids(b.rotates)).Scan(&versions); err != nil {
				t.Fatal(err)
			}
			evs := jobEvents(t, holder)
			missing := 0
			for _, arn := range b.deletes {
				if evs["DeleteKey "+arn] == 0 {
					missing++
				}
			}
			for _, arn := range b.rotates {
				if evs["RotateKey "+arn] == 0 {
					missing++
				}
			}
			for _, arn := range b.expires {
				if evs["DeleteExpiredKeyMaterial "+arn] == 0 {
					missing++
				}
			}
			if left == 0 && versions >= 2*len(b.rotates) && material == 0 && missing == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: after 60s %d keys not deleted, %d key versions for %d rotated keys, %d expired materials not deleted, %d events missing from the holder's audit log",
					what, left, versions, len(b.rotates), material, missing)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	due(b1)
	done(b1, first, "first holder")

	// The holder dies; another node takes over, and runs what falls due
	// from now on.
	killed := time.Now()
	first.proc.Kill(t)
	second := jobHolder(t, db, nodes, first)
	t.Logf("job lease taken over %v after the SIGKILL (job interval 100ms, lease check 100ms)", time.Since(killed).Round(time.Millisecond))
	due(b2)
	done(b2, second, "second holder")

	// The new holder hangs (SIGSTOP): its kernel still answers keepalives,
	// but the server ends its lease session once it has been silent for
	// idle_session_timeout (10 s), and the last node takes over. Woken up,
	// the old holder finds out it lost the lease; a round it may start
	// before that finds nothing left to do.
	if err := second.proc.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	third := jobHolder(t, db, nodes, first, second)
	t.Logf("job lease taken over %v after the holder hung (SIGSTOP)", time.Since(stopped).Round(time.Millisecond))
	due(b3)
	done(b3, third, "third holder")
	if err := second.proc.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	second.proc.WaitStderr(t, "this node lost the job lease")
	// A few more rounds of the runners, in which nothing may run again.
	time.Sleep(time.Second)

	all := map[string]int{}
	for _, nd := range nodes {
		for k, n := range jobEvents(t, nd) {
			all[k] += n
		}
	}
	want := map[string]int{}
	for _, b := range []batch{b1, b2, b3} {
		for _, arn := range b.deletes {
			want["DeleteKey "+arn] = 1
		}
		for _, arn := range b.rotates {
			want["RotateKey "+arn] = 1
		}
		for _, arn := range b.expires {
			want["DeleteExpiredKeyMaterial "+arn] = 1
		}
	}
	for k, n := range all {
		if want[k] != n {
			t.Errorf("%s: %d events across the cluster, want %d", k, n, want[k])
		}
	}
	for k := range want {
		if all[k] == 0 {
			t.Errorf("%s: no event", k)
		}
	}
	rows, err := db.Query(ctx, `SELECT key_id, count(*) FROM key_versions WHERE key_id = ANY($1) GROUP BY key_id`,
		ids(slices.Concat(b1.rotates, b2.rotates, b3.rotates)))
	if err != nil {
		t.Fatal(err)
	}
	versions := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		versions[id] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids(slices.Concat(b1.rotates, b2.rotates, b3.rotates)) {
		if versions[id] != 2 {
			t.Errorf("rotated key %s has %d versions, want 2 (rotated once)", id, versions[id])
		}
	}
}

// TestClusterRotateRoot: `trent rotate-root` on one node of several is
// refused while another node serves unsealed, and while another rotation
// holds the cluster-wide rotation lease; alone, it rotates, and a node
// started afterwards works with the new root key on what was there
// before.
func TestClusterRotateRoot(t *testing.T) {
	in := initOnDatabase(t)
	ctx := t.Context()
	nodes := startNodes(t, in, 2, "--throttle=false")
	a, b := nodes[0], nodes[1]
	ca := in.rootClient(a.proc)
	k, err := ca.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := ca.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("before")})
	if err != nil {
		t.Fatal(err)
	}
	rotate := func() (string, int) {
		t.Helper()
		out, stderr, code := runCLI(t, "", []string{"AWS_ACCESS_KEY_ID=" + in.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + in.SecretAccessKey},
			"rotate-root", "--endpoint", a.proc.URL)
		return out + stderr, code
	}
	generation := func() (gen []byte, next bool) {
		t.Helper()
		st, err := postgres.Open(ctx, in.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		gen, err = st.GetSetting(ctx, "seal.root.generation")
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		_, err = st.GetSetting(ctx, "seal.root.next")
		return gen, err == nil
	}

	if out, code := rotate(); code == 0 || !strings.Contains(out, "other node(s) serve this installation unsealed") {
		t.Fatalf("rotate-root beside another unsealed node: exit %d\n%s", code, out)
	}
	if gen, next := generation(); gen != nil || next {
		t.Fatalf("a refused rotation left generation %x, next root stored %v", gen, next)
	}

	// Another rotation under way: the test holds its lease.
	st, err := postgres.Open(ctx, in.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	other := st.NewLease(store.LeaseRotateRoot, "the test")
	if held, err := other.Try(ctx); !held || err != nil {
		t.Fatalf("the test takes the rotation lease: %v, %v", held, err)
	}
	if err := b.proc.Stop(t); err != nil {
		t.Fatal(err)
	}
	// Until the server has ended b's sessions, a still sees b (and would
	// refuse for that reason, not the one this step checks): wait for it,
	// and say so if it never comes rather than fail below with a refusal
	// for the other reason.
	for i := 0; ; i++ {
		ns, err := st.Contenders(ctx, store.LeaseJobs)
		if err != nil {
			t.Fatal(err)
		}
		if len(ns) == 1 {
			break
		}
		if i == 3000 {
			t.Fatalf("30 s after b stopped, the job lease's contenders are still %q", ns)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if out, code := rotate(); code == 0 || !strings.Contains(out, "another node is rotating the root key (the test)") {
		t.Fatalf("rotate-root while another rotation holds the lease: exit %d\n%s", code, out)
	}
	if err := other.Release(); err != nil {
		t.Fatal(err)
	}

	if out, code := rotate(); code != 0 {
		t.Fatalf("rotate-root alone: exit %d\n%s", code, out)
	}
	if gen, next := generation(); !bytes.Equal(gen, []byte{0, 0, 0, 1}) || next {
		t.Fatalf("after the rotation: generation %x, next root still stored %v", gen, next)
	}

	// b starts on the new root key and reads what was made before.
	b = startNodes(t, in, 1)[0]
	cb := in.rootClient(b.proc)
	dec, err := cb.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != "before" {
		t.Fatalf("Decrypt through a node started after the rotation: %v", err)
	}
	enc2, err := cb.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("after")})
	if err != nil {
		t.Fatal(err)
	}
	if dec, err := ca.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc2.CiphertextBlob}); err != nil || string(dec.Plaintext) != "after" {
		t.Fatalf("Decrypt through the rotating node: %v", err)
	}
}
