package e2e

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/trent-kms/trent/internal/testenv"
)

const throttleMessage = "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."

// throttleCounter is an HTTP transport that counts the ThrottlingException
// answers it carries, so a test knows the retryer had something to do.
type throttleCounter struct {
	n   atomic.Int64
	all atomic.Int64
}

func (c *throttleCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	c.all.Add(1)
	if resp.StatusCode == http.StatusBadRequest {
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if bytes.Contains(body, []byte(`"ThrottlingException"`)) {
			c.n.Add(1)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	return resp, nil
}

// startThrottled runs `trent serve --dev` with throttling on at the given
// rates, and returns it with its root key.
func startThrottled(t *testing.T, rates string) (p *trentProc, id, secret string) {
	t.Helper()
	id, secret = randomAccessKey(t)
	p = startTrent(t, []string{"TRENT_ROOT_ACCESS_KEY_ID=" + id, "TRENT_ROOT_SECRET_ACCESS_KEY=" + secret},
		"--data-dir", filepath.Join(t.TempDir(), "data"), "--throttle", "--throttle-rates", rates)
	return p, id, secret
}

func throttledClient(p *trentProc, id, secret, region string, opts func(*kms.Options)) *kms.Client {
	return kms.New(kms.Options{
		Region: region, BaseEndpoint: aws.String(p.URL),
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, ""),
		HTTPClient:  testenv.HTTPClient(nil),
	}, opts)
}

// TestThrottleSDKRetryRecovers: a burst well over the quota, sent by
// aws-sdk-go-v2 with its standard retryer, all succeeds in the end, and
// the server did throttle on the way — each throttled attempt recorded in
// the audit log with its error code.
func TestThrottleSDKRetryRecovers(t *testing.T) {
	p, id, secret := startThrottled(t, "symmetric=5:5,CreateKey=off")
	const region = "eu-north-1"
	counter := &throttleCounter{}
	c := throttledClient(p, id, secret, region, func(o *kms.Options) {
		o.HTTPClient = testenv.HTTPClient(&http.Client{Transport: counter})
		// The standard retryer, with room to reach the 5/s refill: the
		// default 3 attempts suit a burst a little over the quota, not
		// three times it; a shorter longest backoff (default 20 s) keeps
		// the test short.
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 20
			so.MaxBackoff = 2 * time.Second
		})
	})
	ctx := t.Context()
	key, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	// A burst of n is throttled when its first attempts come faster than
	// the bucket refills: n-5 of them within 2 s. A machine too busy to
	// send them that fast gets another burst; a limiter that never
	// throttles fails after the last.
	const n, bursts = 15, 5
	start := time.Now()
	for burst := 1; counter.n.Load() == 0; burst++ {
		if burst > bursts {
			t.Fatalf("%d bursts of %d Encrypts against a 5/s bucket were never throttled (%d HTTP answers in %v)",
				bursts, n, counter.all.Load(), time.Since(start).Round(time.Millisecond))
		}
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte{byte(i)}})
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("Encrypt not recovered by the retryer: %v", err)
			}
		}
	}
	t.Logf("Encrypts in bursts of %d in %v: %d attempts throttled, %d HTTP answers", n, time.Since(start).Round(time.Millisecond), counter.n.Load(), counter.all.Load())

	// Each throttled attempt is audited like any other error.
	ct := cloudtrail.NewFromConfig(testenv.Config(p.URL, region, id, secret, ""))
	var audited int64
	pg := cloudtrail.NewLookupEventsPaginator(ct, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
		{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("Encrypt")}}})
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range out.Events {
			if strings.Contains(aws.ToString(ev.CloudTrailEvent), `"errorCode":"ThrottlingException"`) {
				audited++
			}
		}
	}
	if audited != counter.n.Load() {
		t.Errorf("%d throttled Encrypts in the audit log, %d answered", audited, counter.n.Load())
	}
}

