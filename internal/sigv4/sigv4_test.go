package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/logging"

	"github.com/trent-kms/trent/internal/apierr"
)

// The signer in these tests is aws-sdk-go-v2's, an implementation independent
// of this package.
//
// Where the expected messages come from:
//   - "Missing Authentication Token", the IAM guide "Troubleshoot Signature
//     Version 4 signing for AWS API requests".
//   - "Signature expired: … is now earlier than … (… - 5 min.)", "Signature not
//     yet current: … is still later than …", "Credential should be scoped to a
//     valid region, not '…'. ", "Credential should be scoped to correct service:
//     '…'. ": the same guide, and AWS JSON-service responses quoted in public
//     issues (aws-sdk-js#254, aws-es-curl#15, aws-signing-proxy#25).
//   - "Unsupported AWS 'algorithm'", "Credential must have exactly 5
//     slash-delimited elements", "'Host' must be a 'SignedHeader' in the AWS
//     Authorization.", "Date must be in ISO-8601 'basic format'", "Authorization
//     header requires 'Credential' parameter", "Date in Credential scope does not
//     match …: 'a' != 'b', from 'c'.", "The request signature we calculated does
//     not match …", "The security token included in the request is invalid.":
//     DynamoDB (Coral, the framework KMS shares) responses recorded by the
//     dynalite project, and quoted in boto3#2280, aws-sdk-js#4545 and others.
//   - "not a valid key=value pair (missing equal-sign) in Authorization header":
//     responses quoted in boto3#2280 and cloud9-sync#10.

const (
	testRegion  = "us-east-1"
	testService = "kms"
	testAKID    = "AKIDEXAMPLE"
	testSecret  = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testAccount = "111122223333"
	testHost    = "kms.us-east-1.amazonaws.com"
	testBody    = `{"KeyId":"alias/test","Plaintext":"aGVsbG8="}`
)

var t0 = time.Date(2019, 4, 30, 10, 54, 9, 0, time.UTC)

var testCredential = &Credential{
	AccessKeyID:  testAKID,
	Secret:       []byte(testSecret),
	Account:      testAccount,
	PrincipalARN: "arn:aws:iam::111122223333:user/alice",
}

func newVerifier(now time.Time) *Verifier {
	return &Verifier{
		Region:  testRegion,
		Service: testService,
		Now:     func() time.Time { return now },
		Lookup: func(akid string) (*Credential, bool) {
			if akid == testAKID {
				return testCredential, true
			}
			return nil, false
		},
	}
}

// newRequest returns an unsigned KMS request as the SDK would send it.
func newRequest(target, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "https://"+testHost+"/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "TrentService."+target)
	r.Header.Set("User-Agent", "aws-sdk-go-v2/1.48.0")
	return r
}

type signOpts struct {
	akid, secret, token string
	region, service     string
	payloadHash         string // "" = hash of body
	at                  time.Time
}

func defaults() signOpts {
	return signOpts{akid: testAKID, secret: testSecret, region: testRegion, service: testService, at: t0}
}

func hashHex(b string) string {
	s := sha256.Sum256([]byte(b))
	return hex.EncodeToString(s[:])
}

func sign(t testing.TB, r *http.Request, body string, o signOpts) {
	t.Helper()
	ph := o.payloadHash
	if ph == "" {
		ph = hashHex(body)
	}
	creds := aws.Credentials{AccessKeyID: o.akid, SecretAccessKey: o.secret, SessionToken: o.token}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, ph, o.service, o.region, o.at); err != nil {
		t.Fatalf("SignHTTP: %v", err)
	}
}

