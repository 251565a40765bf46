package sigv4

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/apierr"
)

func TestParseAuthorization(t *testing.T) {
	const sdk = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20190430/us-east-1/kms/aws4_request, " +
		"SignedHeaders=content-type;host;x-amz-date;x-amz-target, " +
		"Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
	want := Authorization{
		AccessKeyID:   "AKIDEXAMPLE",
		Date:          "20190430",
		Region:        "us-east-1",
		Service:       "kms",
		Terminator:    "aws4_request",
		SignedHeaders: []string{"content-type", "host", "x-amz-date", "x-amz-target"},
		Signature:     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
	}
	with := func(f func(a *Authorization)) Authorization {
		a := want
		a.SignedHeaders = append([]string(nil), want.SignedHeaders...)
		f(&a)
		return a
	}
	tests := []struct {
		name string
		in   string
		want Authorization
		msg  string // error message, exact; "" = no error
	}{
		{name: "sdk", in: sdk, want: want},
		{name: "no spaces", in: strings.ReplaceAll(sdk, ", ", ","), want: want},
		{name: "extra spaces and trailing comma", in: strings.ReplaceAll(sdk, ", ", " ,  ") + ",", want: want},
		{name: "parameters reordered", in: "AWS4-HMAC-SHA256 Signature=" + want.Signature +
			", SignedHeaders=content-type;host;x-amz-date;x-amz-target, Credential=AKIDEXAMPLE/20190430/us-east-1/kms/aws4_request", want: want},
		{name: "unknown parameter ignored", in: sdk + ", Extra=1", want: want},
		{name: "trailing slashes in credential", in: strings.Replace(sdk, "aws4_request", "aws4_request//", 1), want: want},
		{name: "other terminator parses", in: strings.Replace(sdk, "aws4_request", "aws5_request", 1),
			want: with(func(a *Authorization) { a.Terminator = "aws5_request" })},
		{name: "empty signed headers parses", in: strings.Replace(sdk, "content-type;host;x-amz-date;x-amz-target", "", 1),
			want: with(func(a *Authorization) { a.SignedHeaders = nil })},
		{name: "empty scope elements parse", in: strings.Replace(sdk, "/20190430/us-east-1/", "///", 1),
			want: with(func(a *Authorization) { a.Date, a.Region = "", "" })},
		{
			name: "wrong algorithm", in: strings.Replace(sdk, "SHA256", "SHA1", 1),
			msg: "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA1' (only AWS4-HMAC-SHA256 for now). ",
		},
		{
			name: "lowercase algorithm", in: strings.Replace(sdk, "AWS4-HMAC-SHA256", "aws4-hmac-sha256", 1),
			msg: "Unsupported AWS 'algorithm': 'aws4-hmac-sha256' (only AWS4-HMAC-SHA256 for now). ",
		},
		{
			name: "algorithm only", in: "AWS4-HMAC-SHA256",
			msg: "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. " +
				"Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256",
		},
		{
			name: "empty credential", in: strings.Replace(sdk, "AKIDEXAMPLE/20190430/us-east-1/kms/aws4_request", "", 1),
			msg: "Authorization header requires 'Credential' parameter. Authorization=" +
				strings.Replace(sdk, "AKIDEXAMPLE/20190430/us-east-1/kms/aws4_request", "", 1),
		},
		{
			name: "missing equal sign", in: "AWS4-HMAC-SHA256 Signature=b,    Credential,    SignedHeaders",
			msg: "'Credential' not a valid key=value pair (missing equal-sign) in Authorization header: " +
				"'AWS4-HMAC-SHA256 Signature=b,    Credential,    SignedHeaders'.",
		},
		{
			name: "credential with six elements", in: strings.Replace(sdk, "/kms/", "/kms/x/", 1),
			msg: "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, " +
				"got 'AKIDEXAMPLE/20190430/us-east-1/kms/x/aws4_request'",
		},
		{
			name: "credential with four elements", in: strings.Replace(sdk, "/kms/", "/", 1),
			msg: "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, " +
				"got 'AKIDEXAMPLE/20190430/us-east-1/aws4_request'",
		},
		{
			name: "duplicate parameter", in: sdk + ", Signature=00",
			msg: "Authorization header has more than one 'Signature' parameter. Authorization=" + sdk + ", Signature=00",
		},
		{
			name: "empty signed header name", in: strings.Replace(sdk, "host;", "host;;", 1),
			msg: "'SignedHeaders' must be a semicolon-separated list of header names, got 'content-type;host;;x-amz-date;x-amz-target'. " +
				"Authorization=" + strings.Replace(sdk, "host;", "host;;", 1),
		},
		{
			name: "trailing semicolon", in: strings.Replace(sdk, "x-amz-target,", "x-amz-target;,", 1),
			msg: "'SignedHeaders' must be a semicolon-separated list of header names, got 'content-type;host;x-amz-date;x-amz-target;'. " +
				"Authorization=" + strings.Replace(sdk, "x-amz-target,", "x-amz-target;,", 1),
		},
		{name: "empty", in: "", msg: "Unsupported AWS 'algorithm': '' (only AWS4-HMAC-SHA256 for now). "},
		{
			name: "signed header repeated", in: strings.Replace(sdk, "host;", "host;host;", 1),
			msg: "'SignedHeaders' must name each header once, in lowercase and in ascending order, got 'content-type;host;host;x-amz-date;x-amz-target'. " +
				"Authorization=" + strings.Replace(sdk, "host;", "host;host;", 1),
		},
		{
			name: "signed headers out of order", in: strings.Replace(sdk, "content-type;host;", "host;content-type;", 1),
			msg: "'SignedHeaders' must name each header once, in lowercase and in ascending order, got 'host;content-type;x-amz-date;x-amz-target'. " +
				"Authorization=" + strings.Replace(sdk, "content-type;host;", "host;content-type;", 1),
		},
		{
			name: "signed header in uppercase", in: strings.Replace(sdk, "host;", "Host;", 1),
			msg: "'SignedHeaders' must name each header once, in lowercase and in ascending order, got 'content-type;Host;x-amz-date;x-amz-target'. " +
				"Authorization=" + strings.Replace(sdk, "host;", "Host;", 1),
		},
		{
			name: "signed header that is not a header name", in: strings.Replace(sdk, "host;", "host;x:y;", 1),
			msg: "'SignedHeaders' must be a semicolon-separated list of header names, got 'content-type;host;x:y;x-amz-date;x-amz-target'. " +
				"Authorization=" + strings.Replace(sdk, "host;", "host;x:y;", 1),
		},
		{
			name: "too many signed headers", in: strings.Replace(sdk, "host;", "host;"+numberedHeaders(maxSignedHeaders-3), 1),
			msg: "'SignedHeaders' must not name more than 64 headers. " +
				"Authorization=" + echo(strings.Replace(sdk, "host;", "host;"+numberedHeaders(maxSignedHeaders-3), 1)),
		},
		{
			name: "as many signed headers as allowed", in: strings.Replace(sdk, "host;", "host;"+numberedHeaders(maxSignedHeaders-4), 1),
			want: with(func(a *Authorization) {
				a.SignedHeaders = strings.Split("content-type;host;"+numberedHeaders(maxSignedHeaders-4)+"x-amz-date;x-amz-target", ";")
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAuthorization(tt.in)
			if tt.msg != "" {
				if !apierr.Is(err, apierr.IncompleteSignature) {
					t.Fatalf("ParseAuthorization = %+v, %v; want IncompleteSignatureException", got, err)
				}
				if m := apierr.As(err).Message; m != tt.msg {
					t.Fatalf("message = %q\n          want %q", m, tt.msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAuthorization: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseAuthorization = %+v\n                   want %+v", got, tt.want)
			}
		})
	}
}

func TestParseAuthorizationBoundsEcho(t *testing.T) {
	h := "AWS4-HMAC-SHA256 Credential=" + strings.Repeat("A", 100000)
	_, err := ParseAuthorization(h)
	if !apierr.Is(err, apierr.IncompleteSignature) {
		t.Fatalf("err = %v", err)
	}
	if n := len(apierr.As(err).Message); n > 3*maxEcho {
		t.Fatalf("message is %d bytes long", n)
	}
}

func TestParseAuthorizationDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	h := "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20190430/us-east-1/kms/aws4_request, " +
		"SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=00"
	if n := testing.AllocsPerRun(100, func() { parseAuth(h) }); n != 0 {
		t.Fatalf("parseAuth allocates %v times", n)
	}
}

// numberedHeaders returns n distinct header names in ascending order, each
// followed by a semicolon, that sort between "host" and "x-amz-date".
func numberedHeaders(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "w-%04d;", i)
	}
	return b.String()
}
