package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/trent-kms/trent/internal/testenv"
)

// scrape GETs url (signed with creds if not nil) and parses the answer
// with Prometheus's own text parser.
func scrape(t *testing.T, url string, creds *aws.Credentials) (int, map[string]*dto.MetricFamily, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if creds != nil {
		sum := sha256.Sum256(nil)
		if err := v4.NewSigner().SignHTTP(context.Background(), *creds, req, hex.EncodeToString(sum[:]), "kms", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil, string(body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse metrics: %v\n%s", err, body)
	}
	return resp.StatusCode, fams, string(body)
}

// sample finds the metric of family name whose labels include want;
// ok false if there is none.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) (*dto.Metric, bool) {
	f, ok := fams[name]
	if !ok {
		return nil, false
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		return m, true
	}
	return nil, false
}

// value is a counter's or gauge's value (0 if absent).
func value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	m, ok := sample(fams, name, labels)
	if !ok {
		return 0
	}
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return m.GetGauge().GetValue()
}

// startWithMetrics starts a dev server with --metrics-listen and returns
// it, the URL of its metrics listener and its root access key.
func startWithMetrics(t *testing.T) (srv *trentProc, metricsURL, id, secret string) {
	t.Helper()
	id, secret = randomAccessKey(t)
	srv = startTrent(t, []string{"TRENT_ROOT_ACCESS_KEY_ID=" + id, "TRENT_ROOT_SECRET_ACCESS_KEY=" + secret},
		"--metrics-listen", "127.0.0.1:0")
	out := srv.WaitStderr(t, "serving Prometheus metrics on ")
	_, rest, _ := strings.Cut(out, "serving Prometheus metrics on ")
	metricsURL, _, _ = strings.Cut(rest, "\n")
	return srv, metricsURL, id, secret
}

func req(service, op, outcome string) map[string]string {
	return map[string]string{"service": service, "operation": op, "outcome": outcome}
}

