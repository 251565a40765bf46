package policy

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/apierr"
)

// identityExamplePolicies are identity policies as AWS documents them,
// which must all parse.
var identityExamplePolicies = []string{
	// IAM User Guide, reference_policies_variables: a user's own access keys.
	`{"Version":"2012-10-17","Statement":[{"Action":["iam:*AccessKey*"],"Effect":"Allow","Resource":["arn:aws:iam::111122223333:user/${aws:username}"]}]}`,
	// KMS Developer Guide, iam-policies-best-practices: use of keys in two Regions.
	`{
	  "Version": "2012-10-17",
	  "Statement": {
	    "Effect": "Allow",
	    "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
	    "Resource": ["arn:aws:kms:us-west-2:111122223333:key/*", "arn:aws:kms:eu-west-1:111122223333:key/*"]
	  }
	}`,
	// A permissions boundary with a Deny and NotAction.
	`{"Version":"2012-10-17","Statement":[
	  {"Sid":"Boundary","Effect":"Allow","Action":["kms:*","iam:Get*"],"Resource":"*"},
	  {"Sid":"NoDelete","Effect":"Deny","NotAction":"kms:Describe*","NotResource":"arn:aws:kms:*:111122223333:key/*",
	   "Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"},"ForAllValues:StringEquals":{"kms:EncryptionContext:Dept":"IT"}}}]}`,
	// Terraform's aws_iam_policy_document writes an empty Sid on every statement.
	`{"Version":"2012-10-17","Statement":[{"Sid":"","Effect":"Allow","Action":"kms:Decrypt","Resource":"*"},{"Sid":"","Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}]}`,
}

func TestParseIdentityValid(t *testing.T) {
	for i, doc := range identityExamplePolicies {
		d, err := ParseIdentity(doc)
		if err != nil {
			t.Fatalf("example %d: %v", i, err)
		}
		for _, s := range d.Statements {
			if s.Principal != nil || s.NotPrincipal != nil {
				t.Fatalf("example %d: identity statement has a principal", i)
			}
		}
	}
	d, err := ParseIdentity(identityExamplePolicies[0])
	if err != nil {
		t.Fatal(err)
	}
	want := &Document{Version: Version2012, Statements: []Statement{{
		Effect:   "Allow",
		Action:   []string{"iam:*AccessKey*"},
		Resource: []string{"arn:aws:iam::111122223333:user/${aws:username}"},
	}}}
	if !reflect.DeepEqual(d, want) {
		t.Fatalf("got %+v\nwant %+v", d, want)
	}
}

