package e2e

// Tests for the SigV4 findings of the security review (issue 6, items 1, 3
// and 12), against the server as cmd/trent serves it.

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// TestHardeningSigV4SignedHeadersBlowUp sends a 66 KB request that names
// one 32,000-byte header 16,000 times in SignedHeaders, with a valid access
// key id and a garbage signature. Before the fix the server built a
// ~488 MB canonical request (about 1 GB allocated) before it compared the
// signature; now it refuses the Authorization header as malformed. The
// server runs in this process, so what it allocates shows in TotalAlloc.
func TestHardeningSigV4SignedHeadersBlowUp(t *testing.T) {
	w := startWire(t)
	now := time.Now().UTC()
	auth := fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/%s/%s/kms/aws4_request, SignedHeaders=%scontent-type;host;x-amz-date;x-amz-target, Signature=%s",
		w.AccessKeyID, now.Format("20060102"), w.Region, strings.Repeat("a;", 16000), strings.Repeat("0", 64))
	req := w.newRequest(t, "ListKeys", []byte("{}"))
	req.Header.Set("A", strings.Repeat("x", 32000))
	req.Header.Set("X-Amz-Date", now.Format("20060102T150405Z"))
	req.Header.Set("Authorization", auth)

	// Warm up the connection and the server's pools, so that what is
	// measured is the request.
	w.do(t, w.newRequest(t, "ListKeys", []byte("{}")))

	const bound = 10 << 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := w.do(t, req)
	runtime.ReadMemStats(&after)

	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("the request and its refusal allocated %d KB in this process", alloc>>10)
	if alloc > bound {
		t.Errorf("refusing one %d-byte request allocated %d MB; want under %d MB",
			len(auth)+32000, alloc>>20, bound>>20)
	}
	msg := wantWireError(t, r, http.StatusBadRequest, "IncompleteSignatureException")
	if want := "'SignedHeaders' must name each header once, in lowercase and in ascending order, got 'a;a;a;"; !strings.HasPrefix(msg, want) {
		t.Errorf("message %.120q..., want prefix %q", msg, want)
	}
	if len(msg) > 4<<10 {
		t.Errorf("message of %d bytes: the echo of the header is not bounded", len(msg))
	}
}

// TestHardeningSigV4UnsignedTargetReplay captures a DescribeKey signed
// without X-Amz-Target in SignedHeaders (as a hand-written client signing
// only host and x-amz-date would send it), rewrites the target to
// ScheduleKeyDeletion and replays it. Before the fix the deletion was
// scheduled; now both requests are refused and the key is untouched.
func TestHardeningSigV4UnsignedTargetReplay(t *testing.T) {
	w := startWire(t)
	keyID := w.createKey(t)
	body := fmt.Appendf(nil, `{"KeyId":%q}`, keyID)

	captured := w.newRequest(t, "", body)
	w.Sign(t, captured, body, time.Now())
	if a := captured.Header.Get("Authorization"); strings.Contains(a, "x-amz-target") {
		t.Fatalf("the capture signs x-amz-target: %s", a)
	}
	for _, op := range []string{"DescribeKey", "ScheduleKeyDeletion"} {
		t.Run(op, func(t *testing.T) {
			req := w.newRequest(t, op, body)
			for _, h := range []string{"Authorization", "X-Amz-Date"} {
				req.Header.Set(h, captured.Header.Get(h))
			}
			msg := wantWireError(t, w.do(t, req), http.StatusBadRequest, "InvalidSignatureException")
			if want := "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization."; msg != want {
				t.Errorf("message %q, want %q", msg, want)
			}
		})
	}

	out, err := w.KMS.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		t.Fatalf("DescribeKey: %v", err)
	}
	if md := out.KeyMetadata; md.KeyState != types.KeyStateEnabled || md.DeletionDate != nil {
		t.Fatalf("after the replay the key is %s, deletion date %v; want Enabled and none", md.KeyState, md.DeletionDate)
	}
}

// TestHardeningSigV4MalformedQuery sends a DescribeKey signed (by the SDK's
// signer) without a query string, with a query that does not parse added
// afterwards. Before the fix the verifier dropped the pairs it could not
// parse and the signature held; now the request is refused.
func TestHardeningSigV4MalformedQuery(t *testing.T) {
	w := startWire(t)
	keyID := w.createKey(t)
	body := fmt.Appendf(nil, `{"KeyId":%q}`, keyID)
	for _, q := range []string{"%zz;evil=1", "evil=%4", strings.Repeat("a&", 10000) + "a"} {
		req := w.newRequest(t, "DescribeKey", body)
		w.Sign(t, req, body, time.Now())
		req.URL.RawQuery = q
		msg := wantWireError(t, w.do(t, req), http.StatusBadRequest, "IncompleteSignatureException")
		if !strings.HasPrefix(msg, "The query string is malformed and cannot be signed: ") {
			t.Errorf("query %.40q: message %q", q, msg)
		}
	}
}
