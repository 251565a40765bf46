package sigv4

import (
	"cmp"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/testenv/fuzzseeds"
)

// authorizationSeeds is the seed corpus of FuzzParseAuthorization and, with
// the signed request that verifySeeds adds, of FuzzVerify.
// TestFuzzSeedCorpora keeps it from silently vanishing.
var authorizationSeeds = []string{
	"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20190430/us-east-1/kms/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
	"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20190430/us-east-1/kms/aws4_request,SignedHeaders=host;x-amz-date,Signature=00",
	"AWS4-HMAC-SHA256 Signature=b,    Credential,    SignedHeaders",
	"AWS4-HMAC-SHA256 Credential=a/b/c/d, SignedHeaders=host, Signature=0",
	"AWS4-HMAC-SHA256 Credential=a/b/c/d/e/f, SignedHeaders=host;;x, Signature=0",
	"AWS4-HMAC-SHA256 Credential=a/b/c/d/e//, SignedHeaders=, Signature=0, Signature=1",
	"AWS4-HMAC-SHA256 Credential=a=b/c/d/e/f, SignedHeaders=host;, Signature==",
	"AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host;host;x-amz-date, Signature=0",
	"AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=x-amz-date;host, Signature=0",
	"AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=Host;x-amz-date, Signature=0",
	"AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host;x:y;x-amz-date, Signature=0",
	"AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=!#$%&'*+-.^_`|~;0;a, Signature=0",
	"AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=" + strings.Repeat("a;", 70) + "host, Signature=0",
	"AWS4-HMAC-SHA256",
	"AWS4-HMAC-SHA512 Credential=x",
	"Bearer eyJhbGciOiJIUzI1NiJ9",
	"AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
	"",
	" ",
	",,,",
}

type verifySeed struct {
	auth, date string
	body       []byte
}

// verifySeeds returns the seeds of FuzzVerify: one request signed by the SDK
// (which verifies) and the authorization seeds with it.
func verifySeeds(tb testing.TB) []verifySeed {
	r := newRequest("Encrypt", testBody)
	sign(tb, r, testBody, defaults())
	seeds := []verifySeed{{r.Header.Get("Authorization"), r.Header.Get("X-Amz-Date"), []byte(testBody)}}
	for _, a := range authorizationSeeds {
		seeds = append(seeds, verifySeed{a, "20190430T105409Z", []byte(testBody)})
	}
	seeds = append(seeds, verifySeed{seeds[0].auth, "20190430T105409", nil})
	return seeds
}

func TestFuzzSeedCorpora(t *testing.T) {
	fuzzseeds.BothOutcomes(t, "FuzzParseAuthorization", authorizationSeeds, func(s string) bool {
		_, err := ParseAuthorization(s)
		return err == nil
	})
	fuzzseeds.BothOutcomes(t, "FuzzCanonicalQuery", querySeeds, func(q string) bool {
		_, ok := appendCanonicalQuery(nil, q)
		return ok
	})
	fuzzseeds.BothOutcomes(t, "FuzzVerify", verifySeeds(t), func(s verifySeed) bool {
		_, err := verifyOne(s.auth, s.date, s.body)
		return err == nil
	})
}

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range authorizationSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		a, err := ParseAuthorization(h)
		if err != nil {
			var ae *apierr.Error
			if !errors.As(err, &ae) || ae.Code != apierr.IncompleteSignature {
				t.Fatalf("error %T %v, want IncompleteSignatureException", err, err)
			}
			if len(ae.Message) > 4*maxEcho+300 {
				t.Fatalf("message of %d bytes", len(ae.Message))
			}
			return
		}
		if a.Signature == "" || a.Terminator == "" {
			t.Fatalf("parsed %+v: empty signature or terminator", a)
		}
		for _, s := range []string{a.AccessKeyID, a.Date, a.Region, a.Service, a.Terminator} {
			if strings.ContainsAny(s, "/,") {
				t.Fatalf("parsed %+v: scope element %q holds a separator", a, s)
			}
		}
		// SignedHeaders is as SigV4 builds it: lowercase header names, each
		// once, ascending, and not too many.
		if len(a.SignedHeaders) > maxSignedHeaders {
			t.Fatalf("parsed %d signed headers", len(a.SignedHeaders))
		}
		for i, s := range a.SignedHeaders {
			if s == "" || strings.ContainsAny(s, ";, :") || strings.ToLower(s) != s {
				t.Fatalf("parsed %+v: bad signed header %q", a, s)
			}
			if i > 0 && a.SignedHeaders[i-1] >= s {
				t.Fatalf("parsed %+v: signed headers not strictly ascending at %q", a, s)
			}
		}
		// What parsed must print and parse back to the same thing.
		again := Algorithm + " Credential=" + strings.Join([]string{a.AccessKeyID, a.Date, a.Region, a.Service, a.Terminator}, "/") +
			", SignedHeaders=" + strings.Join(a.SignedHeaders, ";") + ", Signature=" + a.Signature
		b, err := ParseAuthorization(again)
		if err != nil {
			t.Fatalf("%q parsed to %+v, which prints as %q and does not parse: %v", h, a, again, err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%q parsed to %+v, which prints as %q and parses to %+v", h, a, again, b)
		}
	})
}