// TestThrottleAnswer: without retries the caller sees exactly what AWS
// sends — HTTP 400, ThrottlingException, AWS's message — and the quota
// is per class: RSA's bucket runs dry while the symmetric one still has
// tokens, and the other way round.
func TestThrottleAnswer(t *testing.T) {
	// Refills so slow (one token per 100 s) that no timing can refill a
	// bucket during the test.
	p, id, secret := startThrottled(t, "symmetric=0.01:5,rsa=0.01:1,CreateKey=off")
	const region = "ap-south-2"
	c := throttledClient(p, id, secret, region, func(o *kms.Options) { o.RetryMaxAttempts = 1 })
	ctx := t.Context()
	sym, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	rsa, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeEncryptDecrypt})
	if err != nil {
		t.Fatal(err)
	}
	rsaEncrypt := func() error {
		_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: rsa.KeyMetadata.KeyId, Plaintext: []byte("x"),
			EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
		return err
	}
	symEncrypt := func() error {
		_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: sym.KeyMetadata.KeyId, Plaintext: []byte("x")})
		return err
	}
	if err := rsaEncrypt(); err != nil {
		t.Fatalf("first RSA Encrypt: %v", err)
	}
	err = rsaEncrypt()
	checkThrottled(t, err)
	// The symmetric bucket (5) is untouched by RSA's.
	for i := range 5 {
		if err := symEncrypt(); err != nil {
			t.Fatalf("symmetric Encrypt %d while RSA is throttled: %v", i, err)
		}
	}
	checkThrottled(t, symEncrypt())
	// Other regions of the same account have buckets of their own.
	other := throttledClient(p, id, secret, "ap-south-1", func(o *kms.Options) { o.RetryMaxAttempts = 1 })
	if _, err := other.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(8)}); err != nil {
		t.Fatalf("GenerateRandom in another region: %v", err)
	}
}

func checkThrottled(t *testing.T, err error) {
	t.Helper()
	var api smithy.APIError
	if !errors.As(err, &api) {
		t.Fatalf("want ThrottlingException, got %v", err)
	}
	if api.ErrorCode() != "ThrottlingException" || api.ErrorMessage() != throttleMessage {
		t.Fatalf("got %s %q, want ThrottlingException %q", api.ErrorCode(), api.ErrorMessage(), throttleMessage)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusBadRequest {
		t.Fatalf("want HTTP 400, got %v", err)
	}
}

// TestThrottleDefaults: --dev does not throttle unless asked, production
// mode does at AWS's quotas; the flags are checked before anything starts.
func TestThrottleDefaults(t *testing.T) {
	id, secret := randomAccessKey(t)
	p := startTrent(t, []string{"TRENT_ROOT_ACCESS_KEY_ID=" + id, "TRENT_ROOT_SECRET_ACCESS_KEY=" + secret})
	c := p.Client(id, secret)
	// CreateKey's default quota is 5/s: a dev server lets 20 through at once.
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.CreateKey(t.Context(), &kms.CreateKeyInput{}); err != nil {
				t.Errorf("dev CreateKey %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	// With --throttle, AWS's default for CreateKey: a bucket of 5 that
	// refills at 5/s. Over any span of E seconds it lets at most 5 + 5E
	// through, however slow the machine. 20 callers calling in a loop
	// until one is throttled outrun the refill unless each call takes
	// over 4 s; a limiter that never throttles fails after 10 calls each.
	p = startTrent(t, []string{"TRENT_ROOT_ACCESS_KEY_ID=" + id, "TRENT_ROOT_SECRET_ACCESS_KEY=" + secret}, "--throttle")
	c = p.Client(id, secret)
	const callers, calls = 20, 10
	var (
		passed   atomic.Int64
		done     atomic.Bool
		mu       sync.Mutex
		refusals []error
	)
	start := time.Now()
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls {
				if done.Load() {
					return
				}
				if _, err := c.CreateKey(t.Context(), &kms.CreateKeyInput{}); err != nil {
					done.Store(true)
					mu.Lock()
					refusals = append(refusals, err)
					mu.Unlock()
					return
				}
				passed.Add(1)
			}
		}()
	}
	wg.Wait()
	span := time.Since(start)
	if len(refusals) == 0 {
		t.Fatalf("--throttle: %d CreateKeys in %v, none throttled", passed.Load(), span)
	}
	for _, err := range refusals {
		checkThrottled(t, err)
	}
	if limit := 5 + 5*span.Seconds(); float64(passed.Load()) > limit {
		t.Errorf("--throttle: %d CreateKeys passed in %v, more than the default quota allows (%.1f)", passed.Load(), span, limit)
	}
	t.Logf("--throttle: %d CreateKeys passed in %v before %d were throttled", passed.Load(), span.Round(time.Millisecond), len(refusals))
}
