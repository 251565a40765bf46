package e2e

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// crashNode is a trent binary serving one data directory, which a test
// kills with SIGKILL and starts again.
type crashNode struct {
	dir        string
	env        []string
	id, secret string
	proc       *trentProc
	kms        *kms.Client
}

func newCrashNode(t *testing.T) *crashNode {
	id, secret := randomAccessKey(t)
	n := &crashNode{dir: filepath.Join(t.TempDir(), "data"), id: id, secret: secret,
		env: []string{"TRENT_ROOT_ACCESS_KEY_ID=" + id, "TRENT_ROOT_SECRET_ACCESS_KEY=" + secret}}
	n.start(t)
	return n
}

func (n *crashNode) start(t *testing.T) {
	t.Helper()
	n.proc = startTrent(t, n.env, "--data-dir", n.dir)
	n.kms = n.proc.Client(n.id, n.secret)
}

// crashRestart kills the process with SIGKILL — no shutdown, no WAL
// checkpoint, no store Close — and starts a new one on the same directory.
func (n *crashNode) crashRestart(t *testing.T) {
	t.Helper()
	n.proc.Kill(t)
	n.start(t)
}

// acked is what the server has acknowledged so far; each field is set once
// the call that made it returned success.
type acked struct {
	keyID, arn, material1 string
	pt1, ct1              []byte
	rotated               bool
	pt2, ct2              []byte
	alias                 string
}

var crashContext = map[string]string{"purpose": "crash-test"}

// The steps of the crash tests, each one acknowledged call.
var crashSteps = []struct {
	name string
	do   func(t *testing.T, c *kms.Client, a *acked)
}{
	{"CreateKey", func(t *testing.T, c *kms.Client, a *acked) {
		out, err := c.CreateKey(t.Context(), &kms.CreateKeyInput{Description: aws.String("crash")})
		if err != nil {
			t.Fatalf("CreateKey: %v", err)
		}
		md := out.KeyMetadata
		if md.CurrentKeyMaterialId == nil || *md.CurrentKeyMaterialId == "" {
			t.Fatal("CreateKey returned no CurrentKeyMaterialId")
		}
		a.keyID, a.arn, a.material1 = *md.KeyId, *md.Arn, *md.CurrentKeyMaterialId
	}},
	{"Encrypt", func(t *testing.T, c *kms.Client, a *acked) {
		pt := []byte("first secret, before rotation")
		out, err := c.Encrypt(t.Context(), &kms.EncryptInput{KeyId: &a.keyID, Plaintext: pt, EncryptionContext: crashContext})
		if err != nil {
			t.Fatalf("Encrypt: %v", err)
		}
		a.pt1, a.ct1 = pt, out.CiphertextBlob
	}},
	{"RotateKeyOnDemand", func(t *testing.T, c *kms.Client, a *acked) {
		if _, err := c.RotateKeyOnDemand(t.Context(), &kms.RotateKeyOnDemandInput{KeyId: &a.keyID}); err != nil {
			t.Fatalf("RotateKeyOnDemand: %v", err)
		}
		a.rotated = true
	}},
	{"Encrypt again", func(t *testing.T, c *kms.Client, a *acked) {
		pt := []byte("second secret, after rotation")
		out, err := c.Encrypt(t.Context(), &kms.EncryptInput{KeyId: &a.keyID, Plaintext: pt, EncryptionContext: crashContext})
		if err != nil {
			t.Fatalf("Encrypt: %v", err)
		}
		a.pt2, a.ct2 = pt, out.CiphertextBlob
	}},
	{"CreateAlias", func(t *testing.T, c *kms.Client, a *acked) {
		if _, err := c.CreateAlias(t.Context(), &kms.CreateAliasInput{AliasName: aws.String("alias/crash"), TargetKeyId: &a.keyID}); err != nil {
			t.Fatalf("CreateAlias: %v", err)
		}
		a.alias = "alias/crash"
	}},
}