func TestVerifyAcceptsSDKSignatures(t *testing.T) {
	tests := []struct {
		name   string
		url    string
		body   string
		before func(r *http.Request) // before signing
		after  func(r *http.Request) // after signing, before verifying
		now    time.Time
	}{
		{name: "encrypt", url: "https://" + testHost + "/", body: testBody},
		{name: "empty body", url: "https://" + testHost + "/", body: ""},
		{name: "no path", url: "https://" + testHost, body: testBody},
		{name: "host with port", url: "http://127.0.0.1:4599/", body: testBody},
		{name: "query string", url: "https://" + testHost + "/?b=2&a=1&a=0&c=x%20y&d=%2F&e=", body: testBody},
		{name: "escaped path", url: "https://" + testHost + "/a%20b/c%2Fd/%C3%BC~x", body: testBody},
		{
			name: "content sha256 header", url: "https://" + testHost + "/", body: testBody,
			before: func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", hashHex(testBody)) },
		},
		{
			name: "spaces and repeated headers", url: "https://" + testHost + "/", body: testBody,
			before: func(r *http.Request) {
				r.Header.Set("X-Custom", "  a   b  c  ")
				r.Header.Add("X-Multi", "one")
				r.Header.Add("X-Multi", " two  three ")
			},
		},
		{
			name: "unsigned header changed", url: "https://" + testHost + "/", body: testBody,
			after: func(r *http.Request) { r.Header.Set("User-Agent", "something else") },
		},
		{
			// Headers the SDKs never sign, added after signing.
			name: "headers added after signing", url: "https://" + testHost + "/", body: testBody,
			after: func(r *http.Request) {
				r.Header.Set("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793")
				r.Header.Set("Expect", "100-continue")
				r.Header.Set("Amz-Sdk-Invocation-Id", "0b6b5cd0-1f0e-4a8a-9b8d-3a5f2f3f4e5d")
				r.Header.Set("Accept-Encoding", "gzip")
			},
		},
		{
			name: "other x-amz header signed", url: "https://" + testHost + "/", body: testBody,
			before: func(r *http.Request) { r.Header.Set("X-Amz-Meta-Note", "signed") },
		},
		{name: "query with plus and empty pairs", url: "https://" + testHost + "/?b=x+y&&a=%7E&c", body: testBody},
		{name: "query with repeated names", url: "https://" + testHost + "/?a=2&a=1&a=10", body: testBody},
		{name: "clock 5 min ahead", url: "https://" + testHost + "/", body: testBody, now: t0.Add(5 * time.Minute)},
		{name: "clock 5 min behind", url: "https://" + testHost + "/", body: testBody, now: t0.Add(-5 * time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, tt.url, strings.NewReader(tt.body))
			r.Header.Set("Content-Type", "application/x-amz-json-1.1")
			r.Header.Set("X-Amz-Target", "TrentService.Encrypt")
			r.Header.Set("User-Agent", "aws-sdk-go-v2/1.48.0")
			if tt.before != nil {
				tt.before(r)
			}
			sign(t, r, tt.body, defaults())
			if tt.after != nil {
				tt.after(r)
			}
			now := tt.now
			if now.IsZero() {
				now = t0
			}
			cred, err := newVerifier(now).Verify(r, []byte(tt.body))
			if err != nil {
				t.Fatalf("Verify: %v\nAuthorization: %s", err, r.Header.Get("Authorization"))
			}
			if cred.Credential != testCredential {
				t.Fatalf("Verify returned %+v, want the test credential", cred)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	const (
		incomplete = apierr.IncompleteSignature
		invalid    = apierr.InvalidSignature
		unknown    = apierr.UnrecognizedClient
	)
	replaceAuth := func(old, new string) func(*http.Request) {
		return func(r *http.Request) {
			h := r.Header.Get("Authorization")
			if !strings.Contains(h, old) {
				panic(fmt.Sprintf("%q not in %q", old, h))
			}
			r.Header.Set("Authorization", strings.Replace(h, old, new, 1))
		}
	}
	tests := []struct {
		name     string
		opts     func(*signOpts)
		before   func(r *http.Request)
		after    func(r *http.Request)
		body     string // body given to Verify; "" = the signed body
		now      time.Time
		verifier func(*Verifier)
		code     string
		msg      string // exact message; "" = not checked
		prefix   string // message prefix; "" = not checked
	}{
		{
			name: "no authorization", after: func(r *http.Request) { r.Header.Del("Authorization") },
			code: apierr.MissingAuthenticationToken, msg: "Missing Authentication Token",
		},
		{
			name: "empty authorization", after: func(r *http.Request) { r.Header.Set("Authorization", "") },
			code: apierr.MissingAuthenticationToken, msg: "Missing Authentication Token",
		},
		{
			name: "presigned query only",
			after: func(r *http.Request) {
				r.Header.Del("Authorization")
				r.URL.RawQuery = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00"
			},
			code: incomplete,
		},
		{
			name:  "query and header",
			after: func(r *http.Request) { r.URL.RawQuery = "X-Amz-Algorithm=AWS4-HMAC-SHA256" },
			code:  incomplete,
		},
		{
			name:  "two authorization headers",
			after: func(r *http.Request) { r.Header.Add("Authorization", r.Header.Get("Authorization")) },
			code:  incomplete,
		},
		{
			name:  "wrong algorithm",
			after: replaceAuth("AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA512 "),
			code:  incomplete, msg: "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512' (only AWS4-HMAC-SHA256 for now). ",
		},
		{
			name:  "not sigv4",
			after: func(r *http.Request) { r.Header.Set("Authorization", "Bearer abc") },
			code:  incomplete, msg: "Unsupported AWS 'algorithm': 'Bearer' (only AWS4-HMAC-SHA256 for now). ",
		},
		{
			name:  "missing credential",
			after: replaceAuth("Credential=", "Kredential="),
			code:  incomplete, prefix: "Authorization header requires 'Credential' parameter. Authorization=AWS4-HMAC-SHA256 Kredential=",
		},
		{
			name:  "missing signed headers",
			after: replaceAuth("SignedHeaders=", "SignedHeader="),
			code:  incomplete, prefix: "Authorization header requires 'SignedHeaders' parameter. Authorization=",
		},
		{
			name:  "missing signature",
			after: replaceAuth("Signature=", "Sig="),
			code:  incomplete, prefix: "Authorization header requires 'Signature' parameter. Authorization=",
		},
		{
			name:  "missing equal sign",
			after: replaceAuth("Credential=", "Credential "),
			code:  incomplete, prefix: "'Credential' not a valid key=value pair (missing equal-sign) in Authorization header: 'AWS4-HMAC-SHA256 Credential AKIDEXAMPLE/",
		},
		{
			name:  "blank after equal sign",
			after: replaceAuth("Credential=", "Credential= "),
			code:  incomplete, prefix: "'AKIDEXAMPLE/20190430/us-east-1/kms/aws4_request' not a valid key=value pair (missing equal-sign) in Authorization header: 'AWS4-HMAC-SHA256 Credential= AKIDEXAMPLE/",
		},
		{
			name:  "credential with four elements",
			after: replaceAuth("/us-east-1/kms/", "/us-east-1/"),
			code:  incomplete, msg: "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKIDEXAMPLE/20190430/us-east-1/aws4_request'",
		},
		{
			name:  "no date header",
			after: func(r *http.Request) { r.Header.Del("X-Amz-Date") },
			code:  incomplete, prefix: "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/",
		},
		{
			name:  "bad x-amz-date",
			after: func(r *http.Request) { r.Header.Set("X-Amz-Date", "2019-04-30T10:54:09Z") },
			code:  incomplete, msg: "Date must be in ISO-8601 'basic format'. Got '2019-04-30T10:54:09Z'. See http://en.wikipedia.org/wiki/ISO_8601",
		},
		{
			name:  "impossible x-amz-date",
			after: func(r *http.Request) { r.Header.Set("X-Amz-Date", "20190431T105409Z") },
			code:  incomplete, msg: "Date must be in ISO-8601 'basic format'. Got '20190431T105409Z'. See http://en.wikipedia.org/wiki/ISO_8601",
		},
		{
			name: "bad date header",
			after: func(r *http.Request) {
				r.Header.Del("X-Amz-Date")
				r.Header.Set("Date", "yesterday")
			},
			code: incomplete, msg: "Date must be in ISO-8601 'basic format'. Got 'yesterday'. See http://en.wikipedia.org/wiki/ISO_8601",
		},
		{
			name: "date header not signed",
			after: func(r *http.Request) {
				r.Header.Del("X-Amz-Date")
				r.Header.Set("Date", t0.Format(http.TimeFormat))
			},
			code: invalid, msg: "'Date' must be a 'SignedHeader' in the AWS Authorization.",
		},
		{
			name: "expired",
			opts: func(o *signOpts) { o.at = time.Date(2019, 4, 30, 7, 57, 32, 0, time.UTC) },
			now:  time.Date(2019, 4, 30, 10, 59, 9, 0, time.UTC),
			code: invalid, msg: "Signature expired: 20190430T075732Z is now earlier than 20190430T105409Z (20190430T105909Z - 5 min.)",
		},
		{
			name: "expired by one second",
			now:  t0.Add(5*time.Minute + time.Second),
			code: invalid, msg: "Signature expired: 20190430T105409Z is now earlier than 20190430T105410Z (20190430T105910Z - 5 min.)",
		},
		{
			name: "not yet current",
			now:  t0.Add(-5*time.Minute - time.Second),
			code: invalid, msg: "Signature not yet current: 20190430T105409Z is still later than 20190430T105408Z (20190430T104908Z + 5 min.)",
		},
		{
			name:     "custom skew",
			now:      t0.Add(16 * time.Minute),
			verifier: func(v *Verifier) { v.MaxSkew = 15 * time.Minute },
			code:     invalid, msg: "Signature expired: 20190430T105409Z is now earlier than 20190430T105509Z (20190430T111009Z - 15 min.)",
		},
		{
			name:  "host not signed",
			after: replaceAuth("content-type;host;", "content-type;"),
			code:  invalid, msg: "'Host' must be a 'SignedHeader' in the AWS Authorization.",
		},
		{
			name:  "x-amz-date not signed",
			after: replaceAuth(";x-amz-date", ""),
			code:  invalid, msg: "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.",
		},
		{
			name: "wrong region",
			opts: func(o *signOpts) { o.region = "xx-east-1" },
			code: invalid, msg: "Credential should be scoped to a valid region, not 'xx-east-1'. ",
		},
		{
			name: "wrong service",
			opts: func(o *signOpts) { o.service = "dynamodb" },
			code: invalid, msg: "Credential should be scoped to correct service: 'kms'. ",
		},
		{
			name:  "wrong terminator",
			after: replaceAuth("/aws4_request", "/aws5_request"),
			code:  invalid, msg: "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. ",
		},
		{
			name:  "scope date is not the request date",
			opts:  func(o *signOpts) { o.at = time.Date(2019, 4, 30, 23, 59, 30, 0, time.UTC) },
			after: func(r *http.Request) { r.Header.Set("X-Amz-Date", "20190501T000030Z") },
			now:   time.Date(2019, 5, 1, 0, 0, 30, 0, time.UTC),
			code:  invalid, msg: "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20190430' != '20190501', from '20190501T000030Z'.",
		},
		{
			name: "everything in the scope wrong",
			opts: func(o *signOpts) { o.region, o.service = "eu-west-1", "s3" },
			code: invalid,
			msg:  "Credential should be scoped to a valid region, not 'eu-west-1'. Credential should be scoped to correct service: 'kms'. ",
		},
		{
			name: "unknown access key",
			opts: func(o *signOpts) { o.akid = "AKIDUNKNOWN" },
			code: unknown, msg: "The security token included in the request is invalid.",
		},
		{
			name:     "no lookup",
			verifier: func(v *Verifier) { v.Lookup = nil },
			code:     unknown, msg: "The security token included in the request is invalid.",
		},
		{
			name: "session token",
			opts: func(o *signOpts) { o.token = "FwoGZXIvYXdzEXAMPLE" },
			code: unknown, msg: "The security token included in the request is invalid.",
		},
		{
			name: "wrong secret",
			opts: func(o *signOpts) { o.secret = testSecret + "x" },
			code: invalid, msg: msgMismatch,
		},
		{
			name: "tampered body",
			body: `{"KeyId":"alias/evil","Plaintext":"aGVsbG8="}`,
			code: invalid, msg: msgMismatch,
		},
		{
			name:  "tampered target",
			after: func(r *http.Request) { r.Header.Set("X-Amz-Target", "TrentService.Decrypt") },
			code:  invalid, msg: msgMismatch,
		},
		{
			name:  "tampered host",
			after: func(r *http.Request) { r.Host = "kms.eu-west-1.amazonaws.com" },
			code:  invalid, msg: msgMismatch,
		},
		{
			name:  "tampered method",
			after: func(r *http.Request) { r.Method = http.MethodPut },
			code:  invalid, msg: msgMismatch,
		},
		{
			name:  "tampered path",
			after: func(r *http.Request) { r.URL.Path = "/x" },
			code:  invalid, msg: msgMismatch,
		},
		{
			name:  "added query",
			after: func(r *http.Request) { r.URL.RawQuery = "a=1" },
			code:  invalid, msg: msgMismatch,
		},
		{
			name: "tampered signature",
			after: func(r *http.Request) {
				h := r.Header.Get("Authorization")
				last := h[len(h)-1]
				flip := byte('0')
				if last == '0' {
					flip = '1'
				}
				r.Header.Set("Authorization", h[:len(h)-1]+string(flip))
			},
			code: invalid, msg: msgMismatch,
		},
		{
			// The same MAC in uppercase hex: AWS compares the signature as
			// the lowercase hex string it computes, so one signed request
			// has exactly one Authorization that passes.
			name: "signature in uppercase hex",
			after: func(r *http.Request) {
				h := r.Header.Get("Authorization")
				i := strings.LastIndex(h, "Signature=") + len("Signature=")
				r.Header.Set("Authorization", h[:i]+strings.ToUpper(h[i:]))
			},
			code: invalid, msg: msgMismatch,
		},
		{
			name: "signature not hex",
			after: func(r *http.Request) {
				h := r.Header.Get("Authorization")
				r.Header.Set("Authorization", h[:len(h)-1]+"g")
			},
			code: invalid, msg: msgMismatch,
		},
		{
			name: "signature truncated",
			after: func(r *http.Request) {
				h := r.Header.Get("Authorization")
				r.Header.Set("Authorization", h[:len(h)-2])
			},
			code: invalid, msg: msgMismatch,
		},
		{
			name:   "content sha256 header lies",
			before: func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", hashHex("other")) },
			opts:   func(o *signOpts) { o.payloadHash = hashHex("other") },
			code:   invalid, msg: "The provided 'x-amz-content-sha256' header does not match what was computed.",
		},
		{
			name:   "unsigned payload",
			before: func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD") },
			opts:   func(o *signOpts) { o.payloadHash = "UNSIGNED-PAYLOAD" },
			code:   invalid, msg: msgMismatch,
		},
		// A header that picks the operation or is AWS's own must be signed:
		// these requests were signed without it and it was added afterwards,
		// so the signature itself is valid.
		{
			name:   "target not signed",
			before: func(r *http.Request) { r.Header.Del("X-Amz-Target") },
			after:  func(r *http.Request) { r.Header.Set("X-Amz-Target", "TrentService.ScheduleKeyDeletion") },
			code:   invalid, msg: "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.",
		},
		{
			name:   "content type not signed",
			before: func(r *http.Request) { r.Header.Del("Content-Type") },
			after:  func(r *http.Request) { r.Header.Set("Content-Type", "application/x-amz-json-1.0") },
			code:   invalid, msg: "'Content-Type' must be a 'SignedHeader' in the AWS Authorization.",
		},
		{
			name:  "x-amz header not signed",
			after: func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", hashHex(testBody)) },
			code:  invalid, msg: "'X-Amz-Content-Sha256' must be a 'SignedHeader' in the AWS Authorization.",
		},
		{
			name: "first of several unsigned headers named",
			after: func(r *http.Request) {
				r.Header.Set("X-Amz-Zz", "1")
				r.Header.Set("X-Amz-Aa", "1")
				r.Header.Set("X-Amz-Mm", "1")
			},
			code: invalid, msg: "'X-Amz-Aa' must be a 'SignedHeader' in the AWS Authorization.",
		},
		{
			name:  "security token not signed",
			after: func(r *http.Request) { r.Header.Set("X-Amz-Security-Token", "FwoGZXIvYXdzEXAMPLE") },
			code:  invalid, msg: "'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.",
		},
		// A query string that does not parse must not be left out of the
		// signature: these were signed without one and it was added after.
		{
			name:  "query with a bad escape",
			after: func(r *http.Request) { r.URL.RawQuery = "%zz" },
			code:  incomplete, msg: "The query string is malformed and cannot be signed: '%zz'.",
		},
		{
			name:  "query with a semicolon",
			after: func(r *http.Request) { r.URL.RawQuery = "%zz;evil=1" },
			code:  incomplete, msg: "The query string is malformed and cannot be signed: '%zz;evil=1'.",
		},
		{
			name:  "query with a semicolon only",
			after: func(r *http.Request) { r.URL.RawQuery = "a=1;evil=1" },
			code:  incomplete, msg: "The query string is malformed and cannot be signed: 'a=1;evil=1'.",
		},
		{
			name:  "query with a truncated escape",
			after: func(r *http.Request) { r.URL.RawQuery = "evil=%4" },
			code:  incomplete, msg: "The query string is malformed and cannot be signed: 'evil=%4'.",
		},
		{
			name:  "query with too many parameters",
			after: func(r *http.Request) { r.URL.RawQuery = strings.Repeat("a&", 10000) + "a" },
			code:  incomplete, prefix: "The query string is malformed and cannot be signed: 'a&a&a&",
		},
		{
			name:   "signed header missing",
			before: func(r *http.Request) { r.Header.Set("X-Custom", "1") },
			after:  func(r *http.Request) { r.Header.Del("X-Custom") },
			code:   incomplete, msg: "The request has no 'x-custom' header, but it is listed in 'SignedHeaders'.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRequest("Encrypt", testBody)
			if tt.before != nil {
				tt.before(r)
			}
			o := defaults()
			if tt.opts != nil {
				tt.opts(&o)
			}
			sign(t, r, testBody, o)
			if tt.after != nil {
				tt.after(r)
			}
			now := tt.now
			if now.IsZero() {
				now = t0
			}
			v := newVerifier(now)
			if tt.verifier != nil {
				tt.verifier(v)
			}
			body := tt.body
			if body == "" {
				body = testBody
			}
			cred, err := v.Verify(r, []byte(body))
			if err == nil {
				t.Fatalf("Verify accepted the request (credential %v)", cred)
			}
			if cred.Credential != nil {
				t.Errorf("Verify returned a credential with error %v", err)
			}
			var ae *apierr.Error
			if !errors.As(err, &ae) {
				t.Fatalf("error %T %v is not an *apierr.Error", err, err)
			}
			if ae.Code != tt.code {
				t.Errorf("code = %s, want %s (message %q)", ae.Code, tt.code, ae.Message)
			}
			if tt.msg != "" && ae.Message != tt.msg {
				t.Errorf("message = %q\n          want %q", ae.Message, tt.msg)
			}
			if tt.prefix != "" && !strings.HasPrefix(ae.Message, tt.prefix) {
				t.Errorf("message = %q\n   want prefix %q", ae.Message, tt.prefix)
			}
			if strings.Contains(ae.Error(), testSecret) {
				t.Errorf("error contains the secret: %v", ae)
			}
		})
	}
}

// Vectors from AWS's Signature Version 4 test suites, signed by AWS rather than
// by the SDK: get-vanilla, post-vanilla and get-vanilla-query-order-key-case
// from the 2015 suite, and get-vanilla from the 2011 suite, whose request
// carries its time in Date rather than X-Amz-Date.
func TestVerifyAWSSuiteVectors(t *testing.T) {
	const suite2015 = "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature="
	tests := []struct {
		name, method, url, dateHeader, date, auth string
		now                                       time.Time
		service                                   string
	}{
		{
			name: "get-vanilla", method: "GET", url: "https://example.amazonaws.com/",
			dateHeader: "X-Amz-Date", date: "20150830T123600Z", service: "service",
			now:  time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC),
			auth: "AWS4-HMAC-SHA256 " + suite2015 + "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		},
		{
			name: "post-vanilla", method: "POST", url: "https://example.amazonaws.com/",
			dateHeader: "X-Amz-Date", date: "20150830T123600Z", service: "service",
			now:  time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC),
			auth: "AWS4-HMAC-SHA256 " + suite2015 + "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
		},
		{
			name: "get-vanilla-query-order-key-case", method: "GET", url: "https://example.amazonaws.com/?Param2=value2&Param1=value1",
			dateHeader: "X-Amz-Date", date: "20150830T123600Z", service: "service",
			now:  time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC),
			auth: "AWS4-HMAC-SHA256 " + suite2015 + "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
		},
		{
			name: "2011 get-vanilla with Date", method: "GET", url: "https://host.foo.com/",
			dateHeader: "Date", date: "Mon, 09 Sep 2011 23:36:00 GMT", service: "host",
			now: time.Date(2011, 9, 9, 23, 36, 0, 0, time.UTC),
			auth: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20110909/us-east-1/host/aws4_request, SignedHeaders=date;host, " +
				"Signature=b27ccfbfa7df52a200ff74193ca6e32d4b48b8856fab7ebf1c595d0670a7e470",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.url, nil)
			r.Header.Set(tt.dateHeader, tt.date)
			r.Header.Set("Authorization", tt.auth)
			v := newVerifier(tt.now)
			v.Service = tt.service
			if _, err := v.Verify(r, nil); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			r.Header.Set(tt.dateHeader, "") // any change to a signed header must fail
			r.Header.Set(tt.dateHeader, strings.Replace(tt.date, "36", "37", 1))
			if _, err := v.Verify(r, nil); !apierr.Is(err, apierr.InvalidSignature) {
				t.Fatalf("Verify with the time changed = %v, want InvalidSignatureException", err)
			}
		})
	}
}

