package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/trent-kms/trent/internal/app"
)

// TestClusterEnforcesChangesOfOtherNodes runs three real nodes (A, B, C) on
// one PostgreSQL database. B and C first use a key (so they cache it, its
// policy, and the caller's access key); then a change made through A must
// be enforced by B (and C) — a key disabled, a key policy changed, an
// access key deactivated. Each is polled until refused; a call sent more
// than feedBound after the change may not be answered by the old state.
// That holds on a machine however slow (slowness only delays the node's
// answer, never its view of the store: see feedBound); the test logs the
// delay and the number of requests the node answered by the old state.
// Last, the database stops: B must stop serving its cached key once it
// cannot confirm freshness (fail closed).
//
// Without the change feed (app.watchChanges not called), the key cache of
// B keeps the key enabled for its idle time (10 min) and the first check
// fails at its first call sent after feedBound.
func TestClusterEnforcesChangesOfOtherNodes(t *testing.T) {
	ctx := context.Background()
	in := initOnDatabase(t, "--account", "444455556666")
	c := in.Cluster
	var nodes [3]*trentProc
	for i := range nodes {
		nodes[i] = in.serve(t)
	}
	a, b, cc := in.rootClient(nodes[0]), in.rootClient(nodes[1]), in.rootClient(nodes[2])
	iamA := in.rootIAM(nodes[0])

	encrypt := func(cl *kms.Client, key string) func() error {
		return func() error {
			_, err := cl.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(key), Plaintext: []byte("p")})
			return err
		}
	}
	mustWork := func(what string, f func() error) {
		t.Helper()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// 1. A key disabled through A is refused by B and C.
	k1, err := a.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id1 := *k1.KeyMetadata.KeyId
	mustWork("Encrypt through B", encrypt(b, id1))
	mustWork("Encrypt through C", encrypt(cc, id1))
	if _, err := a.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id1)}); err != nil {
		t.Fatal(err)
	}
	done := time.Now()
	enforced(t, "DisableKey through A, Encrypt through B", done, encrypt(b, id1), "DisabledException")
	enforced(t, "DisableKey through A, Encrypt through C", done, encrypt(cc, id1), "DisabledException")

	// A user whose access comes from key policies only.
	if _, err := iamA.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("feed")}); err != nil {
		t.Fatal(err)
	}
	ak, err := iamA.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("feed")})
	if err != nil {
		t.Fatal(err)
	}
	userB := nodes[1].Client(*ak.AccessKey.AccessKeyId, *ak.AccessKey.SecretAccessKey)
	rootOnly := `{"Sid":"root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"kms:*","Resource":"*"}`
	userToo := `{"Sid":"user","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:user/feed"},"Action":"kms:Encrypt","Resource":"*"}`
	withUser := policyDoc(rootOnly, userToo)
	k2, err := a.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(withUser)})
	if err != nil {
		t.Fatal(err)
	}
	k3, err := a.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(withUser)})
	if err != nil {
		t.Fatal(err)
	}
	id2, id3 := *k2.KeyMetadata.KeyId, *k3.KeyMetadata.KeyId
	// The user's key may take a moment to be found by B (an unknown id
	// seen before is remembered as absent for up to a ping interval).
	eventually(t, "the user's first Encrypt through B", encrypt(userB, id2))
	mustWork("the user's Encrypt through B", encrypt(userB, id3))

	// 2. A key policy changed through A is enforced by B.
	if _, err := a.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(id2), PolicyName: aws.String("default"),
		Policy: aws.String(policyDoc(rootOnly))}); err != nil {
		t.Fatal(err)
	}
	enforced(t, "PutKeyPolicy through A, Encrypt through B", time.Now(), encrypt(userB, id2), "AccessDeniedException")
	mustWork("the user's Encrypt of another key through B", encrypt(userB, id3))

	// 3. An access key deactivated through A is refused by B.
	if _, err := iamA.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("feed"),
		AccessKeyId: ak.AccessKey.AccessKeyId, Status: iamtypes.StatusTypeInactive}); err != nil {
		t.Fatal(err)
	}
	enforced(t, "UpdateAccessKey Inactive through A, Encrypt through B", time.Now(), encrypt(userB, id3),
		"UnrecognizedClientException")

	// 4. The database stops. Encrypt of a key B has cached needs nothing
	// from the database while B trusts its caches; once B can no longer
	// confirm that it missed no change (app.FreshnessBound, 1 s), it is
	// refused with a 5xx AWS error, and stays refused: every call sent
	// more than feedBound after the database stopped (its last
	// confirmation came before). Without the freshness rule B goes on
	// encrypting (checked by removing the gate in app/cluster.go: the test
	// then fails at the first call sent after feedBound).
	mustWork("Encrypt through B", encrypt(b, id3))
	if checks := readiness(t, nodes[1]); !checks["changes"] {
		t.Fatalf("B's /readyz before the stop: %v, want changes true", checks)
	}
	c.Stop()
	stopped := time.Now()
	served := 0
	for {
		sent := time.Now()
		err := encrypt(b, id3)()
		if err == nil {
			served++
			if after := sent.Sub(stopped); after > feedBound {
				t.Fatalf("Encrypt of a cached key sent %v after the database stopped was served (%d calls served)", after, served)
			}
			time.Sleep(5 * time.Millisecond)
			continue
		}
		var re *awshttp.ResponseError
		var ae smithy.APIError
		if !errors.As(err, &re) || re.HTTPStatusCode() < 500 || !errors.As(err, &ae) {
			t.Fatalf("Encrypt with the database stopped: %v, want an AWS 5xx error", err)
		}
		t.Logf("database stopped, Encrypt through B: refused (%s, HTTP %d) %v after the stop, after %d calls served from the caches",
			ae.ErrorCode(), re.HTTPStatusCode(), time.Since(stopped).Round(time.Millisecond), served)
		break
	}
	for i := range 5 {
		if err := encrypt(b, id3)(); err == nil {
			t.Fatalf("call %d after the refusal: Encrypt served with the database stopped", i)
		}
	}
	// Its readiness says why, so that a load balancer routes around it.
	if checks := readiness(t, nodes[1]); checks["changes"] {
		t.Fatalf("B's /readyz with the database stopped: %v, want changes false", checks)
	}
}

