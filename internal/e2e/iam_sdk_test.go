package e2e

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/trent-kms/trent/internal/awsquery"
	iamsvc "github.com/trent-kms/trent/internal/iam"
	"github.com/trent-kms/trent/internal/seal"
	"github.com/trent-kms/trent/internal/server"
	"github.com/trent-kms/trent/internal/sigv4"
	"github.com/trent-kms/trent/internal/testenv"
)

// queryEnv serves IAM and STS over HTTP with the real server, SigV4
// verifier, Query codec and iam.Service, and no authorization: the
// harness stands in for the dispatch the app wires (which authorizes each
// operation first), so that what is tested here is the wire behaviour of
// the IAM and STS operations as SDK clients see it.
type queryEnv struct {
	url     string
	account string
	root    aws.Credentials
	svc     *iamsvc.Service
}

type unauthorized struct{ s *iamsvc.Service }

func (u unauthorized) ServeQuery(ctx context.Context, r *server.QueryRequest, op *awsquery.Operation, in any) (any, error) {
	req := &iamsvc.Request{Caller: r.Caller, RequestID: r.RequestID, SourceIP: r.SourceIP, Region: r.Region}
	if r.Service == "sts" {
		return u.s.CallSTS(ctx, req, op, in)
	}
	return u.s.CallIAM(ctx, req, op, in)
}

func startQueryEnv(t *testing.T) *queryEnv {
	t.Helper()
	ctx := context.Background()
	db := testenv.OpenStore(t)
	raw, err := seal.GenerateRootKey()
	if err != nil {
		t.Fatal(err)
	}
	root, err := seal.NewRootKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := iamsvc.New(ctx, iamsvc.Config{Store: db, Root: root, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	account, id, secret, err := svc.CreateAccount(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	v := &sigv4.Verifier{Services: []string{"iam", "sts"}, Lookup: svc.Lookup, LookupSession: svc.LookupSession}
	srv := server.New(nil, v, log)
	srv.ServeQueryWith(unauthorized{svc})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &queryEnv{url: ts.URL, account: account, svc: svc,
		root: aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}}
}

func (e *queryEnv) clients(c aws.Credentials) (*iam.Client, *sts.Client) {
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.StaticCredentialsProvider{Value: c}, HTTPClient: testenv.HTTPClient(nil)}
	return iam.NewFromConfig(cfg, func(o *iam.Options) { o.BaseEndpoint = aws.String(e.url) }),
		sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(e.url) })
}

func TestIAMAndSTSWithTheSDK(t *testing.T) {
	e := startQueryEnv(t)
	ctx := context.Background()
	rootIAM, rootSTS := e.clients(e.root)

	id, err := rootSTS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(id.Account) != e.account || aws.ToString(id.Arn) != "arn:aws:iam::"+e.account+":root" {
		t.Fatalf("root identity %+v", id)
	}

	if _, err := rootIAM.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob"),
		Tags: []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String("kms")}}}); err != nil {
		t.Fatal(err)
	}
	var exists *iamtypes.EntityAlreadyExistsException
	if _, err := rootIAM.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("BOB")}); !errors.As(err, &exists) {
		t.Fatalf("duplicate user: %v", err)
	}
	var missing *iamtypes.NoSuchEntityException
	if _, err := rootIAM.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("nobody")}); !errors.As(err, &missing) ||
		aws.ToString(missing.Message) != "The user with name nobody cannot be found." {
		t.Fatalf("missing user: %v", err)
	}
	key, err := rootIAM.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")})
	if err != nil {
		t.Fatal(err)
	}
	bob := aws.Credentials{AccessKeyID: aws.ToString(key.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(key.AccessKey.SecretAccessKey)}
	bobIAM, bobSTS := e.clients(bob)
	me, err := bobIAM.GetUser(ctx, &iam.GetUserInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(me.User.UserName) != "bob" || len(me.User.Tags) != 1 {
		t.Fatalf("bob's GetUser %+v", me.User)
	}

	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + e.account + `:user/bob"},"Action":"sts:AssumeRole"}]}`
	if _, err := rootIAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("deploy"), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatal(err)
	}
	role, err := rootIAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("deploy")})
	if err != nil {
		t.Fatal(err)
	}
	// IAM sends policy documents percent-encoded; the SDK hands them over so.
	if doc, err := url.QueryUnescape(aws.ToString(role.Role.AssumeRolePolicyDocument)); err != nil || doc != trust {
		t.Fatalf("trust policy %q %v", doc, err)
	}
	if _, err := rootIAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("deploy"), PolicyName: aws.String("kms"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}

	assumed, err := bobSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: role.Role.Arn, RoleSessionName: aws.String("ci")})
	if err != nil {
		t.Fatal(err)
	}
	c := assumed.Credentials
	session := aws.Credentials{AccessKeyID: aws.ToString(c.AccessKeyId), SecretAccessKey: aws.ToString(c.SecretAccessKey), SessionToken: aws.ToString(c.SessionToken)}
	_, sessSTS := e.clients(session)
	sid, err := sessSTS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "arn:aws:sts::" + e.account + ":assumed-role/deploy/ci"; aws.ToString(sid.Arn) != want || aws.ToString(sid.Arn) != aws.ToString(assumed.AssumedRoleUser.Arn) {
		t.Fatalf("session identity %+v", sid)
	}

	// The root cannot assume a role; the trust policy keeps others out.
	if _, err := rootSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: role.Role.Arn, RoleSessionName: aws.String("x1")}); apiCode(err) != "AccessDenied" {
		t.Fatalf("root AssumeRole: %v", err)
	}

	sim, err := rootIAM.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: role.Role.Arn,
		ActionNames: []string{"kms:Encrypt", "kms:Decrypt"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(sim.EvaluationResults) != 2 || sim.EvaluationResults[0].EvalDecision != iamtypes.PolicyEvaluationDecisionTypeAllowed ||
		sim.EvaluationResults[1].EvalDecision != iamtypes.PolicyEvaluationDecisionTypeImplicitDeny {
		t.Fatalf("simulation %+v", sim.EvaluationResults)
	}

	// A deactivated key stops working at once.
	if _, err := rootIAM.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("bob"),
		AccessKeyId: key.AccessKey.AccessKeyId, Status: iamtypes.StatusTypeInactive}); err != nil {
		t.Fatal(err)
	}
	if _, err := bobSTS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); apiCode(err) != "InvalidClientTokenId" {
		t.Fatalf("inactive key: %v", err)
	}
	// A session of a deleted role is refused.
	if _, err := rootIAM.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("deploy"), PolicyName: aws.String("kms")}); err != nil {
		t.Fatal(err)
	}
	if _, err := rootIAM.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("deploy")}); err != nil {
		t.Fatal(err)
	}
	if _, err := sessSTS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); apiCode(err) != "InvalidClientTokenId" {
		t.Fatalf("session of a deleted role: %v", err)
	}
}