func TestVerifyRotatedSecret(t *testing.T) {
	secret := []byte("old-secret")
	var mu sync.Mutex
	v := newVerifier(t0)
	v.Lookup = func(akid string) (*Credential, bool) {
		mu.Lock()
		defer mu.Unlock()
		return &Credential{AccessKeyID: akid, Secret: secret}, akid == testAKID
	}
	check := func(signWith string, wantOK bool) {
		t.Helper()
		r := newRequest("Encrypt", testBody)
		o := defaults()
		o.secret = signWith
		sign(t, r, testBody, o)
		_, err := v.Verify(r, []byte(testBody))
		if (err == nil) != wantOK {
			t.Fatalf("signed with %q: Verify = %v, want ok=%v", signWith, err, wantOK)
		}
	}
	check("old-secret", true)
	check("old-secret", true) // from the cache
	mu.Lock()
	secret = []byte("new-secret")
	mu.Unlock()
	check("old-secret", false)
	check("new-secret", true)
}

func TestKeyCacheIsBounded(t *testing.T) {
	var c keyCache
	put := func(akid string) *signingKey {
		e, fresh := c.get(akid, "20190430", testRegion, testService, []byte(testSecret))
		if fresh {
			c.put(akid, "20190430", testRegion, testService, e)
		}
		return e
	}
	for i := range maxCachedKeys + 10 {
		put(fmt.Sprintf("AKID%d", i))
	}
	if n := len(c.m); n != maxCachedKeys {
		t.Fatalf("cache holds %d keys, want its bound %d: a full cache drops one key per new one", n, maxCachedKeys)
	}
	a := put("AKID1")
	if b, fresh := c.get("AKID1", "20190430", testRegion, testService, []byte(testSecret)); fresh || a != b {
		t.Fatal("second get for the same scope missed the cache")
	}
}

