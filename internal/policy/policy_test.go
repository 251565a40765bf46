package policy

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/apierr"
)

// defaultPolicyAWS is the default key policy as `aws kms get-key-policy`
// prints it in AWS's documentation (KMS Developer Guide, "Viewing keys with
// the CLI"; KMS API Reference, GetKeyPolicy example), for account
// 111122223333.
const defaultPolicyAWS = `{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::111122223333:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}`

func TestDefaultMatchesAWS(t *testing.T) {
	if got := Default("111122223333"); got != defaultPolicyAWS {
		t.Fatalf("Default differs from AWS's text:\ngot:\n%s\nwant:\n%s", got, defaultPolicyAWS)
	}
}

func TestDefaultParses(t *testing.T) {
	d, err := Parse(Default("123456789012"))
	if err != nil {
		t.Fatal(err)
	}
	want := &Document{
		Version: "2012-10-17",
		ID:      "key-default-1",
		Statements: []Statement{{
			Sid:       "Enable IAM User Permissions",
			Effect:    "Allow",
			Principal: map[string][]string{"AWS": {"arn:aws:iam::123456789012:root"}},
			Action:    []string{"kms:*"},
			Resource:  []string{"*"},
		}},
	}
	if !reflect.DeepEqual(d, want) {
		t.Fatalf("got %+v\nwant %+v", d, want)
	}
}

func TestDefaultEscapesAccount(t *testing.T) {
	// A bad account must not change the document's structure.
	doc := Default(`1" }, "NotPrincipal" : { "AWS" : "*`)
	if !json.Valid([]byte(doc)) {
		t.Fatalf("Default produced invalid JSON: %s", doc)
	}
	var v struct{ Statement []map[string]any }
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatal(err)
	}
	if _, ok := v.Statement[0]["NotPrincipal"]; ok {
		t.Fatal("account argument injected a NotPrincipal element")
	}
}

// stmt wraps statement bodies in a 2012-10-17 document.
func stmt(bodies ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(bodies, ",") + `]}`
}

const allowRoot = `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}`

