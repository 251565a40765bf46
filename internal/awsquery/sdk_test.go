package awsquery

// Wire tests with the real aws-sdk-go-v2 IAM and STS clients. The HTTP
// handler below is scaffolding: it decodes with Service.Decode, records
// what it decoded and answers with canned outputs through WriteResult and
// WriteError. What is under test is the codec on one side and the real
// client on the other.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/testenv/sdkhttp"
)

// call is what the test server decoded from one request.
type call struct {
	op          string
	in          any
	contentType string
}

// fakeService answers one Query service with canned results.
type fakeService struct {
	svc    *Service
	answer func(op *Operation, in any) (any, error)

	mu    sync.Mutex
	calls []call
	n     int
}

func (f *fakeService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.n++
	requestID := fmt.Sprintf("00000000-0000-4000-8000-%012d", f.n)
	f.mu.Unlock()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		f.svc.WriteError(w, requestID, apierr.New(apierr.RequestEntityTooLarge, "too large"))
		return
	}
	op, in, err := f.svc.Decode(body)
	if err != nil {
		f.svc.WriteError(w, requestID, err)
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, call{op: op.Name, in: in, contentType: r.Header.Get("Content-Type")})
	f.mu.Unlock()
	out, err := f.answer(op, in)
	if err != nil {
		f.svc.WriteError(w, requestID, err)
		return
	}
	f.svc.WriteResult(w, requestID, op, out)
}

// forget drops the calls seen so far: a subtest that failed before it
// read its call leaves it behind, which must not fail the next one too.
func (f *fakeService) forget() {
	f.mu.Lock()
	f.calls = nil
	f.mu.Unlock()
}

// last returns the one call the server has seen since the previous last.
func (f *fakeService) last(t *testing.T) call {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) != 1 {
		t.Fatalf("server saw %d calls, want 1", len(f.calls))
	}
	c := f.calls[0]
	f.calls = nil
	return c
}

func startFake(t *testing.T, svc *Service, answer func(op *Operation, in any) (any, error)) (*fakeService, string) {
	f := &fakeService{svc: svc, answer: answer}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func newIAMClient(endpoint string) *iam.Client {
	return iam.New(iam.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""),
		// A 5xx must reach the test once, not after three backoffs.
		Retryer:    aws.NopRetryer{},
		HTTPClient: sdkhttp.Client(nil),
	})
}

func newSTSClient(endpoint string) *sts.Client {
	return sts.New(sts.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   sdkhttp.Client(nil),
	})
}

var created = time.Date(2026, 12, 6, 10, 13, 12, 0, time.UTC)

// fakeCreateUser answers CreateUser as IAM would, echoing the request.
func fakeCreateUser(in *CreateUserInput) *UserOutput {
	u := User{Path: *in.Path, UserName: *in.UserName, UserId: "AIDAEXAMPLE000000001",
		Arn: "arn:aws:iam::111122223333:user" + *in.Path + *in.UserName, CreateDate: created}
	for _, tag := range in.Tags {
		u.Tags = append(u.Tags, OutTag{Key: *tag.Key, Value: *tag.Value})
	}
	return &UserOutput{User: u}
}

// policyDoc has every character class a percent-encoder can get wrong.
const policyDoc = `{"Version":"2012-10-17","Statement":[{"Sid":"a b+c&d=e%20f/é☃","Effect":"Allow",` + "\n" +
	`  "Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"kms"}}}]}`