// TestMetrics: /metrics on --metrics-listen, parsed with Prometheus's
// parser, counts exactly the requests made, by operation and outcome,
// with latency histograms, key counts, cache, seal and audit state; on
// the API listener it answers only the operator's signed request.
func TestMetrics(t *testing.T) {
	srv, metricsURL, id, secret := startWithMetrics(t)

	ctx := context.Background()
	c := srv.Client(id, secret)
	key, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	var blob []byte
	for range 3 {
		e, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("m")})
		if err != nil {
			t.Fatal(err)
		}
		blob = e.CiphertextBlob
	}
	for range 2 {
		if _, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("11111111-2222-3333-4444-555555555555")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "NotFoundException" {
		t.Fatalf("DescribeKey of no key: %v", err)
	}
	// Unsigned, and an operation Trent does not have.
	post := func(target string) {
		r, err := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Content-Type", "application/x-amz-json-1.1")
		r.Header.Set("X-Amz-Target", target)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	post("TrentService.Encrypt")
	post("TrentService.NoSuchOperation" + strings.Repeat("x", 10))

	code, fams, body := scrape(t, metricsURL, nil)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", metricsURL, code, body)
	}
	counts := []struct {
		labels map[string]string
		want   float64
	}{
		{req("kms", "CreateKey", "ok"), 1},
		{req("kms", "Encrypt", "ok"), 3},
		{req("kms", "Decrypt", "ok"), 2},
		{req("kms", "DescribeKey", "NotFoundException"), 1},
		{req("kms", "Encrypt", "MissingAuthenticationTokenException"), 1},
		{req("kms", "unknown", "MissingAuthenticationTokenException"), 1},
	}
	for _, c := range counts {
		if got := value(fams, "trent_requests_total", c.labels); got != c.want {
			t.Errorf("trent_requests_total%v = %v, want %v", c.labels, got, c.want)
		}
	}
	var total float64
	for _, m := range fams["trent_requests_total"].GetMetric() {
		total += m.GetCounter().GetValue()
	}
	if total != 9 {
		t.Errorf("requests counted in all: %v, want the 9 made\n%s", total, body)
	}
	h, ok := sample(fams, "trent_request_duration_seconds", map[string]string{"service": "kms", "operation": "Encrypt"})
	if !ok || h.GetHistogram().GetSampleCount() != 4 || h.GetHistogram().GetSampleSum() <= 0 {
		t.Errorf("Encrypt latency histogram: %v", h)
	}
	gauges := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"trent_requests_in_flight", nil, 0},
		{"trent_sealed", nil, 0},
		{"trent_audit_healthy", nil, 1},
		{"trent_keys", map[string]string{"state": "Enabled", "spec": "SYMMETRIC_DEFAULT"}, 1},
		{"trent_key_cache_keys", nil, 1},
	}
	for _, g := range gauges {
		if got := value(fams, g.name, g.labels); got != g.want {
			t.Errorf("%s%v = %v, want %v", g.name, g.labels, got, g.want)
		}
	}
	// Encrypt and Decrypt found the key CreateKey cached.
	if hits := value(fams, "trent_key_cache_hits_total", nil); hits < 5 {
		t.Errorf("key cache hits = %v, want at least 5", hits)
	}
	if _, ok := fams["trent_key_cache_misses_total"]; !ok {
		t.Error("no trent_key_cache_misses_total")
	}
	if _, ok := fams["trent_key_cache_evictions_total"]; !ok {
		t.Error("no trent_key_cache_evictions_total")
	}
	if ev := value(fams, "trent_audit_events_total", nil); ev < 9 {
		t.Errorf("audit events = %v, want at least the 9 requests", ev)
	}
	if w, ok := sample(fams, "trent_audit_write_seconds", nil); !ok || w.GetHistogram().GetSampleCount() == 0 {
		t.Errorf("audit write latency: %v", w)
	}

	// A key scheduled for deletion moves between the state counts.
	if _, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: key.KeyMetadata.KeyId, PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	_, fams, _ = scrape(t, metricsURL, nil)
	if got := value(fams, "trent_keys", map[string]string{"state": "PendingDeletion", "spec": "SYMMETRIC_DEFAULT"}); got != 1 {
		t.Errorf("PendingDeletion keys = %v, want 1", got)
	}
	if _, ok := sample(fams, "trent_keys", map[string]string{"state": "Enabled"}); ok {
		t.Error("the deleted key still counts as Enabled")
	}

	// The API listener: the operator's signed request only.
	root := &aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}
	if code, fams, body := scrape(t, srv.URL+"/metrics", root); code != http.StatusOK || fams["trent_requests_total"] == nil {
		t.Errorf("signed GET /metrics on the API listener: %d %s", code, body)
	}
	if code, _, body := scrape(t, srv.URL+"/metrics", nil); code == http.StatusOK {
		t.Errorf("unsigned GET /metrics on the API listener answered:\n%.200s", body)
	}
	user := newUserKey(t, srv.URL, id, secret)
	if code, _, body := scrape(t, srv.URL+"/metrics", user); code != http.StatusBadRequest || !strings.Contains(body, "AccessDeniedException") {
		t.Errorf("GET /metrics signed by an IAM user: %d %s", code, body)
	}

	// /readyz names every check, on both listeners; the metrics listener
	// serves nothing else.
	for _, u := range []string{srv.URL + "/readyz", strings.TrimSuffix(metricsURL, "/metrics") + "/readyz"} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		var ready struct {
			Ready  bool            `json:"ready"`
			Checks map[string]bool `json:"checks"`
		}
		err = json.NewDecoder(resp.Body).Decode(&ready)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		if resp.StatusCode != http.StatusOK || !ready.Ready || !ready.Checks["unsealed"] || !ready.Checks["store"] || !ready.Checks["audit"] {
			t.Errorf("GET %s = %d %+v", u, resp.StatusCode, ready)
		}
	}
	for _, path := range []string{"/", "/sys/status"} {
		resp, err := http.Get(strings.TrimSuffix(metricsURL, "/metrics") + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("GET %s on the metrics listener: %d", path, resp.StatusCode)
		}
	}
}

// newUserKey makes an IAM user with an access key, as the root user.
func newUserKey(t *testing.T, url, id, secret string) *aws.Credentials {
	t.Helper()
	c := iam.NewFromConfig(testenv.Config(url, "us-east-1", id, secret, ""))
	ctx := context.Background()
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("watcher")}); err != nil {
		t.Fatal(err)
	}
	k, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("watcher")})
	if err != nil {
		t.Fatal(err)
	}
	return &aws.Credentials{AccessKeyID: *k.AccessKey.AccessKeyId, SecretAccessKey: *k.AccessKey.SecretAccessKey}
}