func TestParseValid(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want *Document
	}{
		{
			name: "principal star and single statement object",
			doc:  `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}}`,
			want: &Document{Statements: []Statement{{
				Effect:    "Allow",
				Principal: map[string][]string{"AWS": {"*"}},
				Action:    []string{"kms:Decrypt"},
				Resource:  []string{"*"},
			}}},
		},
		{
			name: "terraform style lists",
			doc: `{
			  "Version": "2012-10-17",
			  "Id": "key-policy-1",
			  "Statement": [
			    {
			      "Sid": "Allow use of the key",
			      "Effect": "Allow",
			      "Principal": {"AWS": ["arn:aws:iam::111122223333:role/admin", "arn:aws:iam::111122223333:user/path/to/alice", "444455556666"]},
			      "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
			      "Resource": ["*"]
			    },
			    {
			      "Effect": "Allow",
			      "Principal": {"Service": "logs.us-east-1.amazonaws.com"},
			      "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
			      "Resource": "*",
			      "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:us-east-1:111122223333:*"}}
			    }
			  ]
			}`,
			want: &Document{
				Version: "2012-10-17",
				ID:      "key-policy-1",
				Statements: []Statement{
					{
						Sid:       "Allow use of the key",
						Effect:    "Allow",
						Principal: map[string][]string{"AWS": {"arn:aws:iam::111122223333:role/admin", "arn:aws:iam::111122223333:user/path/to/alice", "444455556666"}},
						Action:    []string{"kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"},
						Resource:  []string{"*"},
					},
					{
						Effect:    "Allow",
						Principal: map[string][]string{"Service": {"logs.us-east-1.amazonaws.com"}},
						Action:    []string{"kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"},
						Resource:  []string{"*"},
						Condition: map[string]map[string][]string{"ArnLike": {"kms:EncryptionContext:aws:logs:arn": {"arn:aws:logs:us-east-1:111122223333:*"}}},
					},
				},
			},
		},
		{
			name: "deny with NotPrincipal and bool condition",
			doc: stmt(allowRoot, `{"Sid":"DenyInsecure","Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:root","arn:aws:sts::111122223333:assumed-role/Ops/alice@example.com"]},
				"NotAction":"kms:Describe*","NotResource":"arn:aws:kms:us-east-1:111122223333:key/other","Condition":{"Bool":{"aws:SecureTransport":false}}}`),
			want: &Document{Version: "2012-10-17", Statements: []Statement{
				{Effect: "Allow", Principal: map[string][]string{"AWS": {"arn:aws:iam::111122223333:root"}}, Action: []string{"kms:*"}, Resource: []string{"*"}},
				{
					Sid:          "DenyInsecure",
					Effect:       "Deny",
					NotPrincipal: map[string][]string{"AWS": {"arn:aws:iam::111122223333:root", "arn:aws:sts::111122223333:assumed-role/Ops/alice@example.com"}},
					NotAction:    []string{"kms:Describe*"},
					NotResource:  []string{"arn:aws:kms:us-east-1:111122223333:key/other"},
					Condition:    map[string]map[string][]string{"Bool": {"aws:SecureTransport": {"false"}}},
				},
			}},
		},
		{
			name: "conditions with lists bools and numbers",
			doc: stmt(`{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:CreateGrant","Resource":"*","Condition":{
				"StringEquals":{"kms:CallerAccount":"111122223333","kms:ViaService":["ec2.us-east-1.amazonaws.com","rds.us-east-1.amazonaws.com"]},
				"Bool":{"kms:GrantIsForAWSResource":true},
				"NumericLessThanEquals":{"kms:RotationPeriodInDays":[365, 1e3, -0.5]},
				"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":["Department","Project"]},
				"ForAllValues:StringLike":{"kms:GrantOperations":["Decrypt","Encrypt*"]},
				"StringEqualsIfExists":{"kms:EncryptionContext:Department":"IT"},
				"Null":{"kms:BypassPolicyLockoutSafetyCheck":"true"},
				"IpAddress":{"aws:SourceIp":["192.0.2.0/24","2001:DB8::/32"]},
				"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}}`),
			want: &Document{Version: "2012-10-17", Statements: []Statement{{
				Effect:    "Allow",
				Principal: map[string][]string{"AWS": {"*"}},
				Action:    []string{"kms:CreateGrant"},
				Resource:  []string{"*"},
				Condition: map[string]map[string][]string{
					"StringEquals":             {"kms:CallerAccount": {"111122223333"}, "kms:ViaService": {"ec2.us-east-1.amazonaws.com", "rds.us-east-1.amazonaws.com"}},
					"Bool":                     {"kms:GrantIsForAWSResource": {"true"}},
					"NumericLessThanEquals":    {"kms:RotationPeriodInDays": {"365", "1e3", "-0.5"}},
					"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": {"Department", "Project"}},
					"ForAllValues:StringLike":  {"kms:GrantOperations": {"Decrypt", "Encrypt*"}},
					"StringEqualsIfExists":     {"kms:EncryptionContext:Department": {"IT"}},
					"Null":                     {"kms:BypassPolicyLockoutSafetyCheck": {"true"}},
					"IpAddress":                {"aws:SourceIp": {"192.0.2.0/24", "2001:DB8::/32"}},
					"DateLessThan":             {"aws:CurrentTime": {"2030-01-01T00:00:00Z"}},
				},
			}}},
		},
		{
			// AWS accepts statements without Action or Resource; they have no effect.
			name: "version 2008 and no action or resource",
			doc:  `{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"}}]}`,
			want: &Document{Version: "2008-10-17", Statements: []Statement{{
				Effect:    "Allow",
				Principal: map[string][]string{"AWS": {"111122223333"}},
			}}},
		},
		{
			name: "other principal types and an empty condition",
			doc: stmt(`{"Effect":"Allow","Principal":{
				"Federated":["cognito-identity.amazonaws.com","arn:aws:iam::111122223333:saml-provider/Okta","arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"],
				"CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be",
				"Service":["cloudtrail.amazonaws.com","delivery.logs.amazonaws.com"],
				"AWS":["arn:aws-us-gov:iam::111122223333:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling","arn:aws:sts::111122223333:federated-user/bob"]},
				"Action":["kms:Decrypt","*","s3:GetObject"],"Resource":"arn:aws:kms:*:111122223333:key/*","Condition":{}}`),
			want: &Document{Version: "2012-10-17", Statements: []Statement{{
				Effect: "Allow",
				Principal: map[string][]string{
					"Federated":     {"cognito-identity.amazonaws.com", "arn:aws:iam::111122223333:saml-provider/Okta", "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},
					"CanonicalUser": {"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},
					"Service":       {"cloudtrail.amazonaws.com", "delivery.logs.amazonaws.com"},
					"AWS":           {"arn:aws-us-gov:iam::111122223333:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling", "arn:aws:sts::111122223333:federated-user/bob"},
				},
				Action:   []string{"kms:Decrypt", "*", "s3:GetObject"},
				Resource: []string{"arn:aws:kms:*:111122223333:key/*"},
			}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse(tt.doc)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(d, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", d, tt.want)
			}
		})
	}
}

// AWS's examples reuse a Sid within one key policy; IAM's unique-Sid rule is
// not a KMS rule.
func TestParseDuplicateSids(t *testing.T) {
	doc := stmt(`{"Sid":"A","Effect":"Allow","Principal":"*","Action":"kms:Encrypt"}`, `{"Sid":"A","Effect":"Deny","Principal":"*","Action":"kms:Encrypt"}`)
	if _, err := Parse(doc); err != nil {
		t.Fatal(err)
	}
}

// Key policies as AWS documents them, which must all parse.
var awsExamplePolicies = []string{
	Default("111122223333"),
	// The console's default policy (KMS Developer Guide, key-policy-default).
	`{
	  "Id": "key-consolepolicy-3",
	  "Version": "2012-10-17",
	  "Statement": [
	    {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
	    {"Sid": "Allow access for Key Administrators", "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:role/ExampleAdminRole"]},
	     "Action": ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:RotateKeyOnDemand"],
	     "Resource": "*"},
	    {"Sid": "Allow attachment of persistent resources", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/ExampleUserRole"},
	     "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"], "Resource": "*",
	     "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}}
	  ]
	}`,
	// The EBS AWS managed key policy pattern (conditions-kms, kms:CallerAccount).
	stmt(`{"Sid": "Allow access through EBS for all principals in the account that are authorized to use EBS", "Effect": "Allow", "Principal": {"AWS": "*"},
	  "Condition": {"StringEquals": {"kms:CallerAccount": "111122223333", "kms:ViaService": "ec2.us-west-2.amazonaws.com"}},
	  "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"], "Resource": "*"}`),
}

func TestParseAWSExamples(t *testing.T) {
	for i, doc := range awsExamplePolicies {
		if _, err := Parse(doc); err != nil {
			t.Errorf("example %d: %v", i, err)
		}
	}
}

func TestParseInvalid(t *testing.T) {
	principal := func(p string) string {
		return stmt(`{"Effect":"Allow","Principal":` + p + `,"Action":"kms:*","Resource":"*"}`)
	}
	withAction := func(a string) string {
		return stmt(`{"Effect":"Allow","Principal":"*","Action":` + a + `}`)
	}
	withResource := func(r string) string {
		return stmt(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":` + r + `}`)
	}
	withCondition := func(c string) string {
		return stmt(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":` + c + `}`)
	}
	const (
		mal   = apierr.MalformedPolicyDocument
		limit = apierr.LimitExceeded
	)
	tests := []struct {
		name string
		doc  string
		code string
		msg  string // exact message when it starts with "=", else a substring
	}{
		{"too large", stmt(allowRoot) + strings.Repeat(" ", MaxSize), limit, "exceeds the maximum key policy size of 32768 bytes"},
		{"empty", "", mal, "the document is empty"},
		{"blank", " \n\t", mal, "the document is empty"},
		{"not json", "Version: 2012-10-17", mal, "not valid JSON (syntax error at byte offset"},
		{"truncated", `{"Statement":[`, mal, "not valid JSON"},
		{"trailing garbage", stmt(allowRoot) + " x", mal, "not valid JSON"},
		{"two documents", stmt(allowRoot) + stmt(allowRoot), mal, "not valid JSON"},
		{"stray close", `}`, mal, "not valid JSON"},
		{"top level array", `[` + allowRoot + `]`, mal, "=Policy document must be a JSON object."},
		{"top level string", `"x"`, mal, "=Policy document must be a JSON object."},
		{"top level null", `null`, mal, "=Policy document must be a JSON object."},
		{"duplicate key", `{"Effect":"Allow","Statement":[{"Effect":"Allow","Effect":"Deny","Principal":"*","Action":"*"}]}`, mal, `=Policy document contains the key "Effect" more than once in the same object.`},
		{"too deep", `{"Statement":[{"Condition":{"a":{"b":[[[[[[1]]]]]]}}}]}`, mal, "=Policy document is nested more than 10 levels deep."},
		{"brackets in strings do not count", `{"Statement":"[[[[[[[[[[[[{{{{{{{{{{{\"["}`, mal, "The Statement element must be"},
		{"unknown top element", `{"Version":"2012-10-17","Statement":[` + allowRoot + `],"Comment":"x"}`, mal, `=Policy document contains an unknown element "Comment".`},
		{"lower-case element", `{"statement":[` + allowRoot + `]}`, mal, `unknown element "statement"`},
		{"bad version", `{"Version":"2012-10-18","Statement":[` + allowRoot + `]}`, mal, `=Policy document has an unsupported Version "2012-10-18". Use "2012-10-17" or "2008-10-17".`},
		{"empty version", `{"Version":"","Statement":[` + allowRoot + `]}`, mal, `unsupported Version ""`},
		{"numeric version", `{"Version":2012,"Statement":[` + allowRoot + `]}`, mal, "=The Version element of the policy document must be a string."},
		{"numeric id", `{"Id":1,"Statement":[` + allowRoot + `]}`, mal, "=The Id element of the policy document must be a string."},
		{"no statement", `{"Version":"2012-10-17"}`, mal, "=Policy document is missing the Statement element."},
		{"empty statement list", `{"Statement":[]}`, mal, "=Policy document must contain at least one statement."},
		{"statement string", `{"Statement":"x"}`, mal, "=The Statement element must be a statement object or a list of statement objects."},
		{"statement null", `{"Statement":null}`, mal, "The Statement element must be"},
		{"statement list of non-objects", `{"Statement":[` + allowRoot + `,1]}`, mal, "The Statement element must be"},
		{"unknown statement element", stmt(`{"Effect":"Allow","Principals":"*","Action":"*"}`), mal, `=Policy contains a statement with an unknown element "Principals".`},
		{"numeric sid", stmt(`{"Sid":1,"Effect":"Allow","Principal":"*","Action":"*"}`), mal, "=Policy contains a statement whose Sid element is not a string."},
		{"no effect", stmt(`{"Principal":"*","Action":"*"}`), mal, "=Policy contains a statement without an Effect element."},
		{"lower-case effect", stmt(`{"Effect":"allow","Principal":"*","Action":"*"}`), mal, `=Policy contains a statement with an invalid Effect "allow". The Effect must be "Allow" or "Deny".`},
		{"null effect", stmt(`{"Effect":null,"Principal":"*","Action":"*"}`), mal, "=Policy contains a statement whose Effect element is not a string."},
		{"no principal", stmt(`{"Effect":"Allow","Action":"kms:*","Resource":"*"}`), mal, "=Policy contains a statement without a Principal or NotPrincipal element. Each statement in a key policy must specify a principal."},
		{"principal and notprincipal", stmt(`{"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"*"}`), mal, "=Policy contains a statement with both Principal and NotPrincipal elements. Use only one of them."},
		{"principal other string", principal(`"arn:aws:iam::111122223333:root"`), mal, "=" + msgInvalidPrincipals},
		{"principal empty object", principal(`{}`), mal, "=" + msgInvalidPrincipals},
		{"principal number", principal(`1`), mal, "=" + msgInvalidPrincipals},
		{"principal empty list", principal(`{"AWS":[]}`), mal, "=" + msgInvalidPrincipals},
		{"principal unknown type", principal(`{"User":"alice"}`), mal, "=" + msgInvalidPrincipals},
		{"principal short account", principal(`{"AWS":"arn:aws:iam::1111:root"}`), mal, "=" + msgInvalidPrincipals},
		{"principal 11-digit id", principal(`{"AWS":"11112222333"}`), mal, "=" + msgInvalidPrincipals},
		{"principal unique id", principal(`{"AWS":"AIDACKCEVSQ6C2EXAMPLE"}`), mal, "=" + msgInvalidPrincipals},
		{"principal group", principal(`{"AWS":"arn:aws:iam::111122223333:group/devs"}`), mal, "=" + msgInvalidPrincipals},
		{"principal wildcard arn", principal(`{"AWS":"arn:aws:iam::111122223333:role/*"}`), mal, "=" + msgInvalidPrincipals},
		{"principal region in arn", principal(`{"AWS":"arn:aws:iam:us-east-1:111122223333:root"}`), mal, "=" + msgInvalidPrincipals},
		{"principal bad partition", principal(`{"AWS":"arn:gcp:iam::111122223333:root"}`), mal, "=" + msgInvalidPrincipals},
		{"principal empty role name", principal(`{"AWS":"arn:aws:iam::111122223333:role/"}`), mal, "=" + msgInvalidPrincipals},
		{"principal session without name", principal(`{"AWS":"arn:aws:sts::111122223333:assumed-role/Ops"}`), mal, "=" + msgInvalidPrincipals},
		{"principal list with number", principal(`{"AWS":["*",1]}`), mal, "=" + msgInvalidPrincipals},
		{"service star", principal(`{"Service":"*"}`), mal, "=" + msgInvalidPrincipals},
		{"service one label", principal(`{"Service":"logs"}`), mal, "=" + msgInvalidPrincipals},
		{"service arn", principal(`{"Service":"arn:aws:iam::111122223333:root"}`), mal, "=" + msgInvalidPrincipals},
		{"canonical user short", principal(`{"CanonicalUser":"79a59df9"}`), mal, "=" + msgInvalidPrincipals},
		{"federated role arn", principal(`{"Federated":"arn:aws:iam::111122223333:role/x"}`), mal, "=" + msgInvalidPrincipals},
		{"notprincipal invalid", stmt(`{"Effect":"Deny","NotPrincipal":"x","Action":"*"}`), mal, "=" + msgInvalidPrincipals},
		{"action and notaction", stmt(`{"Effect":"Allow","Principal":"*","Action":"*","NotAction":"kms:Decrypt"}`), mal, "=Policy contains a statement with both Action and NotAction elements. Use only one of them."},
		{"action empty list", withAction(`[]`), mal, "=Policy contains a statement whose Action element is not a string or a non-empty list of strings."},
		{"action number", withAction(`5`), mal, "Action element is not a string"},
		{"action no prefix", withAction(`"Decrypt"`), mal, `=Policy contains a statement with an invalid action "Decrypt".`},
		{"action empty", withAction(`["kms:Decrypt",""]`), mal, `invalid action ""`},
		{"action wildcard prefix", withAction(`"*:Decrypt"`), mal, `invalid action "*:Decrypt"`},
		{"action empty name", withAction(`"kms:"`), mal, `invalid action "kms:"`},
		{"action space", withAction(`"kms:Re Encrypt"`), mal, `invalid action "kms:Re Encrypt"`},
		{"resource and notresource", stmt(`{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","NotResource":"*"}`), mal, "=Policy contains a statement with both Resource and NotResource elements. Use only one of them."},
		{"resource not arn", withResource(`"key/1234"`), mal, `=Policy contains a statement with an invalid resource "key/1234".`},
		{"resource short arn", withResource(`["*","arn:aws:kms"]`), mal, `invalid resource "arn:aws:kms"`},
		{"resource object", withResource(`{"a":"b"}`), mal, "Resource element is not a string"},
		{"condition string", withCondition(`"x"`), mal, "=Policy contains a statement whose Condition element is not an object."},
		{"condition unknown operator", withCondition(`{"StringEqual":{"kms:CallerAccount":"111122223333"}}`), mal, `=Policy contains a statement with an invalid condition operator "StringEqual".`},
		{"condition lower-case operator", withCondition(`{"stringequals":{"a:b":"c"}}`), mal, `invalid condition operator "stringequals"`},
		{"condition NullIfExists", withCondition(`{"NullIfExists":{"a:b":"true"}}`), mal, `invalid condition operator "NullIfExists"`},
		{"condition set Null", withCondition(`{"ForAnyValue:Null":{"a:b":"true"}}`), mal, `invalid condition operator "ForAnyValue:Null"`},
		{"condition bare set operator", withCondition(`{"ForAllValues:":{"a:b":"c"}}`), mal, `invalid condition operator "ForAllValues:"`},
		{"condition double set operator", withCondition(`{"ForAnyValue:ForAllValues:StringEquals":{"a:b":"c"}}`), mal, "invalid condition operator"},
		{"condition block not object", withCondition(`{"StringEquals":"x"}`), mal, `=Policy contains a statement whose condition operator "StringEquals" is not followed by an object of condition keys.`},
		{"condition empty key", withCondition(`{"StringEquals":{"":"x"}}`), mal, "=Policy contains a statement with an empty condition key."},
		{"condition null value", withCondition(`{"StringEquals":{"a:b":null}}`), mal, `=Policy contains a statement with an invalid value for condition key "a:b". A condition value must be a string, boolean or number, or a non-empty list of them.`},
		{"condition empty list", withCondition(`{"StringEquals":{"a:b":[]}}`), mal, `invalid value for condition key "a:b"`},
		{"condition nested list", withCondition(`{"StringEquals":{"a:b":[["x"]]}}`), mal, `invalid value for condition key "a:b"`},
		{"condition object value", withCondition(`{"StringEquals":{"a:b":{"c":"d"}}}`), mal, `invalid value for condition key "a:b"`},
		{"ForAllValues with encryption context", withCondition(`{"ForAllValues:StringEquals":{"kms:EncryptionContext:Department":"IT"}}`), mal, "=" + msgForAllValuesEncryptionContext},
		{"ForAllValues with encryption context any case", withCondition(`{"ForAllValues:StringLikeIfExists":{"KMS:encryptioncontext:project":["a*"]}}`), mal, "=" + msgForAllValuesEncryptionContext},
		{"ForAllValues with request tag", withCondition(`{"ForAllValues:StringEquals":{"aws:RequestTag/Project":"Alpha"}}`), mal, "=" + msgForAllValuesRequestTag},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse(tt.doc)
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", d)
			}
			var e *apierr.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *apierr.Error: %v", err, err)
			}
			if e.Code != tt.code {
				t.Fatalf("code = %s, want %s (%v)", e.Code, tt.code, err)
			}
			if want, exact := strings.CutPrefix(tt.msg, "="); exact {
				if e.Message != want {
					t.Fatalf("message = %q\nwant      %q", e.Message, want)
				}
			} else if !strings.Contains(e.Message, tt.msg) {
				t.Fatalf("message = %q, want it to contain %q", e.Message, tt.msg)
			}
		})
	}
}

