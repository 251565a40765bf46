package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/trent-kms/trent/internal/sigv4"
	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

// sysCall sends one operator request, signed by (id, secret) unless id
// is empty, and returns the answer's status.
func sysCall(t *testing.T, url, method, path, body, id, secret string) int {
	t.Helper()
	req, err := http.NewRequest(method, url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "sys-audit-test")
	if id != "" {
		if err := sigv4.Sign(req, []byte(body), id, []byte(secret), "us-east-1", "kms", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// requestIDOf is the request id of an SDK error's answer.
func requestIDOf(t *testing.T, err error) string {
	t.Helper()
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != 503 {
		t.Fatalf("want a 503 while sealed, got %v", err)
	}
	return re.ServiceRequestID()
}

// sysExpect is one event the test expects, in order.
type sysExpect struct {
	source, name, errorCode string
	requestID               string // for 503s: the answer's
	check                   func(t *testing.T, ev map[string]any)
}

// TestSysEndpointsAudited: every operator request — status, unseal shares
// (good, bad, reset), seal (sealed already, badly signed, by the root),
// rotate-root, signed /metrics — and every API request answered 503 while sealed appears
// exactly once in the audit log, in order; the ones answered while sealed
// after the next unseal, the ones answered unsealed (the seal included)
// before their answer. The log verifies, LookupEvents finds them, and no
// share is in any audit file.
func TestSysEndpointsAudited(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	in := initShamirDir(t, dir, "3", "2")
	p := startTrentArgs(t, nil, "serve", "--data-dir", dir, "--listen", "127.0.0.1:0")
	p.WaitStderr(t, "sealed")
	ctx := t.Context()
	k, i, s := clients(p.URL, in.ID, in.Secret)
	var want []sysExpect
	sys := func(name, errorCode string) {
		want = append(want, sysExpect{source: "trent.sys", name: name, errorCode: errorCode})
	}
	progress := func(name string, sealed bool, n int) {
		want = append(want, sysExpect{source: "trent.sys", name: name, check: func(t *testing.T, ev map[string]any) {
			if field(ev, "responseElements", "sealed") != sealed || field(ev, "responseElements", "progress") != float64(n) {
				t.Errorf("%s: responseElements %v, want sealed %v progress %d", name, ev["responseElements"], sealed, n)
			}
		}})
	}

	// Sealed: nothing can be recorded yet.
	if c := sysCall(t, p.URL, "GET", "/sys/status", "", "", ""); c != 200 {
		t.Fatalf("status: %d", c)
	}
	progress("GetStatus", true, 0)
	_, err := k.ListKeys(ctx, &kms.ListKeysInput{})
	want = append(want, sysExpect{source: "kms.amazonaws.com", name: "ListKeys", errorCode: "ServiceUnavailableException", requestID: requestIDOf(t, err)})
	_, err = i.ListUsers(ctx, &iam.ListUsersInput{})
	want = append(want, sysExpect{source: "iam.amazonaws.com", name: "ListUsers", errorCode: "ServiceUnavailable", requestID: requestIDOf(t, err)})
	_, err = s.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	want = append(want, sysExpect{source: "sts.amazonaws.com", name: "GetCallerIdentity", errorCode: "ServiceUnavailable", requestID: requestIDOf(t, err)})
	if c := sysCall(t, p.URL, "GET", "/metrics", "", in.ID, in.Secret); c != 503 {
		t.Fatalf("signed /metrics while sealed: %d", c)
	}
	sys("GetMetrics", "ServiceUnavailableException")
	corrupt := []byte(in.Shares[1])
	corrupt[50] ^= 1
	if c := sysCall(t, p.URL, "POST", "/sys/unseal", fmt.Sprintf(`{"share":%q}`, corrupt), "", ""); c != 400 {
		t.Fatalf("corrupt share: %d", c)
	}
	sys("Unseal", "InvalidRequestException")
	if c := sysCall(t, p.URL, "POST", "/sys/unseal", `{"share":"`+in.Shares[0]+`"}`, "", ""); c != 200 {
		t.Fatalf("share 1: %d", c)
	}
	progress("Unseal", true, 1)
	if c := sysCall(t, p.URL, "POST", "/sys/unseal", `{"reset":true}`, "", ""); c != 200 {
		t.Fatalf("reset: %d", c)
	}
	progress("ResetUnseal", true, 0)
	if c := sysCall(t, p.URL, "POST", "/sys/unseal", `{"share":"`+in.Shares[0]+`"}`, "", ""); c != 200 {
		t.Fatalf("share 1 again: %d", c)
	}
	progress("Unseal", true, 1)
	if c := sysCall(t, p.URL, "POST", "/sys/seal", "{}", in.ID, in.Secret); c != 200 {
		t.Fatalf("seal while sealed: %d", c)
	}
	sys("Seal", "")
	if evs := auditEvents(t, dir); len(evs) != 0 {
		t.Fatalf("%d events written while sealed: no log is open", len(evs))
	}
	if c := sysCall(t, p.URL, "POST", "/sys/unseal", `{"share":"`+in.Shares[2]+`"}`, "", ""); c != 200 {
		t.Fatalf("share 3: %d", c)
	}
	progress("Unseal", false, 0)
	if got := len(auditEvents(t, dir)); got != len(want) {
		t.Fatalf("after the unseal's answer the log holds %d events, want the %d so far", got, len(want))
	}

	// Unsealed: each event is durable before its answer.
	wrong := map[bool]string{true: "y", false: "x"}[in.Secret[0] == 'x'] + in.Secret[1:]
	if c := sysCall(t, p.URL, "POST", "/sys/seal", "{}", in.ID, wrong); c < 400 {
		t.Fatalf("seal with a wrong secret: %d", c)
	}
	want = append(want, sysExpect{source: "trent.sys", name: "Seal", errorCode: "*", check: func(t *testing.T, ev map[string]any) {
		if field(ev, "userIdentity", "accessKeyId") != in.ID || field(ev, "userIdentity", "type") != "Unknown" {
			t.Errorf("badly signed seal: userIdentity %v", ev["userIdentity"])
		}
	}})
	if c := sysCall(t, p.URL, "GET", "/sys/status", "", "", ""); c != 200 {
		t.Fatalf("status: %d", c)
	}
	progress("GetStatus", false, 0)
	if c := sysCall(t, p.URL, "GET", "/metrics", "", in.ID, in.Secret); c != 200 {
		t.Fatalf("signed /metrics: %d", c)
	}
	want = append(want, sysExpect{source: "trent.sys", name: "GetMetrics", check: func(t *testing.T, ev map[string]any) {
		if field(ev, "userIdentity", "type") != "Root" || ev["readOnly"] != true {
			t.Errorf("GetMetrics event: %v", ev)
		}
	}})
	rot, _ := json.Marshal(map[string][]string{"unseal_shares": in.Shares[1:]})
	if c := sysCall(t, p.URL, "POST", "/sys/rotate-root", string(rot), in.ID, in.Secret); c != 200 {
		t.Fatalf("rotate-root: %d", c)
	}
	want = append(want, sysExpect{source: "trent.sys", name: "RotateRoot", check: func(t *testing.T, ev map[string]any) {
		if field(ev, "userIdentity", "type") != "Root" || field(ev, "responseElements", "rootGeneration") != float64(1) ||
			field(ev, "requestParameters", "unsealSharesGiven") != float64(2) {
			t.Errorf("RotateRoot event: %v", ev)
		}
	}})
	if c := sysCall(t, p.URL, "POST", "/sys/seal", "{}", in.ID, in.Secret); c != 200 {
		t.Fatalf("seal: %d", c)
	}
	want = append(want, sysExpect{source: "trent.sys", name: "Seal", check: func(t *testing.T, ev map[string]any) {
		if field(ev, "userIdentity", "arn") != "arn:aws:iam::"+in.Account+":root" || field(ev, "recipientAccountId") != in.Account {
			t.Errorf("Seal event: %v", ev)
		}
	}})
	if got := len(auditEvents(t, dir)); got != len(want) {
		t.Fatalf("after the seal's answer the log holds %d events, want %d", got, len(want))
	}

	// Sealed again, then unsealed with the same shares.
	_, err = k.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/x"), Plaintext: []byte("p")})
	want = append(want, sysExpect{source: "kms.amazonaws.com", name: "Encrypt", errorCode: "ServiceUnavailableException", requestID: requestIDOf(t, err)})
	for n, share := range in.Shares[:2] {
		if c := sysCall(t, p.URL, "POST", "/sys/unseal", `{"share":"`+share+`"}`, "", ""); c != 200 {
			t.Fatalf("share %d: %d", n+1, c)
		}
		progress("Unseal", n == 0, map[bool]int{true: 1, false: 0}[n == 0])
	}

	// LookupEvents shows the operator's events to the operator's account.
	out, err := p.CloudTrail(in.ID, in.Secret).LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
		{AttributeKey: cttypes.LookupAttributeKeyEventSource, AttributeValue: aws.String("trent.sys")}}, MaxResults: aws.Int32(50)})
	if err != nil {
		t.Fatalf("LookupEvents: %v", err)
	}
	nsys := 0
	for _, w := range want {
		if w.source == "trent.sys" {
			nsys++
		}
	}
	if len(out.Events) != nsys || aws.ToString(out.Events[0].EventName) != "Unseal" {
		t.Fatalf("LookupEvents EventSource trent.sys: %d events (newest %v), want %d", len(out.Events), out.Events[0].EventName, nsys)
	}
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}

	var got []map[string]any
	for _, ev := range auditEvents(t, dir) {
		if ev["eventSource"] == "trent.sys" || strings.HasPrefix(fmt.Sprint(ev["errorCode"]), "ServiceUnavailable") {
			got = append(got, ev)
		}
	}
	if len(got) != len(want) {
		for _, ev := range got {
			t.Logf("%v %v %v", ev["eventSource"], ev["eventName"], ev["errorCode"])
		}
		t.Fatalf("%d operator and sealed-time events, want %d", len(got), len(want))
	}
	for n, w := range want {
		ev := got[n]
		code, _ := ev["errorCode"].(string)
		codeOK := code == w.errorCode || w.errorCode == "*" && code != ""
		if ev["eventSource"] != w.source || ev["eventName"] != w.name || !codeOK {
			t.Errorf("event %d: %v %v %q, want %s %s %q", n, ev["eventSource"], ev["eventName"], code, w.source, w.name, w.errorCode)
			continue
		}
		if w.requestID != "" && ev["requestID"] != w.requestID {
			t.Errorf("event %d (%s): requestID %v, want the answer's %s", n, w.name, ev["requestID"], w.requestID)
		}
		if ev["recipientAccountId"] != in.Account || ev["awsRegion"] == "" || ev["eventType"] != "AwsApiCall" {
			t.Errorf("event %d (%s): recipient %v region %v type %v", n, w.name, ev["recipientAccountId"], ev["awsRegion"], ev["eventType"])
		}
		if w.requestID != "" && field(ev, "userIdentity", "accessKeyId") != in.ID {
			t.Errorf("event %d (%s): userIdentity %v, want the claimed access key", n, w.name, ev["userIdentity"])
		}
		if w.check != nil {
			w.check(t, ev)
		}
	}

	if testing.Verbose() {
		for _, ev := range got {
			b, _ := json.Marshal(ev)
			t.Logf("%s", b)
		}
	}
	out2, err := testcmd.Command(t, trentBinary(t), "audit", "verify", "--data-dir", dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out2), "verified") {
		t.Fatalf("trent audit verify: %v\n%s", err, out2)
	}
	all := auditBytes(t, dir)
	for n, share := range append(in.Shares, string(corrupt)) {
		for _, form := range shareForms(share) {
			if bytes.Contains(all, []byte(form)) {
				t.Errorf("share %d is in the audit files (as %x…)", n+1, form[:16])
			}
		}
	}
	if bytes.Contains(all, []byte(in.Secret)) || bytes.Contains(all, []byte(in.Secret[1:])) {
		t.Error("the secret access key is in the audit files")
	}
}

// shareForms are the ways a share could appear in a file: its text, a
// long enough middle part of it, its bytes (the text is hex) and its y
// value alone, each as is, in base64 and in hex.
func shareForms(share string) []string {
	parts := []string{share, share[len(share)/4 : 3*len(share)/4]}
	if raw, err := hex.DecodeString(share); err == nil && len(raw) >= 43 {
		parts = append(parts, string(raw), string(raw[11:43]))
	}
	var out []string
	for _, s := range parts {
		out = append(out, s,
			base64.StdEncoding.EncodeToString([]byte(s)), base64.RawURLEncoding.EncodeToString([]byte(s)),
			hex.EncodeToString([]byte(s)), strings.ToUpper(hex.EncodeToString([]byte(s))))
	}
	return out
}
