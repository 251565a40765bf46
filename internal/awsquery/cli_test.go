package awsquery

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

// cliTime reports whether the CLI printed the time want: version 1 prints
// a timestamp as it came on the wire (2026-12-06T10:13:12Z), version 2
// reformats it (2026-12-06T10:13:12+00:00).
func cliTime(printed any, want time.Time) bool {
	s, _ := printed.(string)
	t, err := time.Parse(time.RFC3339, s)
	return err == nil && t.Equal(want)
}

// TestAWSCLI drives the test server with the AWS CLI, a client written
// independently of aws-sdk-go-v2 (botocore parses the XML, decodes policy
// documents and prints errors its own way).
func TestAWSCLI(t *testing.T) {
	awsBin, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("the AWS CLI (aws) is not on PATH; the Debian package awscli provides it")
	}
	if testing.Short() {
		t.Skip("the AWS CLI takes about a second per command")
	}
	iamFake, iamURL := startFake(t, IAM, func(op *Operation, in any) (any, error) {
		switch op.Name {
		case "CreateUser":
			return fakeCreateUser(in.(*CreateUserInput)), nil
		case "ListUsers":
			return &ListUsersOutput{}, nil
		case "GetUserPolicy":
			in := in.(*GetUserPolicyInput)
			return &GetUserPolicyOutput{UserName: *in.UserName, PolicyName: *in.PolicyName, PolicyDocument: policyDoc}, nil
		case "GetUser":
			return nil, apierr.New(NoSuchEntity, "The user with name nobody cannot be found.")
		}
		return nil, fmt.Errorf("unexpected %s", op.Name)
	})
	stsFake, stsURL := startFake(t, STS, func(op *Operation, in any) (any, error) {
		switch op.Name {
		case "GetCallerIdentity":
			return &GetCallerIdentityOutput{UserId: "AIDAEXAMPLE000000001", Account: "111122223333",
				Arn: "arn:aws:iam::111122223333:user/bob"}, nil
		case "AssumeRole":
			return &AssumeRoleOutput{
				Credentials: Credentials{AccessKeyId: "ASIAEXAMPLE000000001", SecretAccessKey: "s3cr3t",
					SessionToken: "token", Expiration: created.Add(time.Hour)},
				AssumedRoleUser: AssumedRoleUser{AssumedRoleId: "AROAEXAMPLE:s", Arn: "arn:aws:sts::111122223333:assumed-role/r/s"},
			}, nil
		}
		return nil, fmt.Errorf("unexpected %s", op.Name)
	})

	// The caller's AWS settings must not leak in; PATH and HOME stay, as a
	// pyenv or pipx install of the CLI finds itself through them.
	env := []string{
		"AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
		"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_MAX_ATTEMPTS=1",
		"AWS_PAGER=",
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	run := func(t *testing.T, endpoint string, args ...string) (stdout, stderr string, exit int) {
		t.Helper()
		cmd := testcmd.Command(t, awsBin, append(args, "--endpoint-url", endpoint, "--output", "json")...)
		cmd.Env = env
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var exitErr *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &exitErr):
			exit = exitErr.ExitCode()
		default:
			t.Fatalf("aws %s: %v", strings.Join(args, " "), err)
		}
		return out.String(), errOut.String(), exit
	}
	runJSON := func(t *testing.T, endpoint string, args ...string) map[string]any {
		t.Helper()
		stdout, stderr, exit := run(t, endpoint, args...)
		if exit != 0 {
			t.Fatalf("aws %s: exit %d: %s", strings.Join(args, " "), exit, stderr)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(stdout), &v); err != nil {
			t.Fatalf("aws %s printed %q: %v", strings.Join(args, " "), stdout, err)
		}
		return v
	}

	t.Run("iam create-user", func(t *testing.T) {
		got := runJSON(t, iamURL, "iam", "create-user", "--user-name", "bob", "--path", "/ops/",
			"--tags", "Key=team,Value=kms", "Key=env,Value=prod")
		c := iamFake.last(t)
		want := &CreateUserInput{UserName: ptr("bob"), Path: ptr("/ops/"),
			Tags: []Tag{{Key: ptr("team"), Value: ptr("kms")}, {Key: ptr("env"), Value: ptr("prod")}}}
		if !reflect.DeepEqual(c.in, want) {
			t.Fatalf("server decoded %s, want %s", dump(c.in), dump(want))
		}
		if c.contentType != "application/x-www-form-urlencoded; charset=utf-8" {
			t.Errorf("Content-Type %q", c.contentType)
		}
		u, _ := got["User"].(map[string]any)
		if !cliTime(u["CreateDate"], created) {
			t.Errorf("aws printed CreateDate %v", u["CreateDate"])
		}
		delete(u, "CreateDate")
		wantOut := map[string]any{"User": map[string]any{
			"Path": "/ops/", "UserName": "bob", "UserId": "AIDAEXAMPLE000000001",
			"Arn":  "arn:aws:iam::111122223333:user/ops/bob",
			"Tags": []any{map[string]any{"Key": "team", "Value": "kms"}, map[string]any{"Key": "env", "Value": "prod"}},
		}}
		if !reflect.DeepEqual(got, wantOut) {
			t.Fatalf("aws printed %v\nwant %v", got, wantOut)
		}
	})

	t.Run("iam list-users, empty", func(t *testing.T) {
		got := runJSON(t, iamURL, "iam", "list-users")
		iamFake.last(t)
		if !reflect.DeepEqual(got, map[string]any{"Users": []any{}}) {
			t.Fatalf("aws printed %v", got)
		}
	})

	t.Run("iam get-user-policy decodes the document", func(t *testing.T) {
		got := runJSON(t, iamURL, "iam", "get-user-policy", "--user-name", "bob", "--policy-name", "p")
		iamFake.last(t)
		var doc any
		if err := json.Unmarshal([]byte(policyDoc), &doc); err != nil {
			t.Fatal(err)
		}
		// botocore percent-decodes and parses policy documents; a document
		// it cannot decode stays a string and fails this comparison.
		if !reflect.DeepEqual(got["PolicyDocument"], doc) {
			t.Fatalf("aws printed PolicyDocument %#v\nwant %#v", got["PolicyDocument"], doc)
		}
	})

	t.Run("iam error", func(t *testing.T) {
		_, stderr, exit := run(t, iamURL, "iam", "get-user", "--user-name", "nobody")
		iamFake.last(t)
		const want = "An error occurred (NoSuchEntity) when calling the GetUser operation: The user with name nobody cannot be found."
		if exit == 0 || !strings.Contains(stderr, want) {
			t.Fatalf("exit %d, stderr %q; want %q", exit, stderr, want)
		}
	})

	t.Run("sts get-caller-identity", func(t *testing.T) {
		got := runJSON(t, stsURL, "sts", "get-caller-identity")
		stsFake.last(t)
		want := map[string]any{"UserId": "AIDAEXAMPLE000000001", "Account": "111122223333", "Arn": "arn:aws:iam::111122223333:user/bob"}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("aws printed %v", got)
		}
	})

	t.Run("sts assume-role", func(t *testing.T) {
		got := runJSON(t, stsURL, "sts", "assume-role", "--role-arn", "arn:aws:iam::111122223333:role/r",
			"--role-session-name", "sess", "--duration-seconds", "900", "--tags", "Key=team,Value=kms",
			"--transitive-tag-keys", "team", "--policy-arns", "arn=arn:aws:iam::aws:policy/ReadOnlyAccess")
		want := &AssumeRoleInput{RoleArn: ptr("arn:aws:iam::111122223333:role/r"), RoleSessionName: ptr("sess"),
			DurationSeconds: ptr[int32](900), Tags: []Tag{{Key: ptr("team"), Value: ptr("kms")}}, TransitiveTagKeys: []string{"team"},
			PolicyArns: []PolicyDescriptorType{{Arn: ptr("arn:aws:iam::aws:policy/ReadOnlyAccess")}}}
		if c := stsFake.last(t); !reflect.DeepEqual(c.in, want) {
			t.Fatalf("server decoded %s, want %s", dump(c.in), dump(want))
		}
		cr, _ := got["Credentials"].(map[string]any)
		if cr["AccessKeyId"] != "ASIAEXAMPLE000000001" || !cliTime(cr["Expiration"], created.Add(time.Hour)) {
			t.Fatalf("aws printed %v", got)
		}
	})
}
