package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/testenv"
)

// lastEvent is the newest of evs named name, or nil.
func lastEvent(evs []map[string]any, name string) map[string]any {
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i]["eventName"] == name {
			return evs[i]
		}
	}
	return nil
}

// TestAuditIAMParameters: IAM and STS events show what the request sent
// and what it made, as CloudTrail logs them (requestParameters,
// responseElements in CloudTrail's case), and never a secret: not
// CreateAccessKey's SecretAccessKey, not AssumeRole's credentials.
func TestAuditIAMParameters(t *testing.T) {
	defer catch(t)
	e := testenv.Start(t)
	ctx := t.Context()
	admin := iamClient(e, e.AccessKeyID, e.Secret)
	doc := policyDoc(`{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}`)
	// First, so that the CreateUser event checked below is params-user's.
	_, id, secret := newUser(t, e, "params-assumer", policyDoc(`{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}`))
	must(admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("params-user"),
		Tags: []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String("audit")}}}))
	must(admin.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("params-policy"), PolicyDocument: aws.String(doc)}))
	must(admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("params-role"),
		AssumeRolePolicyDocument: aws.String(policyDoc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + e.Account + `:root"},"Action":"sts:AssumeRole"}`))}))
	roleARN := "arn:aws:iam::" + e.Account + ":role/params-role"
	session := must(stsClient(e, id, secret, "").AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("params-session")}))

	evs := auditEvents(t, e.DataDir)
	for _, tc := range []struct {
		event string
		path  []string
		want  any
	}{
		{"CreateUser", []string{"requestParameters", "userName"}, "params-user"},
		{"CreateUser", []string{"responseElements", "user", "userName"}, "params-user"},
		{"CreatePolicy", []string{"requestParameters", "policyName"}, "params-policy"},
		{"CreatePolicy", []string{"requestParameters", "policyDocument"}, doc},
		{"CreatePolicy", []string{"responseElements", "policy", "policyName"}, "params-policy"},
		{"CreateRole", []string{"requestParameters", "roleName"}, "params-role"},
		{"CreateAccessKey", []string{"requestParameters", "userName"}, "params-assumer"},
		{"AssumeRole", []string{"requestParameters", "roleArn"}, roleARN},
		{"AssumeRole", []string{"requestParameters", "roleSessionName"}, "params-session"},
		{"AssumeRole", []string{"responseElements", "assumedRoleUser", "arn"}, aws.ToString(session.AssumedRoleUser.Arn)},
		{"AssumeRole", []string{"responseElements", "credentials"}, nil},
		{"CreateAccessKey", []string{"responseElements", "accessKey", "secretAccessKey"}, nil},
	} {
		ev := lastEvent(evs, tc.event)
		if ev == nil {
			t.Fatalf("no %s event", tc.event)
		}
		if got := field(ev, tc.path...); got != tc.want {
			t.Errorf("%s %s = %v, want %v", tc.event, strings.Join(tc.path, "."), got, tc.want)
		}
	}
	tags, _ := field(lastEvent(evs, "CreateUser"), "requestParameters", "tags").([]any)
	if len(tags) != 1 || field(tags[0].(map[string]any), "key") != "team" {
		t.Errorf("CreateUser requestParameters.tags = %v", tags)
	}

	all := auditBytes(t, e.DataDir)
	for name, s := range map[string]string{
		"user secret":    secret,
		"session secret": aws.ToString(session.Credentials.SecretAccessKey),
		"session token":  aws.ToString(session.Credentials.SessionToken),
	} {
		for enc, b := range map[string][]byte{
			"raw": []byte(s), "base64": []byte(base64.StdEncoding.EncodeToString([]byte(s))), "hex": []byte(hex.EncodeToString([]byte(s))),
		} {
			if bytes.Contains(all, b) {
				t.Errorf("the audit files hold the %s (%s)", name, enc)
			}
		}
	}
	if !bytes.Contains(all, []byte(`"roleSessionName":"params-session"`)) {
		t.Error("the audit files do not hold AssumeRole's parameters: the scan sees nothing")
	}
}

// TestAuditOversizedRequests: input that makes a large event — refused
// input from a caller without permissions, or a valid policy document
// padded with whitespace to IAM's 131,072 characters — is answered as
// AWS answers it and yields exactly one event each, never a 500 and no
// event; what does not fit is left out as CloudTrail leaves it out.
func TestAuditOversizedRequests(t *testing.T) {
	defer catch(t)
	e := testenv.Start(t)
	ctx := t.Context()
	admin := iamClient(e, e.AccessKeyID, e.Secret)
	_, id, secret := newUser(t, e, "oversized-nobody", "")
	nobody := iamClient(e, id, secret)
	huge := strings.Repeat("a", 300_000)
	// Valid: a small policy and newlines up to the model's 131,072
	// characters; each newline is two bytes in the event's JSON.
	small := policyDoc(`{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}`)
	padded := small + strings.Repeat("\n", 131_072-len(small))

	before := len(auditEvents(t, e.DataDir))
	for _, tc := range []struct {
		name, event string
		call        func() error
		code        string // "" for success
		omitted     string // the event's member left out, if any
	}{
		{
			name: "LookupEvents with a 300,000-character value", event: "LookupEvents",
			call: func() error {
				_, err := cloudTrailClient(e, id, secret).LookupEvents(ctx, &cloudtrail.LookupEventsInput{
					LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String(huge)}}})
				return err
			},
			code: "InvalidLookupAttributesException",
		},
		{
			name: "CreateUser of a 300,000-character name, no permissions", event: "CreateUser",
			call: func() error {
				_, err := nobody.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(huge)})
				return err
			},
			code: "AccessDenied", omitted: "requestParameters",
		},
		{
			name: "PutUserPolicy of a padded document", event: "PutUserPolicy",
			call: func() error {
				_, err := admin.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("oversized-nobody"),
					PolicyName: aws.String("padded"), PolicyDocument: aws.String(padded)})
				return err
			},
			omitted: "requestParameters",
		},
		{
			name: "CreatePolicy of a padded document", event: "CreatePolicy",
			call: func() error {
				_, err := admin.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("padded"), PolicyDocument: aws.String(padded)})
				return err
			},
			omitted: "requestParameters",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if got := errCode(err); tc.code == "" && got != allowed || tc.code != "" && got != tc.code {
				t.Fatalf("answered %v, want %q", err, tc.code)
			}
			evs := auditEvents(t, e.DataDir)
			if len(evs) != before+1 {
				t.Fatalf("%d events for one request", len(evs)-before)
			}
			ev := evs[len(evs)-1]
			before = len(evs)
			if ev["eventName"] != tc.event {
				t.Fatalf("event %v, want %s", ev["eventName"], tc.event)
			}
			if msg, _ := ev["errorMessage"].(string); len(msg) > audit.MaxErrorMessageBytes {
				t.Errorf("errorMessage of %d bytes", len(msg))
			}
			if tc.code != "" && ev["errorCode"] != tc.code {
				t.Errorf("errorCode %v, want %s", ev["errorCode"], tc.code)
			}
			if tc.omitted != "" && field(ev, tc.omitted, "omitted") != true {
				t.Errorf("%s = %.200v, want it omitted", tc.omitted, ev[tc.omitted])
			}
			if tc.omitted == "" && ev["requestParameters"] != nil {
				t.Errorf("requestParameters = %.200v, want null for refused input", ev["requestParameters"])
			}
		})
	}
}