func TestParseIdentityInvalid(t *testing.T) {
	const (
		syntax     = "Syntax errors in policy."
		json       = "This policy contains invalid Json"
		noPrin     = "Policy document should not specify a principal."
		noActions  = "Policy statement must contain actions."
		noRes      = "Policy statement must contain resources."
		vendor     = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
		colons     = "Actions/Condition can contain only one colon."
		sidChars   = "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*"
		sidUnique  = "Statement IDs (SID) in a single policy must be unique."
		resArnForm = `Resource %s must be in ARN format or "*".`
	)
	st := func(body string) string { return `{"Version":"2012-10-17","Statement":[` + body + `]}` }
	tests := []struct {
		name, doc, msg string
	}{
		{"empty", "", json},
		{"not json", "{", json},
		{"trailing garbage", st(`{"Effect":"Allow","Action":"kms:*","Resource":"*"}`) + "x", json},
		{"duplicate key", `{"Statement":[{"Effect":"Allow","Effect":"Allow","Action":"kms:*","Resource":"*"}]}`, json},
		{"null document", "null", syntax},
		{"too deep", `{"Statement":[{"Condition":{"a":{"b":[[[[[[1]]]]]]}}}]}`, syntax},
		{"unknown element", st(`{"Effect":"Allow","Action":"kms:*","Resource":"*","Foo":1}`), syntax},
		{"bad version", `{"Version":"2012-10-18","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`, syntax},
		{"no statement", `{"Version":"2012-10-17"}`, syntax},
		{"lower-case effect", st(`{"Effect":"allow","Action":"kms:*","Resource":"*"}`), syntax},
		{"principal", st(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}`), noPrin},
		{"principal object", st(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}`), noPrin},
		{"not principal", st(`{"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}`), noPrin},
		{"no action", st(`{"Effect":"Allow","Resource":"*"}`), noActions},
		{"no action or resource", st(`{"Effect":"Allow"}`), noActions},
		{"no resource", st(`{"Effect":"Allow","Action":"kms:Decrypt"}`), noRes},
		{"action without vendor", st(`{"Effect":"Allow","Action":"Decrypt","Resource":"*"}`), vendor},
		{"action with two colons", st(`{"Effect":"Allow","Action":"kms:Decrypt:x","Resource":"*"}`), colons},
		{"action wildcard vendor", st(`{"Effect":"Allow","Action":"*:Decrypt","Resource":"*"}`), syntax},
		{"action empty list", st(`{"Effect":"Allow","Action":[],"Resource":"*"}`), syntax},
		{"resource not arn", st(`{"Effect":"Allow","Action":"kms:*","Resource":"sns-topic-name"}`), strings.Replace(resArnForm, "%s", "sns-topic-name", 1)},
		{"resource empty", st(`{"Effect":"Allow","Action":"kms:*","Resource":""}`), strings.Replace(resArnForm, "%s", "", 1)},
		{"resource echo is bounded", st(`{"Effect":"Allow","Action":"kms:*","Resource":"` + strings.Repeat("x", 300) + `"}`), strings.Replace(resArnForm, "%s", strings.Repeat("x", maxEcho)+"...", 1)},
		{"sid with dash", st(`{"Sid":"allow-use","Effect":"Allow","Action":"kms:*","Resource":"*"}`), sidChars},
		{"sid with space", st(`{"Sid":"Allow use","Effect":"Allow","Action":"kms:*","Resource":"*"}`), sidChars},
		{"duplicate sid", st(`{"Sid":"A","Effect":"Allow","Action":"kms:*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"kms:*","Resource":"*"}`), sidUnique},
		{"bad condition operator", st(`{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"StringEqual":{"a:b":"c"}}}`), syntax},
		{"condition without operator", st(`{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"servicecatalog:accountLevel":"self"}}`), syntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseIdentity(tt.doc)
			if err == nil {
				t.Fatalf("ParseIdentity succeeded: %+v", d)
			}
			var e *apierr.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *apierr.Error", err)
			}
			if e.Code != apierr.IAMMalformedPolicyDocument {
				t.Fatalf("code = %q, want %q", e.Code, apierr.IAMMalformedPolicyDocument)
			}
			if e.Message != tt.msg {
				t.Fatalf("message = %q\nwant      %q", e.Message, tt.msg)
			}
		})
	}
}

// The key-policy rules that are KMS's own stay out of identity policies, and
// the IAM rules stay out of key policies.
func TestGrammarsDiffer(t *testing.T) {
	forAll := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"kms:EncryptionContext:k":"v"}}}]}`
	if _, err := ParseIdentity(forAll); err != nil {
		t.Errorf("identity policy with ForAllValues on an encryption context key: %v", err)
	}
	if _, err := Parse(strings.Replace(forAll, `"Effect":"Allow",`, `"Effect":"Allow","Principal":"*",`, 1)); !apierr.Is(err, apierr.MalformedPolicyDocument) {
		t.Errorf("key policy with ForAllValues on an encryption context key: got %v", err)
	}
	sids := `{"Statement":[{"Sid":"Allow use","Effect":"Allow","Principal":"*","Action":"kms:*"},{"Sid":"Allow use","Effect":"Allow","Principal":"*","Action":"kms:*"}]}`
	if _, err := Parse(sids); err != nil {
		t.Errorf("key policy with repeated Sids containing spaces: %v", err)
	}
	if _, err := Parse(`{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`); !apierr.Is(err, apierr.MalformedPolicyDocument) {
		t.Errorf("key policy without a principal: got %v", err)
	}
}