func TestSDKIAM(t *testing.T) {
	ctx := context.Background()
	fake, endpoint := startFake(t, IAM, func(op *Operation, in any) (any, error) {
		switch op.Name {
		case "CreateUser":
			return fakeCreateUser(in.(*CreateUserInput)), nil
		case "ListUsers":
			if in.(*ListUsersInput).PathPrefix != nil {
				return &ListUsersOutput{}, nil
			}
			return &ListUsersOutput{IsTruncated: true, Marker: "page-2", Users: []User{
				{Path: "/", UserName: "alice", UserId: "AIDA1", Arn: "arn:aws:iam::111122223333:user/alice", CreateDate: created},
				{Path: "/ops/", UserName: "bob", UserId: "AIDA2", Arn: "arn:aws:iam::111122223333:user/ops/bob", CreateDate: created,
					PasswordLastUsed: ptr(created.Add(time.Hour))},
			}}, nil
		case "PutUserPolicy":
			return nil, nil
		case "GetUserPolicy":
			in := in.(*GetUserPolicyInput)
			return &GetUserPolicyOutput{UserName: *in.UserName, PolicyName: *in.PolicyName, PolicyDocument: policyDoc}, nil
		case "CreateAccessKey":
			return &CreateAccessKeyOutput{AccessKey: AccessKey{UserName: "bob", AccessKeyId: "AKIAEXAMPLE000000001",
				Status: "Active", SecretAccessKey: "secret/with+chars=", CreateDate: &created}}, nil
		case "SimulatePrincipalPolicy":
			return &SimulatePolicyOutput{EvaluationResults: []EvaluationResult{
				{EvalActionName: "kms:Encrypt", EvalResourceName: "*", EvalDecision: "allowed",
					MatchedStatements: []Statement{{SourcePolicyId: "inline", SourcePolicyType: "user",
						StartPosition: &Position{Line: 1, Column: 2}, EndPosition: &Position{Line: 3, Column: 4}}},
					MissingContextValues: []string{}},
				{EvalActionName: "kms:Decrypt", EvalResourceName: "*", EvalDecision: "implicitDeny",
					MissingContextValues: []string{"kms:EncryptionContext:app"},
					EvalDecisionDetails:  map[string]string{"Organizations": "allowed"}},
			}}, nil
		case "DeleteUser":
			return nil, nil
		case "GetUser":
			return nil, apierr.New(NoSuchEntity, "The user with name nobody cannot be found.")
		case "CreateGroup":
			return nil, apierr.New(EntityAlreadyExists, "Group with name admins already exists.")
		case "DeleteRole":
			return nil, apierr.New(apierr.AccessDenied, "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: iam:DeleteRole")
		case "ListRoles":
			return nil, errors.New("database on fire")
		case "GetRole":
			return nil, apierr.New(apierr.InvalidSignature, "The request signature we calculated does not match the signature you provided.")
		}
		return nil, fmt.Errorf("unexpected %s", op.Name)
	})
	client := newIAMClient(endpoint)

	t.Run("CreateUser with path and tags", func(t *testing.T) {
		out, err := client.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob"), Path: aws.String("/ops/"),
			Tags: []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String("kms & co")}, {Key: aws.String("env"), Value: aws.String("")}}})
		if err != nil {
			t.Fatal(err)
		}
		c := fake.last(t)
		want := &CreateUserInput{UserName: ptr("bob"), Path: ptr("/ops/"),
			Tags: []Tag{{Key: ptr("team"), Value: ptr("kms & co")}, {Key: ptr("env"), Value: ptr("")}}}
		if c.op != "CreateUser" || !reflect.DeepEqual(c.in, want) {
			t.Fatalf("server decoded %s %s, want %s", c.op, dump(c.in), dump(want))
		}
		if !strings.HasPrefix(c.contentType, "application/x-www-form-urlencoded") {
			t.Errorf("Content-Type %q", c.contentType)
		}
		u := out.User
		if aws.ToString(u.UserName) != "bob" || aws.ToString(u.Path) != "/ops/" || aws.ToString(u.UserId) != "AIDAEXAMPLE000000001" ||
			aws.ToString(u.Arn) != "arn:aws:iam::111122223333:user/ops/bob" || !aws.ToTime(u.CreateDate).Equal(created) ||
			u.PasswordLastUsed != nil || u.PermissionsBoundary != nil || len(u.Tags) != 2 ||
			aws.ToString(u.Tags[0].Value) != "kms & co" || aws.ToString(u.Tags[1].Key) != "env" {
			t.Fatalf("client parsed %+v", u)
		}
		if id, ok := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata); !ok || !strings.HasPrefix(id, "00000000-0000-4000-8000-") {
			t.Errorf("request id %q", id)
		}
	})

	t.Run("ListUsers", func(t *testing.T) {
		out, err := client.ListUsers(ctx, &iam.ListUsersInput{MaxItems: aws.Int32(2), Marker: aws.String("page-1")})
		if err != nil {
			t.Fatal(err)
		}
		if c := fake.last(t); !reflect.DeepEqual(c.in, &ListUsersInput{MaxItems: ptr[int32](2), Marker: ptr("page-1")}) {
			t.Fatalf("server decoded %s", dump(c.in))
		}
		if !out.IsTruncated || aws.ToString(out.Marker) != "page-2" || len(out.Users) != 2 ||
			aws.ToString(out.Users[1].UserName) != "bob" || !aws.ToTime(out.Users[1].PasswordLastUsed).Equal(created.Add(time.Hour)) {
			t.Fatalf("client parsed %+v", out)
		}

		out, err = client.ListUsers(ctx, &iam.ListUsersInput{PathPrefix: aws.String("/none/")})
		if err != nil {
			t.Fatal(err)
		}
		fake.last(t)
		if out.IsTruncated || out.Marker != nil || len(out.Users) != 0 {
			t.Fatalf("empty page parsed as %+v", out)
		}
	})

	t.Run("Put and GetUserPolicy", func(t *testing.T) {
		if _, err := client.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("bob"),
			PolicyName: aws.String("p"), PolicyDocument: aws.String(policyDoc)}); err != nil {
			t.Fatal(err)
		}
		if c := fake.last(t); aws.ToString(c.in.(*PutUserPolicyInput).PolicyDocument) != policyDoc {
			t.Fatalf("server decoded document %q", aws.ToString(c.in.(*PutUserPolicyInput).PolicyDocument))
		}
		out, err := client.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("bob"), PolicyName: aws.String("p")})
		if err != nil {
			t.Fatal(err)
		}
		fake.last(t)
		// aws-sdk-go-v2 hands IAM policy documents over percent-encoded,
		// as AWS sends them; the caller unescapes.
		got := aws.ToString(out.PolicyDocument)
		if strings.ContainsAny(got, `{"+ `) {
			t.Fatalf("document not percent-encoded: %q", got)
		}
		if doc, err := url.QueryUnescape(got); err != nil || doc != policyDoc {
			t.Fatalf("QueryUnescape(document) = %q, %v", doc, err)
		}
		if aws.ToString(out.UserName) != "bob" || aws.ToString(out.PolicyName) != "p" {
			t.Fatalf("client parsed %+v", out)
		}
	})

	t.Run("CreateAccessKey", func(t *testing.T) {
		out, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		if c := fake.last(t); !reflect.DeepEqual(c.in, &CreateAccessKeyInput{}) {
			t.Fatalf("server decoded %s", dump(c.in))
		}
		k := out.AccessKey
		if aws.ToString(k.AccessKeyId) != "AKIAEXAMPLE000000001" || aws.ToString(k.SecretAccessKey) != "secret/with+chars=" ||
			k.Status != iamtypes.StatusTypeActive || aws.ToString(k.UserName) != "bob" || !aws.ToTime(k.CreateDate).Equal(created) {
			t.Fatalf("client parsed %+v", k)
		}
	})

	t.Run("SimulatePrincipalPolicy", func(t *testing.T) {
		out, err := client.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{
			PolicySourceArn: aws.String("arn:aws:iam::111122223333:user/bob"),
			ActionNames:     []string{"kms:Encrypt", "kms:Decrypt"},
			ResourceArns:    []string{"*"},
			ContextEntries: []iamtypes.ContextEntry{{ContextKeyName: aws.String("kms:EncryptionContext:app"),
				ContextKeyType: iamtypes.ContextKeyTypeEnumStringList, ContextKeyValues: []string{"a", "b"}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		want := &SimulatePrincipalPolicyInput{PolicySourceArn: ptr("arn:aws:iam::111122223333:user/bob"),
			ActionNames: []string{"kms:Encrypt", "kms:Decrypt"}, ResourceArns: []string{"*"},
			ContextEntries: []ContextEntry{{ContextKeyName: ptr("kms:EncryptionContext:app"), ContextKeyType: ptr("stringList"),
				ContextKeyValues: []string{"a", "b"}}}}
		if c := fake.last(t); !reflect.DeepEqual(c.in, want) {
			t.Fatalf("server decoded %s, want %s", dump(c.in), dump(want))
		}
		r := out.EvaluationResults
		if len(r) != 2 || r[0].EvalDecision != iamtypes.PolicyEvaluationDecisionTypeAllowed ||
			aws.ToString(r[0].EvalActionName) != "kms:Encrypt" || aws.ToString(r[0].EvalResourceName) != "*" ||
			len(r[0].MatchedStatements) != 1 || r[0].MatchedStatements[0].SourcePolicyType != iamtypes.PolicySourceTypeUser ||
			r[0].MatchedStatements[0].EndPosition.Column != 4 || len(r[0].MissingContextValues) != 0 ||
			r[1].EvalDecision != iamtypes.PolicyEvaluationDecisionTypeImplicitDeny ||
			!reflect.DeepEqual(r[1].MissingContextValues, []string{"kms:EncryptionContext:app"}) ||
			r[1].EvalDecisionDetails["Organizations"] != iamtypes.PolicyEvaluationDecisionTypeAllowed {
			t.Fatalf("client parsed %+v", r)
		}
	})

	t.Run("an operation without a result", func(t *testing.T) {
		if _, err := client.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("bob")}); err != nil {
			t.Fatal(err)
		}
		fake.last(t)
	})

	for _, tc := range []struct {
		name         string
		call         func() error
		code, msg    string
		status       int
		fault        smithy.ErrorFault
		modeledError any // a pointer to the SDK's typed error, or nil
	}{
		{"404 modeled", func() error {
			_, err := client.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("nobody")})
			return err
		}, NoSuchEntity, "The user with name nobody cannot be found.", 404, smithy.FaultClient, new(*iamtypes.NoSuchEntityException)},
		{"409 modeled", func() error {
			_, err := client.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("admins")})
			return err
		}, EntityAlreadyExists, "Group with name admins already exists.", 409, smithy.FaultClient, new(*iamtypes.EntityAlreadyExistsException)},
		{"403 common", func() error {
			_, err := client.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("r")})
			return err
		}, AccessDenied, "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: iam:DeleteRole", 403, smithy.FaultUnknown, nil},
		{"403 from the signature layer", func() error {
			_, err := client.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("r")})
			return err
		}, SignatureDoesNotMatch, "The request signature we calculated does not match the signature you provided.", 403, smithy.FaultUnknown, nil},
		{"500 internal", func() error {
			_, err := client.ListRoles(ctx, &iam.ListRolesInput{})
			return err
		}, ServiceFailure, internalMessage, 500, smithy.FaultServer, new(*iamtypes.ServiceFailureException)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			fake.last(t)
			checkAPIError(t, err, tc.code, tc.msg, tc.status, tc.fault, tc.modeledError)
		})
	}
}