// readiness returns the checks of p's /readyz.
func readiness(t *testing.T, p *trentProc) map[string]bool {
	t.Helper()
	resp, err := http.Get(p.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Checks map[string]bool `json:"checks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("/readyz: %v", err)
	}
	return r.Checks
}

// feedBound is how long after a change through one node another node
// may still answer by the old state: app.FreshnessBound, plus
// staleDropEvery (100 ms, internal/app/cluster.go) for good measure. A
// node serves from its caches only while the change feed confirmed within
// FreshnessBound that it missed nothing — a confirmation is a ping sent
// after the change was committed and received after its notification —
// and otherwise reads the store. So a call sent to a node more than
// feedBound after the change was answered is answered by the new state
// however loaded the machine is: load delays when the node handles the
// call, which only makes its view newer.
const feedBound = app.FreshnessBound + 100*time.Millisecond

// enforced calls try until it fails with the AWS error code want, and
// logs how long that took and how many calls were answered by the old
// state. A call sent more than feedBound after since (when the change
// through the other node was answered) that is answered by the old state
// fails the test.
func enforced(t *testing.T, what string, since time.Time, try func() error, want string) {
	t.Helper()
	stale := 0
	for {
		sent := time.Now()
		err := try()
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == want {
			t.Logf("%s: refused (%s) %v after the change, after %d calls answered by the old state",
				what, want, time.Since(since).Round(time.Millisecond), stale)
			return
		}
		if err != nil && !errors.As(err, &ae) {
			t.Fatalf("%s: %v", what, err)
		}
		if err != nil {
			t.Fatalf("%s: %s, want %s", what, ae.ErrorCode(), want)
		}
		stale++
		if after := sent.Sub(since); after > feedBound {
			t.Fatalf("%s: a call sent %v after the change was answered by the old state (%d calls)", what, after, stale)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// eventually calls try until it succeeds. What try waits for is a change
// through another node, answered before eventually was called, reaching
// this node through the change feed: a call sent more than feedBound
// after eventually was called that still fails fails the test.
func eventually(t *testing.T, what string, try func() error) {
	t.Helper()
	start := time.Now()
	for {
		sent := time.Now()
		err := try()
		if err == nil {
			return
		}
		if after := sent.Sub(start); after > feedBound {
			t.Fatalf("%s: a call sent %v after the change: %v", what, after, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