func TestParseSizeBoundary(t *testing.T) {
	base := stmt(allowRoot)
	atLimit := base + strings.Repeat(" ", MaxSize-len(base))
	if len(atLimit) != MaxSize {
		t.Fatal("bad test setup")
	}
	if _, err := Parse(atLimit); err != nil {
		t.Fatalf("document of exactly %d bytes rejected: %v", MaxSize, err)
	}
	_, err := Parse(atLimit + " ")
	if !apierr.Is(err, apierr.LimitExceeded) {
		t.Fatalf("document of %d bytes: got %v, want LimitExceededException", MaxSize+1, err)
	}
}

func TestParseDepthBoundary(t *testing.T) {
	// Depth 10 passes the pre-scan (and then fails validation); depth 11
	// does not get past it.
	nest := func(n int) string {
		return `{"Statement":[{"Condition":{"StringEquals":{"a:b":` + strings.Repeat("[", n-5) + `"x"` + strings.Repeat("]", n-5) + `}}}]}`
	}
	_, err := Parse(nest(10))
	if err == nil || strings.Contains(err.Error(), "nested") {
		t.Fatalf("depth 10: got %v, want a validation error", err)
	}
	_, err = Parse(nest(11))
	if err == nil || !strings.Contains(err.Error(), "nested more than 10 levels") {
		t.Fatalf("depth 11: got %v", err)
	}
}