// checkAPIError asserts what a caller of the SDK sees of an error.
func checkAPIError(t *testing.T, err error, code, msg string, status int, fault smithy.ErrorFault, modeled any) {
	t.Helper()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v (%T) is not a smithy.APIError", err, err)
	}
	if apiErr.ErrorCode() != code || apiErr.ErrorMessage() != msg {
		t.Fatalf("APIError = %s %q, want %s %q", apiErr.ErrorCode(), apiErr.ErrorMessage(), code, msg)
	}
	if fault != smithy.FaultUnknown && apiErr.ErrorFault() != fault {
		t.Errorf("fault = %v, want %v", apiErr.ErrorFault(), fault)
	}
	var respErr *awshttp.ResponseError
	if !errors.As(err, &respErr) || respErr.HTTPStatusCode() != status {
		t.Fatalf("HTTP status of %v, want %d", err, status)
	}
	if !strings.HasPrefix(respErr.ServiceRequestID(), "00000000-0000-4000-8000-") {
		t.Errorf("request id %q", respErr.ServiceRequestID())
	}
	if modeled != nil && !errors.As(err, modeled) {
		t.Errorf("error %T is not the SDK's %T", apiErr, modeled)
	}
}

func TestSDKSTS(t *testing.T) {
	ctx := context.Background()
	expires := created.Add(time.Hour)
	fake, endpoint := startFake(t, STS, func(op *Operation, in any) (any, error) {
		switch op.Name {
		case "GetCallerIdentity":
			return &GetCallerIdentityOutput{UserId: "AIDAEXAMPLE000000001", Account: "111122223333",
				Arn: "arn:aws:iam::111122223333:user/bob"}, nil
		case "AssumeRole":
			in := in.(*AssumeRoleInput)
			if aws.ToString(in.RoleSessionName) == "denied" {
				return nil, apierr.New(RegionDisabledException, "STS is not activated in this region for account:111122223333.")
			}
			if in.Policy != nil {
				return nil, apierr.New(MalformedPolicyDocument, "The policy is not in the valid JSON format.")
			}
			return &AssumeRoleOutput{
				Credentials: Credentials{AccessKeyId: "ASIAEXAMPLE000000001", SecretAccessKey: "s3cr3t",
					SessionToken: "FwoGZXIvYXdzEXAMPLE//+token=", Expiration: expires},
				AssumedRoleUser: AssumedRoleUser{AssumedRoleId: "AROAEXAMPLE:" + aws.ToString(in.RoleSessionName),
					Arn: "arn:aws:sts::111122223333:assumed-role/r/" + aws.ToString(in.RoleSessionName)},
				PackedPolicySize: ptr[int32](6), SessionTokenSize: ptr[int32](412), SessionTokenUtilization: ptr[int32](6),
			}, nil
		case "GetSessionToken":
			return nil, apierr.New(apierr.UnrecognizedClient, "The security token included in the request is invalid.")
		}
		return nil, fmt.Errorf("unexpected %s", op.Name)
	})
	client := newSTSClient(endpoint)

	t.Run("GetCallerIdentity", func(t *testing.T) {
		out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatal(err)
		}
		if c := fake.last(t); !reflect.DeepEqual(c.in, &GetCallerIdentityInput{}) {
			t.Fatalf("server decoded %s", dump(c.in))
		}
		if aws.ToString(out.Account) != "111122223333" || aws.ToString(out.Arn) != "arn:aws:iam::111122223333:user/bob" ||
			aws.ToString(out.UserId) != "AIDAEXAMPLE000000001" {
			t.Fatalf("client parsed %+v", out)
		}
	})

	t.Run("AssumeRole with tags and policy ARNs", func(t *testing.T) {
		out, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{
			RoleArn:           aws.String("arn:aws:iam::111122223333:role/r"),
			RoleSessionName:   aws.String("s@example.com"),
			DurationSeconds:   aws.Int32(3600),
			ExternalId:        aws.String("ext"),
			PolicyArns:        []ststypes.PolicyDescriptorType{{Arn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")}, {Arn: aws.String("arn:aws:iam::111122223333:policy/p")}},
			Tags:              []ststypes.Tag{{Key: aws.String("team"), Value: aws.String("kms")}, {Key: aws.String("cost"), Value: aws.String("1+1=2")}},
			TransitiveTagKeys: []string{"team"},
		})
		if err != nil {
			t.Fatal(err)
		}
		want := &AssumeRoleInput{RoleArn: ptr("arn:aws:iam::111122223333:role/r"), RoleSessionName: ptr("s@example.com"),
			DurationSeconds: ptr[int32](3600), ExternalId: ptr("ext"),
			PolicyArns: []PolicyDescriptorType{{Arn: ptr("arn:aws:iam::aws:policy/ReadOnlyAccess")}, {Arn: ptr("arn:aws:iam::111122223333:policy/p")}},
			Tags:       []Tag{{Key: ptr("team"), Value: ptr("kms")}, {Key: ptr("cost"), Value: ptr("1+1=2")}}, TransitiveTagKeys: []string{"team"}}
		if c := fake.last(t); !reflect.DeepEqual(c.in, want) {
			t.Fatalf("server decoded %s, want %s", dump(c.in), dump(want))
		}
		cr := out.Credentials
		if aws.ToString(cr.AccessKeyId) != "ASIAEXAMPLE000000001" || aws.ToString(cr.SecretAccessKey) != "s3cr3t" ||
			aws.ToString(cr.SessionToken) != "FwoGZXIvYXdzEXAMPLE//+token=" || !aws.ToTime(cr.Expiration).Equal(expires) ||
			aws.ToString(out.AssumedRoleUser.Arn) != "arn:aws:sts::111122223333:assumed-role/r/s@example.com" ||
			aws.ToString(out.AssumedRoleUser.AssumedRoleId) != "AROAEXAMPLE:s@example.com" ||
			aws.ToInt32(out.SessionTokenSize) != 412 || aws.ToInt32(out.SessionTokenUtilization) != 6 {
			t.Fatalf("client parsed %+v %+v", cr, out.AssumedRoleUser)
		}
	})

	for _, tc := range []struct {
		name      string
		call      func() error
		code, msg string
		status    int
		modeled   any
	}{
		{"400 modeled", func() error {
			_, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn"), RoleSessionName: aws.String("s"), Policy: aws.String("{")})
			return err
		}, MalformedPolicyDocument, "The policy is not in the valid JSON format.", 400, new(*ststypes.MalformedPolicyDocumentException)},
		{"403 modeled with the Exception suffix", func() error {
			_, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn"), RoleSessionName: aws.String("denied")})
			return err
		}, RegionDisabledException, "STS is not activated in this region for account:111122223333.", 403, new(*ststypes.RegionDisabledException)},
		{"403 from the signature layer", func() error {
			_, err := client.GetSessionToken(ctx, &sts.GetSessionTokenInput{})
			return err
		}, InvalidClientTokenId, "The security token included in the request is invalid.", 403, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			fake.last(t)
			checkAPIError(t, err, tc.code, tc.msg, tc.status, smithy.FaultUnknown, tc.modeled)
		})
	}
}
