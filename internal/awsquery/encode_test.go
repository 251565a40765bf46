package awsquery

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
)

const testRequestID = "c0ffee00-1234-4bcd-8ef0-0123456789ab"

func mustOp(t *testing.T, svc *Service, name string) *Operation {
	t.Helper()
	op, ok := svc.Lookup(name)
	if !ok {
		t.Fatalf("%s has no operation %s", svc.Name, name)
	}
	return op
}

func TestWriteResult(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	created := time.Date(2026, 12, 6, 11, 13, 12, 987654321, paris) // 10:13:12Z
	for _, tc := range []struct {
		name string
		svc  *Service
		op   string
		out  any
		want string // the body between <OpResponse xmlns> and <ResponseMetadata>
	}{
		{
			name: "CreateUser: timestamps in UTC to the second, optional members left out",
			svc:  IAM, op: "CreateUser",
			out: &UserOutput{User: User{Path: "/", UserName: "bob", UserId: "AIDAEXAMPLE", Arn: "arn:aws:iam::111122223333:user/bob",
				CreateDate: created, Tags: []OutTag{{Key: "k", Value: "v"}}}},
			want: `<CreateUserResult><User><Path>/</Path><UserName>bob</UserName><UserId>AIDAEXAMPLE</UserId>` +
				`<Arn>arn:aws:iam::111122223333:user/bob</Arn><CreateDate>2026-12-06T10:13:12Z</CreateDate>` +
				`<Tags><member><Key>k</Key><Value>v</Value></member></Tags></User></CreateUserResult>`,
		},
		{
			name: "GetUser with a boundary and no tags",
			svc:  IAM, op: "GetUser",
			out: &UserOutput{User: User{Path: "/", UserName: "b", UserId: "I", Arn: "A", CreateDate: created,
				PasswordLastUsed: &created,
				PermissionsBoundary: &AttachedPermissionsBoundary{PermissionsBoundaryType: "Policy",
					PermissionsBoundaryArn: "arn:aws:iam::aws:policy/PowerUserAccess"}}},
			want: `<GetUserResult><User><Path>/</Path><UserName>b</UserName><UserId>I</UserId><Arn>A</Arn>` +
				`<CreateDate>2026-12-06T10:13:12Z</CreateDate><PasswordLastUsed>2026-12-06T10:13:12Z</PasswordLastUsed>` +
				`<PermissionsBoundary><PermissionsBoundaryType>Policy</PermissionsBoundaryType>` +
				`<PermissionsBoundaryArn>arn:aws:iam::aws:policy/PowerUserAccess</PermissionsBoundaryArn></PermissionsBoundary>` +
				`</User></GetUserResult>`,
		},
		{
			name: "an empty list is sent, a nil one too; an empty marker is not",
			svc:  IAM, op: "ListUsers",
			out:  &ListUsersOutput{},
			want: `<ListUsersResult><Users></Users><IsTruncated>false</IsTruncated></ListUsersResult>`,
		},
		{
			name: "string list and marker",
			svc:  IAM, op: "ListUserPolicies",
			out: &ListPolicyNamesOutput{PolicyNames: []string{"a", "b&c"}, IsTruncated: true, Marker: "m"},
			want: `<ListUserPoliciesResult><PolicyNames><member>a</member><member>b&amp;c</member></PolicyNames>` +
				`<IsTruncated>true</IsTruncated><Marker>m</Marker></ListUserPoliciesResult>`,
		},
		{
			name: "policy documents are percent-encoded",
			svc:  IAM, op: "GetUserPolicy",
			out: &GetUserPolicyOutput{UserName: "bob", PolicyName: "p",
				PolicyDocument: `{"Version": "2012-10-17", "Statement": [{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`},
			want: `<GetUserPolicyResult><UserName>bob</UserName><PolicyName>p</PolicyName><PolicyDocument>` +
				`%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22Statement%22%3A%20%5B%7B%22Effect%22%3A%22Allow%22%2C` +
				`%22Action%22%3A%22kms%3A%2A%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D</PolicyDocument></GetUserPolicyResult>`,
		},
		{
			name: "maps as entry/key/value, sorted",
			svc:  IAM, op: "SimulateCustomPolicy",
			out: &SimulatePolicyOutput{EvaluationResults: []EvaluationResult{{EvalActionName: "kms:Encrypt",
				EvalResourceName: "*", EvalDecision: "implicitDeny",
				EvalDecisionDetails: map[string]string{"b": "implicitDeny", "a": "allowed"}}}},
			want: `<SimulateCustomPolicyResult><EvaluationResults><member><EvalActionName>kms:Encrypt</EvalActionName>` +
				`<EvalResourceName>*</EvalResourceName><EvalDecision>implicitDeny</EvalDecision><MatchedStatements></MatchedStatements>` +
				`<MissingContextValues></MissingContextValues><EvalDecisionDetails><entry><key>a</key><value>allowed</value></entry>` +
				`<entry><key>b</key><value>implicitDeny</value></entry></EvalDecisionDetails></member></EvaluationResults>` +
				`<IsTruncated>false</IsTruncated></SimulateCustomPolicyResult>`,
		},
		{
			name: "no result element",
			svc:  IAM, op: "DeleteUser",
			out:  nil,
			want: ``,
		},
		{
			name: "STS",
			svc:  STS, op: "GetCallerIdentity",
			out: &GetCallerIdentityOutput{UserId: "AIDA", Account: "111122223333", Arn: "arn:aws:iam::111122223333:root"},
			want: `<GetCallerIdentityResult><UserId>AIDA</UserId><Account>111122223333</Account>` +
				`<Arn>arn:aws:iam::111122223333:root</Arn></GetCallerIdentityResult>`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tc.svc.WriteResult(rec, testRequestID, mustOp(t, tc.svc, tc.op), tc.out)
			want := `<` + tc.op + `Response xmlns="` + tc.svc.Namespace + `">` + tc.want +
				`<ResponseMetadata><RequestId>` + testRequestID + `</RequestId></ResponseMetadata></` + tc.op + `Response>`
			if rec.Code != http.StatusOK || rec.Body.String() != want {
				t.Fatalf("status %d, body\n%s\nwant\n%s", rec.Code, rec.Body, want)
			}
			checkHeaders(t, rec)
			wellFormed(t, rec.Body.Bytes())
		})
	}
}