func TestParseStatementCap(t *testing.T) {
	// The size quota hides this cap from Parse; parse checks it directly.
	small := `{"Effect":"Deny","Principal":"*"}`
	many := func(n int) string { return stmt(strings.Repeat(small+",", n-1) + small) }
	if _, err := parse(many(maxStatements)); err != nil {
		t.Fatalf("%d statements: %v", maxStatements, err)
	}
	_, err := parse(many(maxStatements + 1))
	if !apierr.Is(err, apierr.MalformedPolicyDocument) || !strings.Contains(err.Error(), "more than the maximum of 1000") {
		t.Fatalf("%d statements: got %v", maxStatements+1, err)
	}
}

func TestEchoIsBounded(t *testing.T) {
	long := strings.Repeat("é", 1000)
	_, err := Parse(stmt(`{"Effect":"Allow","Principal":"*","Action":"` + long + `"}`))
	if err == nil {
		t.Fatal("want error")
	}
	if n := len(apierr.As(err).Message); n > 300 {
		t.Fatalf("message is %d bytes; the echo is not bounded", n)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	for i, doc := range awsExamplePolicies {
		d1, err := Parse(doc)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(d1)
		if err != nil {
			t.Fatal(err)
		}
		d2, err := Parse(string(b))
		if err != nil {
			t.Fatalf("example %d: re-marshalled document rejected: %v\n%s", i, err, b)
		}
		if !reflect.DeepEqual(d1, d2) {
			t.Fatalf("example %d: round trip changed the document:\n%+v\n%+v", i, d1, d2)
		}
	}
}
