package e2e

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
)

// TestMetricsWhileSealed: requests refused while sealed are counted, by
// service, the operation their headers name, and the 503 error code they
// got, so an operator's error rates show clients being turned away.
func TestMetricsWhileSealed(t *testing.T) {
	srv, metricsURL, id, secret := startWithMetrics(t)

	env := []string{"AWS_ACCESS_KEY_ID=" + id, "AWS_SECRET_ACCESS_KEY=" + secret, "AWS_SESSION_TOKEN="}
	if out, stderr, code := runCLI(t, "", env, "seal", "--endpoint", srv.URL); code != 0 {
		t.Fatalf("seal: exit %d\n%s%s", code, out, stderr)
	}

	ctx := context.Background()
	c := srv.Client(id, secret)
	for range 2 {
		_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/any"), Plaintext: []byte("m")})
		wantSealedCode(t, err, "ServiceUnavailableException")
	}
	_, err := srv.IAM(id, secret).ListUsers(ctx, &iam.ListUsersInput{})
	wantSealedCode(t, err, "ServiceUnavailable")

	code, fams, body := scrape(t, metricsURL, nil)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", metricsURL, code, body)
	}
	for _, c := range []struct {
		labels map[string]string
		want   float64
	}{
		{req("kms", "Encrypt", "ServiceUnavailableException"), 2},
		// An IAM request's action is in its body, which is not read.
		{req("iam", "unknown", "ServiceUnavailable"), 1},
	} {
		if got := value(fams, "trent_requests_total", c.labels); got != c.want {
			t.Errorf("trent_requests_total%v = %v, want %v\n%s", c.labels, got, c.want, body)
		}
	}
	if h, ok := sample(fams, "trent_request_duration_seconds", map[string]string{"service": "kms", "operation": "Encrypt"}); !ok || h.GetHistogram().GetSampleCount() != 2 {
		t.Errorf("Encrypt latency histogram while sealed: %v", h)
	}
	for _, g := range []struct {
		name string
		want float64
	}{{"trent_sealed", 1}, {"trent_requests_in_flight", 0}} {
		if got := value(fams, g.name, nil); got != g.want {
			t.Errorf("%s = %v, want %v", g.name, got, g.want)
		}
	}
}

func wantSealedCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("got %v, want %s", err, code)
	}
}