// verifyOne verifies a KMS request carrying the given Authorization and
// X-Amz-Date, against the test credential at t0.
func verifyOne(auth, date string, body []byte) (*Credential, error) {
	res, err := verifyAuth(auth, date, body)
	return res.Credential, err
}

func verifyAuth(auth, date string, body []byte) (Auth, error) {
	r := httptest.NewRequest(http.MethodPost, "https://"+testHost+"/", nil)
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "TrentService.Encrypt")
	r.Header.Set("User-Agent", "aws-sdk-go-v2/1.48.0")
	r.Header.Set("Content-Length", strconv.Itoa(len(testBody))) // as signed
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	if date != "" {
		r.Header.Set("X-Amz-Date", date)
	}
	return newVerifier(t0).Verify(r, body)
}

func FuzzVerify(f *testing.F) {
	seeds := verifySeeds(f)
	for _, s := range seeds {
		f.Add(s.auth, s.date, s.body)
	}
	valid := seeds[0]
	f.Fuzz(func(t *testing.T, auth, date string, body []byte) {
		cred, err := verifyOne(auth, date, body)
		if err == nil {
			if cred != testCredential {
				t.Fatalf("Verify returned %+v", cred)
			}
			// Only the exact signed request may pass.
			if string(body) != testBody || date != valid.date || !strings.HasSuffix(auth, valid.auth[len(valid.auth)-64:]) {
				t.Fatalf("Verify accepted auth %q date %q body %q", auth, date, body)
			}
			return
		}
		if cred != nil {
			t.Fatal("credential returned with an error")
		}
		var ae *apierr.Error
		if !errors.As(err, &ae) {
			t.Fatalf("error %T %v is not an *apierr.Error", err, err)
		}
		switch ae.Code {
		case apierr.MissingAuthenticationToken, apierr.IncompleteSignature, apierr.InvalidSignature, apierr.UnrecognizedClient:
		default:
			t.Fatalf("unexpected code %s: %v", ae.Code, err)
		}
		if strings.Contains(ae.Message, testSecret) {
			t.Fatalf("message holds the secret: %q", ae.Message)
		}
	})
}

// querySeeds is the seed corpus of FuzzCanonicalQuery.
var querySeeds = []string{
	"",
	"a=1",
	"Param2=value2&Param1=value1",
	"b=2&a=1&a=0&c=x%20y&d=%2F&e=",
	"b=x+y&&a=%7E&c",
	"=x&a==b&%41=%c3%bc",
	"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00",
	"%zz",
	"%zz;evil=1",
	"a=1;b=2",
	"evil=%4",
	"a=%",
	"a-=1&a=2",
	strings.Repeat("a&", maxQueryParams) + "a",
}

// FuzzCanonicalQuery checks the raw-query canonicalization against net/url,
// an independent parser: a query it accepts must parse without error and
// hold the same pairs; a query it refuses must be one net/url cannot parse
// whole (or one with more than maxQueryParams pairs).
func FuzzCanonicalQuery(f *testing.F) {
	for _, q := range querySeeds {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, ok := appendCanonicalQuery(nil, raw)
		vals, err := url.ParseQuery(raw)
		if !ok {
			if err == nil && strings.Count(raw, "&") < maxQueryParams {
				t.Fatalf("%q refused, but net/url parses it to %v", raw, vals)
			}
			return
		}
		if err != nil {
			t.Fatalf("%q canonicalized to %q, but net/url fails: %v", raw, got, err)
		}
		// SigV4 sorts by encoded name, then by encoded value.
		var pairs [][2]string
		for k, vs := range vals {
			for _, v := range vs {
				pairs = append(pairs, [2]string{uriEncode(k), uriEncode(v)})
			}
		}
		slices.SortFunc(pairs, func(a, b [2]string) int {
			return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1]))
		})
		var want strings.Builder
		for i, p := range pairs {
			if i > 0 {
				want.WriteByte('&')
			}
			want.WriteString(p[0] + "=" + p[1])
		}
		if string(got) != want.String() {
			t.Fatalf("%q canonicalized to %q; net/url's pairs give %q", raw, got, want.String())
		}
	})
}