// TestForgedRequestsAreNotCached: a request naming a real access key id
// with a wrong signature leaves the signing-key cache as it was, so that
// forgeries in many regions neither fill it nor push out the keys in use.
func TestForgedRequestsAreNotCached(t *testing.T) {
	v := newVerifier(t0)
	v.Region = "" // every region, as Trent serves them
	r := newRequest("Encrypt", testBody)
	sign(t, r, testBody, defaults())
	if _, err := v.Verify(r, []byte(testBody)); err != nil {
		t.Fatal(err)
	}
	for _, region := range []string{"eu-west-1", "ap-south-1", "us-west-2"} {
		o := defaults()
		o.region = region
		o.secret = "not-the-secret"
		r := newRequest("Encrypt", testBody)
		sign(t, r, testBody, o)
		if _, err := v.Verify(r, []byte(testBody)); err == nil {
			t.Fatalf("a forged request in %s verified", region)
		}
	}
	if n := len(v.keys.m); n != 1 {
		t.Fatalf("cache holds %d keys after one good and three forged requests, want 1", n)
	}
}

// The derivation must give AWS's documented signing key for the example in
// the IAM guide ("Create a signed AWS API request", deriving a signing key).
func TestDeriveSigningKey(t *testing.T) {
	got := deriveSigningKey(nil, []byte("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), "20150830", "us-east-1", "iam")
	const want = "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
	if hex.EncodeToString(got) != want {
		t.Fatalf("signing key = %x, want %s", got, want)
	}
}

func TestVerifyConcurrent(t *testing.T) {
	v := newVerifier(t0)
	// Signed here: sign may call t.Fatal, which only the test's own
	// goroutine may.
	type signedReq struct {
		r    *http.Request
		body string
	}
	var reqs [8][50]signedReq
	for i := range reqs {
		for j := range reqs[i] {
			body := fmt.Sprintf(`{"KeyId":"k%d-%d"}`, i, j)
			r := newRequest("Encrypt", body)
			sign(t, r, body, defaults())
			reqs[i][j] = signedReq{r, body}
		}
	}
	var wg sync.WaitGroup
	for i := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, sr := range reqs[i] {
				r, body := sr.r, sr.body
				if _, err := v.Verify(r, []byte(body)); err != nil {
					t.Errorf("Verify: %v", err)
					return
				}
				if _, err := v.Verify(r, []byte(body+" ")); !apierr.Is(err, apierr.InvalidSignature) {
					t.Errorf("Verify of a tampered body = %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestVerifyAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	v := newVerifier(t0)
	r := newRequest("Encrypt", testBody)
	sign(t, r, testBody, defaults())
	body := []byte(testBody)
	if _, err := v.Verify(r, body); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := v.Verify(r, body); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Errorf("Verify of a cached key allocates %v times per request, want 0", allocs)
	}
}

func TestParseAMZDate(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"20190430T105409Z", t0, true},
		{"20240229T000000Z", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), true},
		{"20230229T000000Z", time.Time{}, false},
		{"20191301T000000Z", time.Time{}, false},
		{"20190430T245409Z", time.Time{}, false},
		{"20190430T105960Z", time.Time{}, false},
		{"20190430 105409Z", time.Time{}, false},
		{"20190430T105409", time.Time{}, false},
		{"2019043OT105409Z", time.Time{}, false},
		{"+0190430T105409Z", time.Time{}, false},
		{"", time.Time{}, false},
	}
	for _, tt := range tests {
		got, ok := parseAMZDate(tt.in)
		if ok != tt.ok || !got.Equal(tt.want) {
			t.Errorf("parseAMZDate(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
		if ok {
			if want, err := time.Parse(timeFormat, tt.in); err != nil || !want.Equal(got) {
				t.Errorf("parseAMZDate(%q) = %v; time.Parse gives %v, %v", tt.in, got, want, err)
			}
		}
	}
}

func TestCanonicalRequestMatchesSDK(t *testing.T) {
	// The SDK logs its canonical request when asked; compare ours with it.
	r := httptest.NewRequest(http.MethodPost, "https://"+testHost+"/a%20b/?z=1&a=b%20c", bytes.NewReader([]byte(testBody)))
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "TrentService.Encrypt")
	r.Header.Set("X-Spaces", "  x   y ")
	var logged bytes.Buffer
	signer := v4.NewSigner(func(o *v4.SignerOptions) {
		o.LogSigning = true
		o.Logger = logging.LoggerFunc(func(_ logging.Classification, format string, v ...any) {
			fmt.Fprintf(&logged, format, v...)
		})
	})
	err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret},
		r, hashHex(testBody), testService, testRegion, t0)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		t.Fatal(err)
	}
	ph := hashHex(testBody)
	var got bytes.Buffer
	if _, aerr := writeCanonicalRequest(&got, nil, r, strings.Join(a.SignedHeaders, ";"), []byte(ph)); aerr != nil {
		t.Fatal(aerr)
	}
	if !strings.Contains(logged.String(), got.String()) {
		t.Fatalf("canonical request\n%s\nnot in the SDK's signing log\n%s", got.String(), logged.String())
	}
}