func checkHeaders(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	h := rec.Header()
	if h.Get("Content-Type") != "text/xml" || h.Get("Content-Length") != fmt.Sprint(rec.Body.Len()) ||
		h.Get("X-Amzn-RequestId") != testRequestID {
		t.Fatalf("headers %v", h)
	}
}

func wellFormed(t *testing.T, body []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(body))
	for {
		if _, err := d.Token(); err == io.EOF {
			return
		} else if err != nil {
			t.Fatalf("response is not well-formed XML: %v\n%s", err, body)
		}
	}
}

func TestWriteResultEscapesText(t *testing.T) {
	rec := httptest.NewRecorder()
	nasty := "<a href=\"x\">&amp;</a>]]>\x00\x01\ttab\nline\r'é☃"
	IAM.WriteResult(rec, testRequestID, mustOp(t, IAM, "GetGroup"), &GetGroupOutput{Group: Group{GroupName: nasty}})
	wellFormed(t, rec.Body.Bytes())
	var got struct {
		Name string `xml:"GetGroupResult>Group>GroupName"`
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	// XML cannot carry NUL or U+0001 at all; every other character must
	// come back as it was.
	if want := strings.NewReplacer("\x00", "\uFFFD", "\x01", "\uFFFD").Replace(nasty); got.Name != want {
		t.Fatalf("GroupName = %q, want %q", got.Name, want)
	}
}

func TestWriteResultWrongTypeIsInternal(t *testing.T) {
	for _, tc := range []struct {
		op  string
		out any
	}{
		{"CreateUser", &ListUsersOutput{}},
		{"CreateUser", UserOutput{}},
		{"CreateUser", (*UserOutput)(nil)},
		{"CreateUser", nil},
		{"DeleteUser", &UserOutput{}},
	} {
		rec := httptest.NewRecorder()
		IAM.WriteResult(rec, testRequestID, mustOp(t, IAM, tc.op), tc.out)
		if rec.Code != 500 || !strings.Contains(rec.Body.String(), "<Code>ServiceFailure</Code>") ||
			strings.Contains(rec.Body.String(), "awsquery") {
			t.Errorf("%s with %T: %d %s", tc.op, tc.out, rec.Code, rec.Body)
		}
	}
}

func TestWriteError(t *testing.T) {
	for _, tc := range []struct {
		name   string
		svc    *Service
		err    error
		status int
		want   string // the <Error> element
	}{
		{"client error", IAM, apierr.New(NoSuchEntity, "The user with name nobody cannot be found."), 404,
			`<Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The user with name nobody cannot be found.</Message></Error>`},
		{"message escaped", IAM, apierr.New(MalformedPolicyDocument, `Syntax errors in policy: "<&>"`), 400,
			`<Error><Type>Sender</Type><Code>MalformedPolicyDocument</Code><Message>Syntax errors in policy: &#34;&lt;&amp;&gt;&#34;</Message></Error>`},
		{"no message", IAM, apierr.New(DeleteConflict, ""), 409,
			`<Error><Type>Sender</Type><Code>DeleteConflict</Code></Error>`},
		{"internal at IAM", IAM, errors.New("disk on fire"), 500,
			`<Error><Type>Receiver</Type><Code>ServiceFailure</Code><Message>` + internalMessage + `</Message></Error>`},
		{"internal at STS", STS, apierr.Internal(errors.New("disk on fire")), 500,
			`<Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>` + internalMessage + `</Message></Error>`},
		{"STS modeled", STS, apierr.New(RegionDisabledException, "STS is not activated in this region."), 403,
			`<Error><Type>Sender</Type><Code>RegionDisabledException</Code><Message>STS is not activated in this region.</Message></Error>`},
		{"SigV4 missing token", STS, apierr.New(apierr.MissingAuthenticationToken, "Missing Authentication Token"), 403,
			`<Error><Type>Sender</Type><Code>MissingAuthenticationToken</Code><Message>Request is missing Authentication Token</Message></Error>`},
		// A message echoing a hostile request is clipped, at a character
		// boundary (é is two bytes, and the cut falls inside the last one).
		{"long message clipped", IAM, apierr.New(apierr.AccessDenied, "%s", strings.Repeat("é", MaxErrorMessageBytes)), 403,
			`<Error><Type>Sender</Type><Code>AccessDenied</Code><Message>` + strings.Repeat("é", (MaxErrorMessageBytes-3)/2) + `...</Message></Error>`},
		{"SigV4 mismatch", IAM, apierr.New(apierr.InvalidSignature, "Signature expired: 20261206T100000Z is now earlier than 20261206T101000Z (20261206T101500Z - 5 min.)"), 403,
			`<Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>Signature expired: 20261206T100000Z is now earlier than 20261206T101000Z (20261206T101500Z - 5 min.)</Message></Error>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tc.svc.WriteError(rec, testRequestID, tc.err)
			want := `<ErrorResponse xmlns="` + tc.svc.Namespace + `">` + tc.want + `<RequestId>` + testRequestID + `</RequestId></ErrorResponse>`
			if rec.Code != tc.status || rec.Body.String() != want {
				t.Fatalf("status %d, body\n%s\nwant %d\n%s", rec.Code, rec.Body, tc.status, want)
			}
			checkHeaders(t, rec)
			wellFormed(t, rec.Body.Bytes())
		})
	}
}

// TestWireErrorFromSharedLayers pins what IAM and STS answer for each code
// the SigV4 verifier and the HTTP front (shared with the JSON protocol)
// produce.
func TestWireErrorFromSharedLayers(t *testing.T) {
	for _, tc := range []struct {
		in     string
		code   string
		status int
	}{
		{apierr.InvalidSignature, SignatureDoesNotMatch, 403},
		{apierr.IncompleteSignature, IncompleteSignature, 400},
		{apierr.UnrecognizedClient, InvalidClientTokenId, 403},
		{apierr.MissingAuthenticationToken, MissingAuthenticationToken, 403},
		{apierr.AccessDenied, AccessDenied, 403},
		{apierr.Throttling, Throttling, 400},
		{apierr.UnknownOperation, InvalidAction, 400},
		{apierr.RequestEntityTooLarge, RequestEntityTooLarge, 413},
		{apierr.Serialization, MalformedQueryString, 404},
		{apierr.Validation, ValidationError, 400},
		{apierr.KMSInternal, ServiceFailure, 500},
		{apierr.DependencyTimeout, ServiceFailure, 500},
	} {
		e := IAM.WireError(apierr.New(tc.in, "m"))
		if e.Code != tc.code || HTTPStatus(e.Code) != tc.status {
			t.Errorf("%s → %s %d, want %s %d", tc.in, e.Code, HTTPStatus(e.Code), tc.code, tc.status)
		}
	}
	// A Query code passes through untouched, message and all.
	e := apierr.New(EntityAlreadyExists, "User with name bob already exists.")
	if got := STS.WireError(e); got != e {
		t.Errorf("WireError(%v) = %v", e, got)
	}
}

// TestHTTPStatus pins the table against the sources named in errors.go.
func TestHTTPStatus(t *testing.T) {
	want := map[int][]string{
		400: {IncompleteSignature, InvalidAction, InvalidParameterCombination, InvalidParameterValue,
			InvalidQueryParameter, MissingAction, MissingParameter, RequestExpired, Throttling, ValidationError,
			InvalidInput, MalformedPolicyDocument, PolicyNotAttachable, UnmodifiableEntity,
			ExpiredTokenException, PackedPolicyTooLarge},
		403: {AccessDenied, ExpiredToken, InvalidClientTokenId, MissingAuthenticationToken, OptInRequired,
			SignatureDoesNotMatch, RegionDisabledException},
		404: {MalformedQueryString, NoSuchEntity},
		409: {ConcurrentModification, DeleteConflict, EntityAlreadyExists, EntityTemporarilyUnmodifiable, LimitExceeded},
		413: {RequestEntityTooLarge},
		500: {InternalFailure, PolicyEvaluation, ServiceFailure},
		503: {ServiceUnavailable},
	}
	n := 0
	for status, codes := range want {
		for _, code := range codes {
			n++
			if got := HTTPStatus(code); got != status {
				t.Errorf("HTTPStatus(%s) = %d, want %d", code, got, status)
			}
			if wantType := map[bool]string{true: "Receiver", false: "Sender"}[status >= 500]; errorType(status) != wantType {
				t.Errorf("type of %s = %s, want %s", code, errorType(status), wantType)
			}
		}
	}
	if n != len(statuses) {
		t.Errorf("the test pins %d codes, the table has %d", n, len(statuses))
	}
	if HTTPStatus("SomethingNew") != 400 {
		t.Errorf("an unknown code is not a 400")
	}
}

func TestEscapePolicy(t *testing.T) {
	for _, doc := range []string{
		"",
		"plain-._~AZaz09",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}]}`,
		"{\n  \"Sid\": \"a b+c%20d/é☃\"\n}",
		"+ %2B %",
	} {
		enc := escapePolicy(doc)
		for i := 0; i < len(enc); i++ {
			if c := enc[i]; !unreserved(c) && c != '%' {
				t.Errorf("escapePolicy(%q) left %q unescaped", doc, c)
			}
		}
		for _, unescape := range []func(string) (string, error){url.QueryUnescape, url.PathUnescape} {
			if got, err := unescape(enc); err != nil || got != doc {
				t.Errorf("unescape(escapePolicy(%q)) = %q, %v", doc, got, err)
			}
		}
	}
	if got := escapePolicy("a b"); got != "a%20b" {
		t.Errorf("space escaped as %q, want %%20 (AWS's RFC 3986 encoding; Python's unquote keeps '+')", got)
	}
}
