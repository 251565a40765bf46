package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// TestPostgresKeyLastUsageAcrossNodes: two nodes on one database; a key
// used through node A (a successful Encrypt, then a failed one, which is
// no use) is reported by GetKeyLastUsage through node B, which never saw
// the request, with A's request id — once A has written its uses. Node A
// killed before it wrote its last ones reads them back from its log's
// tail when it starts again on its data dir (nothing else writes them
// since migration 0010), and B then reports them.
func TestPostgresKeyLastUsageAcrossNodes(t *testing.T) {
	ctx := context.Background()
	in := initOnDatabase(t)
	dirA := filepath.Join(t.TempDir(), "node-a")
	a := in.serveAt(t, dirA)
	ca, cb := in.rootClient(a), in.rootClient(in.serve(t))
	ck, err := ca.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	keyID := ck.KeyMetadata.KeyId
	if u, err := cb.GetKeyLastUsage(ctx, &kms.GetKeyLastUsageInput{KeyId: keyID}); err != nil || u.KeyLastUsage == nil || u.KeyLastUsage.Operation != "" {
		t.Fatalf("GetKeyLastUsage before any use: %v %+v", err, u)
	}
	enc, err := ca.Encrypt(ctx, &kms.EncryptInput{KeyId: keyID, Plaintext: []byte("use")})
	if err != nil {
		t.Fatal(err)
	}
	requestID, _ := awsmw.GetRequestIDMetadata(enc.ResultMetadata)
	if _, err := ca.Encrypt(ctx, &kms.EncryptInput{KeyId: keyID, Plaintext: []byte("use"), EncryptionAlgorithm: "RSAES_OAEP_SHA_256"}); err == nil {
		t.Fatal("Encrypt with an RSA algorithm on a symmetric key succeeded")
	}
	waitUse(t, cb, keyID, requestID, "Encrypt")

	// A line carrying a NUL (escaped, \u0000) in a client's string, then
	// a use: the use still reaches node B (node A's shipping must not
	// stop at that line, nor its own reading of uses).
	ca.Encrypt(ctx, &kms.EncryptInput{KeyId: keyID, Plaintext: []byte("nul"), EncryptionContext: map[string]string{"k": "a\x00b"}})
	enc, err = ca.Encrypt(ctx, &kms.EncryptInput{KeyId: keyID, Plaintext: []byte("after")})
	if err != nil {
		t.Fatal(err)
	}
	requestID, _ = awsmw.GetRequestIDMetadata(enc.ResultMetadata)
	waitUse(t, cb, keyID, requestID, "Encrypt")

	// ReEncrypt uses two keys in one event: both report it.
	ck2, err := ca.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	re, err := ca.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, DestinationKeyId: ck2.KeyMetadata.KeyId})
	if err != nil {
		t.Fatal(err)
	}
	requestID, _ = awsmw.GetRequestIDMetadata(re.ResultMetadata)
	waitUse(t, cb, keyID, requestID, "ReEncrypt")
	waitUse(t, cb, ck2.KeyMetadata.KeyId, requestID, "ReEncrypt")

	// Uses answered, then SIGKILL at once: most likely before A's next
	// write (every second), else the test shows less but still holds.
	for range 5 {
		if enc, err = ca.Encrypt(ctx, &kms.EncryptInput{KeyId: keyID, Plaintext: []byte("then")}); err != nil {
			t.Fatal(err)
		}
	}
	requestID, _ = awsmw.GetRequestIDMetadata(enc.ResultMetadata)
	a.Kill(t)
	in.serveAt(t, dirA)
	waitUse(t, cb, keyID, requestID, "Encrypt")
}

// waitUse polls GetKeyLastUsage through c until it reports the use op
// with requestID (shipping is asynchronous), boundedly.
func waitUse(t *testing.T, c *kms.Client, keyID *string, requestID, op string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last *kmstypes.KeyLastUsageData
	for {
		u, err := c.GetKeyLastUsage(context.Background(), &kms.GetKeyLastUsageInput{KeyId: keyID})
		if err != nil {
			t.Fatalf("GetKeyLastUsage through node B: %v", err)
		}
		if l := u.KeyLastUsage; l != nil && aws.ToString(l.KmsRequestId) == requestID {
			if string(l.Operation) != op || aws.ToString(l.CloudTrailEventId) == "" || l.Timestamp == nil {
				t.Fatalf("through node B: %+v, want %s with an event id", l, op)
			}
			return
		}
		last = u.KeyLastUsage
		if time.Now().After(deadline) {
			t.Fatalf("node B never reported the use with request id %s (last: %+v)", requestID, last)
		}
		time.Sleep(300 * time.Millisecond) // under the GetKeyLastUsage quota (5/s)
	}
}