// A request that is not signed by a known secret must cost little more than
// its own size to refuse: these requests carry a valid access key id and a
// garbage signature, so all of Verify's work before the comparison is done.
// The first made Verify build a canonical request of 128 MB.
func TestVerifyPreAuthCostIsBounded(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	big := strings.Repeat("x", 32000)
	repeated := strings.Repeat("a;", 4000) + "content-type;host;x-amz-date;x-amz-target"
	var distinct []string
	for i := range 10 {
		distinct = append(distinct, fmt.Sprintf("x-b%d", i))
	}
	tests := []struct {
		name          string
		signedHeaders string
		setup         func(r *http.Request)
		code          string
		prefix        string
	}{
		{
			name: "one header named 4000 times", signedHeaders: repeated,
			setup:  func(r *http.Request) { r.Header.Set("A", big) },
			code:   apierr.IncompleteSignature,
			prefix: "'SignedHeaders' must name each header once, in lowercase and in ascending order, got 'a;a;a;",
		},
		{
			name: "one header named in many cases", signedHeaders: "A;a;content-type;host;x-amz-date;x-amz-target",
			setup:  func(r *http.Request) { r.Header.Set("A", big) },
			code:   apierr.IncompleteSignature,
			prefix: "'SignedHeaders' must name each header once, in lowercase and in ascending order, got 'A;a;",
		},
		{
			name: "canonical request over the cap", signedHeaders: "content-type;host;x-amz-date;x-amz-target;" + strings.Join(distinct, ";"),
			setup: func(r *http.Request) {
				for _, h := range distinct {
					r.Header.Set(h, big)
				}
			},
			code:   apierr.IncompleteSignature,
			prefix: "The canonical request for this request is longer than 262144 bytes.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "https://"+testHost+"/", nil)
			r.Header.Set("Content-Type", "application/x-amz-json-1.1")
			r.Header.Set("X-Amz-Target", "TrentService.Encrypt")
			r.Header.Set("X-Amz-Date", t0.Format(timeFormat))
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAKID+"/20190430/us-east-1/kms/aws4_request, SignedHeaders="+
				tt.signedHeaders+", Signature="+strings.Repeat("0", 64))
			tt.setup(r)
			v := newVerifier(t0)
			body := []byte(testBody)

			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := v.Verify(r, body)
			runtime.ReadMemStats(&after)

			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
				t.Errorf("Verify allocated %d bytes to refuse the request", alloc)
			}
			if !apierr.Is(err, tt.code) {
				t.Fatalf("Verify = %v, want %s", err, tt.code)
			}
			if m := apierr.As(err).Message; !strings.HasPrefix(m, tt.prefix) {
				t.Fatalf("message = %.200q\n   want prefix %q", m, tt.prefix)
			}
		})
	}
}