// check verifies that everything acknowledged survived.
func (a *acked) check(t *testing.T, c *kms.Client) {
	t.Helper()
	if a.keyID == "" {
		return
	}
	ctx := t.Context()
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &a.keyID})
	if err != nil {
		t.Fatalf("DescribeKey of an acknowledged key: %v", err)
	}
	current := aws.ToString(d.KeyMetadata.CurrentKeyMaterialId)
	if d.KeyMetadata.KeyState != "Enabled" || aws.ToString(d.KeyMetadata.Arn) != a.arn {
		t.Fatalf("DescribeKey: state %s, arn %s", d.KeyMetadata.KeyState, aws.ToString(d.KeyMetadata.Arn))
	}
	if a.rotated == (current == a.material1) {
		t.Fatalf("CurrentKeyMaterialId %s (first material %s), rotated %v", current, a.material1, a.rotated)
	}
	rot, err := c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: &a.keyID})
	if err != nil {
		t.Fatalf("ListKeyRotations: %v", err)
	}
	if want := map[bool]int{false: 0, true: 1}[a.rotated]; len(rot.Rotations) != want {
		t.Fatalf("ListKeyRotations: %d rotations, want %d", len(rot.Rotations), want)
	}
	decrypt := func(ct, want []byte, material string) {
		t.Helper()
		out, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct, EncryptionContext: crashContext})
		if err != nil {
			t.Fatalf("Decrypt of an acknowledged ciphertext: %v", err)
		}
		if !bytes.Equal(out.Plaintext, want) || aws.ToString(out.KeyId) != a.arn {
			t.Fatalf("Decrypt = %q under %s, want %q under %s", out.Plaintext, aws.ToString(out.KeyId), want, a.arn)
		}
		if got := aws.ToString(out.KeyMaterialId); got != material {
			t.Fatalf("Decrypt KeyMaterialId %s, want %s", got, material)
		}
	}
	if a.ct1 != nil {
		decrypt(a.ct1, a.pt1, a.material1)
	}
	if a.ct2 != nil {
		decrypt(a.ct2, a.pt2, current)
	}
	if a.alias != "" {
		d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &a.alias})
		if err != nil {
			t.Fatalf("DescribeKey %s: %v", a.alias, err)
		}
		if aws.ToString(d.KeyMetadata.KeyId) != a.keyID {
			t.Fatalf("%s points at %s, want %s", a.alias, aws.ToString(d.KeyMetadata.KeyId), a.keyID)
		}
		enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: &a.alias, Plaintext: []byte("via alias")})
		if err != nil {
			t.Fatalf("Encrypt via %s: %v", a.alias, err)
		}
		dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
		if err != nil || string(dec.Plaintext) != "via alias" || aws.ToString(dec.KeyMaterialId) != current {
			t.Fatalf("Decrypt of a ciphertext made via %s: %v", a.alias, err)
		}
	}
}

func TestCrashAfterLastCall(t *testing.T) {
	n := newCrashNode(t)
	var a acked
	for _, s := range crashSteps {
		s.do(t, n.kms, &a)
	}
	n.crashRestart(t)
	a.check(t, n.kms)
	// And once more, after the first restart wrote nothing.
	n.crashRestart(t)
	a.check(t, n.kms)
}

func TestCrashAfterEachCall(t *testing.T) {
	n := newCrashNode(t)
	var a acked
	for _, s := range crashSteps {
		s.do(t, n.kms, &a)
		n.crashRestart(t)
		a.check(t, n.kms)
	}
}

// TestCrashDuringWrites kills the server while writes are in flight: every
// key whose CreateKey was acknowledged must exist afterwards, and the store
// must open and work.
func TestCrashDuringWrites(t *testing.T) {
	n := newCrashNode(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	enough := make(chan struct{})
	var once sync.Once
	load := createKeysUntilGone(ctx, n, 8, "burst", func(made int) {
		if made >= 40 {
			once.Do(func() { close(enough) })
		}
	})
	select {
	case <-enough:
	case <-time.After(30 * time.Second):
		t.Fatal("40 CreateKeys did not complete within 30s")
	}
	n.proc.Kill(t) // with CreateKeys in flight
	cancel()
	keys := load.wait()

	n.start(t)
	for _, id := range keys {
		if _, err := n.kms.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String(id)}); err != nil {
			t.Fatalf("acknowledged key %s lost in the crash: %v", id, err)
		}
	}
	list, err := n.kms.ListKeys(t.Context(), &kms.ListKeysInput{Limit: aws.Int32(1000)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Keys) < len(keys) {
		t.Fatalf("ListKeys: %d keys, %d acknowledged", len(list.Keys), len(keys))
	}
	for _, k := range list.Keys {
		// Keys created but not acknowledged are whole too.
		enc, err := n.kms.Encrypt(t.Context(), &kms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("x")})
		if err != nil {
			t.Fatalf("Encrypt under %s after the crash: %v", aws.ToString(k.KeyId), err)
		}
		if _, err := n.kms.Decrypt(t.Context(), &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil {
			t.Fatalf("Decrypt under %s after the crash: %v", aws.ToString(k.KeyId), err)
		}
	}
	t.Logf("%d CreateKeys acknowledged before the kill, %d keys after", len(keys), len(list.Keys))
}

// keyLoad is CreateKey load from several clients: the ids of the keys
// whose CreateKey was answered.
type keyLoad struct {
	mu   sync.Mutex
	keys []string
	wg   sync.WaitGroup
}

// createKeysUntilGone has workers clients create keys on n until ctx ends
// or the server stops answering, calling made (if not nil) with the count
// of keys answered so far after each one, under the load's lock.
func createKeysUntilGone(ctx context.Context, n *crashNode, workers int, label string, made func(int)) *keyLoad {
	l := &keyLoad{}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				out, err := n.kms.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String(fmt.Sprintf("%s %d/%d", label, w, i))})
				if err != nil {
					return // the server is gone
				}
				l.mu.Lock()
				l.keys = append(l.keys, *out.KeyMetadata.KeyId)
				if made != nil {
					made(len(l.keys))
				}
				l.mu.Unlock()
			}
		}()
	}
	return l
}

// count is how many keys were answered so far.
func (l *keyLoad) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

// wait waits for every client to stop and returns the answered keys.
func (l *keyLoad) wait() []string {
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.keys
}
