package iam

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/awsquery"
	"github.com/trent-kms/trent/internal/policy"
)

const keyARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

// TestSimulateAgreesWithDecide checks the simulator against the decision
// real requests get: the same PrincipalPolicies, decided by the policy
// package, for a user with inline, attached and group policies and a
// boundary.
func TestSimulateAgreesWithDecide(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	dev, _ := f.userWithKey("dev")
	f.iam(f.rootCaller, "TagUser", "UserName=dev&Tags.member.1.Key=dept&Tags.member.1.Value=IT")
	f.iam(f.rootCaller, "PutUserPolicy", "UserName=dev&PolicyName=use&PolicyDocument="+q(`{"Version":"2012-10-17","Statement":[
		{"Sid":"Encrypt","Effect":"Allow","Action":["kms:Encrypt","kms:GenerateDataKey*"],"Resource":"arn:aws:kms:*:111122223333:key/*"},
		{"Sid":"Mine","Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:dept":"${aws:PrincipalTag/dept}"}}}]}`))
	f.iam(f.rootCaller, "CreatePolicy", "PolicyName=nodelete&PolicyDocument="+q(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Deny","Action":"kms:ScheduleKeyDeletion","Resource":"*"},
		{"Effect":"Allow","Action":"kms:Describe*","Resource":"*"}]}`))
	f.iam(f.rootCaller, "AttachUserPolicy", "UserName=dev&PolicyArn="+q("arn:aws:iam::"+testAccount+":policy/nodelete"))
	f.iam(f.rootCaller, "CreateGroup", "GroupName=g")
	f.iam(f.rootCaller, "AddUserToGroup", "GroupName=g&UserName=dev")
	f.iam(f.rootCaller, "PutGroupPolicy", "GroupName=g&PolicyName=sign&PolicyDocument="+q(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["kms:Sign","kms:ScheduleKeyDeletion","kms:ListKeys"],"Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}`))
	f.iam(f.rootCaller, "CreatePolicy", "PolicyName=bound&PolicyDocument="+q(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","NotAction":"kms:Sign","Resource":"*"}]}`))
	f.iam(f.rootCaller, "PutUserPermissionsBoundary", "UserName=dev&PermissionsBoundary="+q("arn:aws:iam::"+testAccount+":policy/bound"))

	pp, err := f.s.PrincipalPolicies(ctx, dev)
	if err != nil {
		t.Fatal(err)
	}
	pols := pp.Policies()
	type entry struct{ key, typ, value string }
	for _, tc := range []struct {
		action, resource string
		context          []entry
		want             string
	}{
		{"kms:Encrypt", keyARN, nil, "allowed"},
		{"kms:Encrypt", "arn:aws:kms:us-east-1:999999999999:key/x", nil, "implicitDeny"},
		{"kms:GenerateDataKeyWithoutPlaintext", keyARN, nil, "allowed"},
		{"kms:Decrypt", keyARN, []entry{{"kms:EncryptionContext:dept", "string", "IT"}}, "allowed"},
		{"kms:Decrypt", keyARN, []entry{{"kms:EncryptionContext:dept", "string", "HR"}}, "implicitDeny"},
		{"kms:Decrypt", keyARN, nil, "implicitDeny"},
		{"kms:DescribeKey", keyARN, nil, "allowed"},
		{"kms:ScheduleKeyDeletion", keyARN, []entry{{"aws:SecureTransport", "boolean", "true"}}, "explicitDeny"},
		{"kms:ListKeys", "*", []entry{{"aws:SecureTransport", "boolean", "true"}}, "allowed"},
		{"kms:ListKeys", "*", []entry{{"aws:SecureTransport", "boolean", "false"}}, "implicitDeny"},
		{"kms:Sign", keyARN, []entry{{"aws:SecureTransport", "boolean", "true"}}, "implicitDeny"}, // the boundary
		{"kms:CreateKey", "*", nil, "implicitDeny"},
	} {
		t.Run(tc.action+" "+tc.resource, func(t *testing.T) {
			params := "PolicySourceArn=" + q(dev.Principal.ARN) + "&ActionNames.member.1=" + tc.action + "&ResourceArns.member.1=" + q(tc.resource)
			req := policy.Request{Principal: dev.Principal, Action: tc.action, Resource: tc.resource}
			req.Context.Set("aws:PrincipalTag/dept", "IT")
			for i, e := range tc.context {
				n := strconv.Itoa(i + 1)
				params += "&ContextEntries.member." + n + ".ContextKeyName=" + q(e.key) + "&ContextEntries.member." + n +
					".ContextKeyType=" + e.typ + "&ContextEntries.member." + n + ".ContextKeyValues.member.1=" + q(e.value)
				req.Context.Set(e.key, e.value)
			}
			out := f.iam(f.rootCaller, "SimulatePrincipalPolicy", params).(*awsquery.SimulatePolicyOutput)
			if len(out.EvaluationResults) != 1 {
				t.Fatalf("%d results", len(out.EvaluationResults))
			}
			got := out.EvaluationResults[0]
			if decided := evalDecision(policy.DecideIdentity(&pols, &req)); got.EvalDecision != decided || decided != tc.want {
				t.Fatalf("simulator %s, Decide %s, want %s", got.EvalDecision, decided, tc.want)
			}
			if len(got.ResourceSpecificResults) != 1 || got.ResourceSpecificResults[0].EvalResourceDecision != got.EvalDecision {
				t.Fatalf("resource results %+v", got.ResourceSpecificResults)
			}
			if got.PermissionsBoundaryDecisionDetail == nil {
				t.Fatal("no boundary detail")
			}
			if got.EvalDecision != "implicitDeny" && len(got.MatchedStatements) != 1 {
				t.Fatalf("matched %+v", got.MatchedStatements)
			}
		})
	}

	// Without the context key its condition tests, the simulator says so.
	out := f.iam(f.rootCaller, "SimulatePrincipalPolicy", "PolicySourceArn="+q(dev.Principal.ARN)+"&ActionNames.member.1=kms:Decrypt").(*awsquery.SimulatePolicyOutput)
	if r := out.EvaluationResults[0]; !reflect.DeepEqual(r.MissingContextValues, []string{"kms:EncryptionContext:dept"}) || r.EvalResourceName != "*" || r.ResourceSpecificResults != nil {
		t.Fatalf("missing context values %+v", r)
	}

	// A resource policy: the key policy decides with the identity policies,
	// as policy.Decide does.
	keyPolicy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/dev"},"Action":"kms:Sign","Resource":"*"}]}`
	out = f.iam(f.rootCaller, "SimulatePrincipalPolicy", "PolicySourceArn="+q(dev.Principal.ARN)+"&ActionNames.member.1=kms:Sign&ResourceArns.member.1="+q(keyARN)+
		"&ResourcePolicy="+q(keyPolicy)).(*awsquery.SimulatePolicyOutput)
	d, _ := policy.Parse(keyPolicy)
	pols.Resource, _ = policy.Compile(d)
	req := policy.Request{Principal: dev.Principal, Action: "kms:Sign", Resource: keyARN}
	if got, want := out.EvaluationResults[0].EvalDecision, evalDecision(policy.Decide(&pols, &req)); got != want || got != "allowed" {
		t.Fatalf("with a key policy: simulator %s, Decide %s", got, want)
	}
	if m := out.EvaluationResults[0].MatchedStatements; len(m) != 1 || m[0].SourcePolicyType != sourceResource {
		t.Fatalf("matched %+v", m)
	}
}

func TestSimulatePositions(t *testing.T) {
	f := newFixture(t)
	// The document as the recorded AWS test wrote it (Python's json.dumps):
	// AWS reported the statement at line 1, columns 41 to 113.
	doc := `{"Version": "2012-10-17", "Statement": {"Sid": "", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}}`
	f.iam(f.rootCaller, "CreatePolicy", "PolicyName=p&PolicyDocument="+q(doc))
	f.iam(f.rootCaller, "CreateRole", "RoleName=r&AssumeRolePolicyDocument="+q(trustAccount))
	f.iam(f.rootCaller, "AttachRolePolicy", "RoleName=r&PolicyArn="+q("arn:aws:iam::"+testAccount+":policy/p"))
	out := f.iam(f.rootCaller, "SimulatePrincipalPolicy", "PolicySourceArn="+q("arn:aws:iam::"+testAccount+":role/r")+
		"&ActionNames.member.1=s3:PutObject&ActionNames.member.2=s3:GetObjectVersion&ResourceArns.member.1="+q("arn:aws:s3:::bucket")).(*awsquery.SimulatePolicyOutput)
	if len(out.EvaluationResults) != 2 || out.IsTruncated {
		t.Fatalf("results %+v", out)
	}
	put, get := out.EvaluationResults[0], out.EvaluationResults[1]
	want := []awsquery.Statement{{SourcePolicyId: "p", SourcePolicyType: "IAM Policy",
		StartPosition: &awsquery.Position{Line: 1, Column: 41}, EndPosition: &awsquery.Position{Line: 1, Column: 113}}}
	if put.EvalDecision != "allowed" || !reflect.DeepEqual(put.MatchedStatements, want) {
		t.Fatalf("PutObject %+v %+v %+v", put, put.MatchedStatements[0].StartPosition, put.MatchedStatements[0].EndPosition)
	}
	if get.EvalDecision != "implicitDeny" || len(get.MatchedStatements) != 0 || !get.OrganizationsDecisionDetail.AllowedByOrganizations {
		t.Fatalf("GetObjectVersion %+v", get)
	}

	// Several statements over several lines.
	multi := "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allow\", \"Action\": \"a:b\", \"Resource\": \"*\"},\n" +
		"    {\n      \"Effect\": \"Deny\",\n      \"Action\": \"a:c\",\n      \"Resource\": \"*\"\n    }\n  ]\n}"
	ps := statementPositions(multi)
	wantPs := [][2]awsquery.Position{{{Line: 4, Column: 6}, {Line: 4, Column: 58}}, {{Line: 5, Column: 6}, {Line: 9, Column: 6}}}
	if !reflect.DeepEqual(ps, wantPs) {
		t.Fatalf("positions %+v", ps)
	}
}

func TestSimulateCustomPolicy(t *testing.T) {
	f := newFixture(t)
	out := f.iam(f.rootCaller, "SimulateCustomPolicy", "PolicyInputList.member.1="+q(policyDoc("kms:Encrypt"))+
		"&PolicyInputList.member.2="+q(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"kms:Encrypt","Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":"eu-west-1"}}}]}`)+
		"&ActionNames.member.1=kms:Encrypt&ActionNames.member.2=kms:Decrypt"+
		"&ContextEntries.member.1.ContextKeyName=aws:RequestedRegion&ContextEntries.member.1.ContextKeyType=string&ContextEntries.member.1.ContextKeyValues.member.1=eu-west-1").(*awsquery.SimulatePolicyOutput)
	if len(out.EvaluationResults) != 2 {
		t.Fatalf("results %+v", out)
	}
	enc, dec := out.EvaluationResults[0], out.EvaluationResults[1]
	if enc.EvalDecision != "explicitDeny" || len(enc.MatchedStatements) != 1 || enc.MatchedStatements[0].SourcePolicyId != "PolicyInputList.2" {
		t.Fatalf("Encrypt %+v", enc)
	}
	if dec.EvalDecision != "implicitDeny" {
		t.Fatalf("Decrypt %+v", dec)
	}
	page := f.iam(f.rootCaller, "SimulateCustomPolicy", "PolicyInputList.member.1="+q(policyDoc("kms:*"))+
		"&ActionNames.member.1=kms:Encrypt&ActionNames.member.2=kms:Decrypt&MaxItems=1").(*awsquery.SimulatePolicyOutput)
	if len(page.EvaluationResults) != 1 || !page.IsTruncated {
		t.Fatalf("page %+v", page)
	}
	next := f.iam(f.rootCaller, "SimulateCustomPolicy", "PolicyInputList.member.1="+q(policyDoc("kms:*"))+
		"&ActionNames.member.1=kms:Encrypt&ActionNames.member.2=kms:Decrypt&Marker="+q(page.Marker)).(*awsquery.SimulatePolicyOutput)
	if len(next.EvaluationResults) != 1 || next.EvaluationResults[0].EvalActionName != "kms:Decrypt" || next.IsTruncated {
		t.Fatalf("next page %+v", next)
	}
	wantErr(t, f.iamErr(f.rootCaller, "SimulateCustomPolicy", "PolicyInputList.member.1="+q(`{"x`)+"&ActionNames.member.1=kms:Encrypt"),
		"InvalidInput", "This policy contains invalid Json")
	wantErr(t, f.iamErr(f.rootCaller, "SimulatePrincipalPolicy", "PolicySourceArn="+q("arn:aws:iam::"+testAccount+":user/ghost")+"&ActionNames.member.1=kms:Encrypt"),
		"NoSuchEntity", "The user with name ghost cannot be found.")
	// Members the simulation does not use are still held to the model.
	base := "PolicyInputList.member.1=" + q(policyDoc("kms:*")) + "&ActionNames.member.1=kms:Encrypt"
	wantErr(t, f.iamErr(f.rootCaller, "SimulateCustomPolicy", base+"&ResourceOwner="+strings.Repeat("a", 2049)),
		"ValidationError", "1 validation error detected: Value at 'resourceOwner' failed to satisfy constraint: Member must have length less than or equal to 2048")
	wantErr(t, f.iamErr(f.rootCaller, "SimulateCustomPolicy", base+"&ResourceHandlingOption="),
		"ValidationError", "1 validation error detected: Value at 'resourceHandlingOption' failed to satisfy constraint: Member must have length greater than or equal to 1")
}
