package sigv4

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/testenv/sdkhttp"
)

// TestRealKMSClient puts a Verifier behind a real HTTP server and calls it
// with the AWS SDK's KMS client, which signs with whatever headers it sends
// today (content-length, amz-sdk-*, x-amz-target, …).
func TestRealKMSClient(t *testing.T) {
	v := &Verifier{
		Region:  testRegion,
		Service: testService,
		Lookup: func(akid string) (*Credential, bool) {
			if akid == testAKID {
				return testCredential, true
			}
			return nil, false
		},
	}
	var verified atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		cred, err := v.Verify(r, body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if err != nil {
			e := apierr.As(err)
			w.WriteHeader(apierr.HTTPStatus(e.Code))
			json.NewEncoder(w).Encode(map[string]string{"__type": e.Code, "message": e.Message})
			return
		}
		if cred.AccessKeyID != testAKID {
			t.Errorf("Verify returned %q", cred.AccessKeyID)
		}
		verified.Add(1)
		io.WriteString(w, `{"Keys":[],"Truncated":false}`)
	}))
	defer srv.Close()

	client := func(akid, secret, region string) *kms.Client {
		return kms.New(kms.Options{
			Region:           region,
			BaseEndpoint:     aws.String(srv.URL),
			Credentials:      credentials.NewStaticCredentialsProvider(akid, secret, ""),
			RetryMaxAttempts: 1,
			HTTPClient:       sdkhttp.Client(srv.Client()),
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if _, err := client(testAKID, testSecret, testRegion).ListKeys(ctx, &kms.ListKeysInput{Limit: aws.Int32(10)}); err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	if _, err := client(testAKID, testSecret, testRegion).Encrypt(ctx, &kms.EncryptInput{
		KeyId: aws.String("alias/x"), Plaintext: []byte("hello"),
	}); err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	if verified.Load() != 2 {
		t.Fatalf("%d requests verified, want 2", verified.Load())
	}

	for _, tt := range []struct {
		name, akid, secret, region string
		code, msg                  string
	}{
		{"wrong secret", testAKID, "not-the-secret", testRegion, apierr.InvalidSignature, msgMismatch},
		{"unknown key", "AKIDNOBODY", testSecret, testRegion, apierr.UnrecognizedClient, msgInvalidToken},
		{"wrong region", testAKID, testSecret, "eu-west-1", apierr.InvalidSignature,
			"Credential should be scoped to a valid region, not 'eu-west-1'. "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client(tt.akid, tt.secret, tt.region).ListKeys(ctx, &kms.ListKeysInput{})
			var ae smithy.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("ListKeys error = %v, want an API error", err)
			}
			if ae.ErrorCode() != tt.code || ae.ErrorMessage() != tt.msg {
				t.Fatalf("ListKeys error = %s %q, want %s %q", ae.ErrorCode(), ae.ErrorMessage(), tt.code, tt.msg)
			}
		})
	}
}
