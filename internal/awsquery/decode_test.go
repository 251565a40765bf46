package awsquery

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/apierr"
)

func ptr[T any](v T) *T { return &v }

// decodeAs decodes body with svc and fails t unless it names action.
func decodeAs(t *testing.T, svc *Service, action, body string) any {
	t.Helper()
	op, in, err := svc.Decode([]byte(body))
	if err != nil {
		t.Fatalf("Decode(%q): %v", body, err)
	}
	if op.Name != action {
		t.Fatalf("Decode(%q): operation %s, want %s", body, op.Name, action)
	}
	return in
}

func TestDecodeValid(t *testing.T) {
	for _, tc := range []struct {
		name string
		svc  *Service
		body string
		want any
	}{
		{
			name: "CreateUser as the CLI sends it",
			svc:  IAM,
			body: "Action=CreateUser&Version=2010-05-08&UserName=bob&Path=%2F&Tags.member.1.Key=k&Tags.member.1.Value=v",
			want: &CreateUserInput{UserName: ptr("bob"), Path: ptr("/"),
				Tags: []Tag{{Key: ptr("k"), Value: ptr("v")}}},
		},
		{
			name: "parameters in any order, plus as space, unknown members ignored, empty segments skipped",
			svc:  IAM,
			body: "&Tags.member.2.Value=2&UserName=a+b%2Bc&NotAMember=x&Tags.member.1.Value=1&&" +
				"Tags.member.2.Key=two&Tags.member.1.Key=one&Tags.member.1.Extra=ignored&Version=2010-05-08&Action=CreateUser&",
			want: &CreateUserInput{UserName: ptr("a b+c"),
				Tags: []Tag{{Key: ptr("one"), Value: ptr("1")}, {Key: ptr("two"), Value: ptr("2")}}},
		},
		{
			name: "empty list sentinel",
			svc:  IAM,
			body: "Action=CreateUser&Version=2010-05-08&UserName=bob&Tags=",
			want: &CreateUserInput{UserName: ptr("bob"), Tags: []Tag{}},
		},
		{
			name: "empty value is a value",
			svc:  IAM,
			body: "Action=UpdateUser&Version=2010-05-08&UserName=bob&NewPath",
			want: &UpdateUserInput{UserName: ptr("bob"), NewPath: ptr("")},
		},
		{
			name: "string list past nine members",
			svc:  IAM,
			body: "Action=UntagUser&Version=2010-05-08&UserName=u" + members("TagKeys", 12),
			want: &UntagUserInput{UserName: ptr("u"), TagKeys: []string{"k1", "k2", "k3", "k4", "k5", "k6",
				"k7", "k8", "k9", "k10", "k11", "k12"}},
		},
		{
			name: "integers and booleans",
			svc:  IAM,
			body: "Action=ListPolicies&Version=2010-05-08&MaxItems=1000&OnlyAttached=TRUE&Scope=Local",
			want: &ListPoliciesInput{MaxItems: ptr[int32](1000), OnlyAttached: ptr(true), Scope: ptr("Local")},
		},
		{
			name: "false is not absent",
			svc:  IAM,
			body: "Action=CreatePolicyVersion&Version=2010-05-08&PolicyArn=arn&PolicyDocument=%7B%7D&SetAsDefault=false",
			want: &CreatePolicyVersionInput{PolicyArn: ptr("arn"), PolicyDocument: ptr("{}"), SetAsDefault: ptr(false)},
		},
		{
			name: "lists nested in lists",
			svc:  IAM,
			body: "Action=SimulatePrincipalPolicy&Version=2010-05-08&PolicySourceArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Auser%2Fbob" +
				"&ActionNames.member.1=kms%3AEncrypt&ActionNames.member.2=kms%3ADecrypt" +
				"&ContextEntries.member.1.ContextKeyName=aws%3ASourceIp&ContextEntries.member.1.ContextKeyType=ipList" +
				"&ContextEntries.member.1.ContextKeyValues.member.1=10.0.0.1&ContextEntries.member.1.ContextKeyValues.member.2=10.0.0.2" +
				"&ContextEntries.member.2.ContextKeyName=kms%3AViaService&ContextEntries.member.2.ContextKeyValues=",
			want: &SimulatePrincipalPolicyInput{
				PolicySourceArn: ptr("arn:aws:iam::111122223333:user/bob"),
				ActionNames:     []string{"kms:Encrypt", "kms:Decrypt"},
				ContextEntries: []ContextEntry{
					{ContextKeyName: ptr("aws:SourceIp"), ContextKeyType: ptr("ipList"), ContextKeyValues: []string{"10.0.0.1", "10.0.0.2"}},
					{ContextKeyName: ptr("kms:ViaService"), ContextKeyValues: []string{}},
				},
			},
		},
		{
			name: "AssumeRole with every kind of list",
			svc:  STS,
			body: "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fr&RoleSessionName=s" +
				"&DurationSeconds=900&PolicyArns.member.1.arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FReadOnlyAccess" +
				"&Tags.member.1.Key=team&Tags.member.1.Value=kms&TransitiveTagKeys.member.1=team&ExternalId=x",
			want: &AssumeRoleInput{RoleArn: ptr("arn:aws:iam::111122223333:role/r"), RoleSessionName: ptr("s"),
				DurationSeconds: ptr[int32](900),
				PolicyArns:      []PolicyDescriptorType{{Arn: ptr("arn:aws:iam::aws:policy/ReadOnlyAccess")}},
				Tags:            []Tag{{Key: ptr("team"), Value: ptr("kms")}}, TransitiveTagKeys: []string{"team"},
				ExternalId: ptr("x")},
		},
		{
			name: "GetCallerIdentity",
			svc:  STS,
			body: "Action=GetCallerIdentity&Version=2011-06-15",
			want: &GetCallerIdentityInput{},
		},
		{
			name: "negative integer parses; range is the handler's",
			svc:  STS,
			body: "Action=GetSessionToken&Version=2011-06-15&DurationSeconds=-1",
			want: &GetSessionTokenInput{DurationSeconds: ptr[int32](-1)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op, in, err := tc.svc.Decode([]byte(tc.body))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if op.InputType() != reflect.TypeOf(tc.want).Elem() {
				t.Fatalf("operation %s has input %s, want %T", op.Name, op.InputType(), tc.want)
			}
			if !reflect.DeepEqual(in, tc.want) {
				t.Fatalf("Decode =\n%s\nwant\n%s", dump(in), dump(tc.want))
			}
		})
	}
}

// members returns "&Name.member.1=k1…&Name.member.n=kn".
func members(name string, n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "&%s.member.%d=k%d", name, i, i)
	}
	return b.String()
}

// dump prints v with pointers followed, for failure messages.
func dump(v any) string {
	var b strings.Builder
	var walk func(reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() {
				b.WriteString("nil")
				return
			}
			b.WriteString("&")
			walk(v.Elem())
		case reflect.Struct:
			b.WriteString(v.Type().Name() + "{")
			for i := range v.NumField() {
				if !v.Field(i).IsZero() {
					b.WriteString(v.Type().Field(i).Name + ":")
					walk(v.Field(i))
					b.WriteString(" ")
				}
			}
			b.WriteString("}")
		case reflect.Slice:
			if v.IsNil() {
				b.WriteString("nil")
				return
			}
			b.WriteString("[")
			for i := range v.Len() {
				walk(v.Index(i))
				b.WriteString(" ")
			}
			b.WriteString("]")
		default:
			fmt.Fprintf(&b, "%q", fmt.Sprint(v.Interface()))
		}
	}
	walk(reflect.ValueOf(v))
	return b.String()
}

func TestDecodeErrors(t *testing.T) {
	const cu = "Action=CreateUser&Version=2010-05-08&UserName=bob"
	const ut = "Action=UntagUser&Version=2010-05-08&UserName=bob"
	for _, tc := range []struct {
		name, body string
		code, msg  string // msg: a substring of the message, or the whole when it starts with "="
	}{
		{"empty body", "", MissingAction, "=Missing Action"},
		{"no action", "Version=2010-05-08&UserName=bob", MissingAction, "=Missing Action"},
		{"empty action", "Action=&Version=2010-05-08", MissingAction, "=Missing Action"},
		{"unknown action", "Action=CreateUsers&Version=2010-05-08", InvalidAction, "=Could not find operation CreateUsers for version 2010-05-08"},
		{"STS action at IAM", "Action=AssumeRole&Version=2010-05-08", InvalidAction, "=Could not find operation AssumeRole for version 2010-05-08"},
		{"no version", "Action=CreateUser&UserName=bob", InvalidAction, "=Could not find operation CreateUser for version NO_VERSION_SPECIFIED"},
		{"STS version", "Action=CreateUser&Version=2011-06-15&UserName=bob", InvalidAction, "=Could not find operation CreateUser for version 2011-06-15"},
		{"lower-case action", "Action=createuser&Version=2010-05-08", InvalidAction, "createuser"},
		{"long action clipped", "Action=" + strings.Repeat("A", 5000) + "&Version=2010-05-08", InvalidAction, strings.Repeat("A", 128) + "..."},

		{"bad escape", cu + "&Path=%zz", MalformedQueryString, "Path"},
		{"truncated escape", cu + "&Path=%2", MalformedQueryString, "Path"},
		{"lone percent", cu + "&Path=%", MalformedQueryString, ""},
		{"escape in name", cu + "&Pa%th=x", MalformedQueryString, "name"},
		{"not UTF-8", cu + "&Path=%FF", MalformedQueryString, "UTF-8"},
		{"truncated UTF-8", cu + "&Path=%E2%82", MalformedQueryString, "UTF-8"},
		{"raw invalid UTF-8", cu + "&Path=\xc3\x28", MalformedQueryString, "UTF-8"},
		{"surrogate in UTF-8", cu + "&Path=%ED%A0%80", MalformedQueryString, "UTF-8"},
		{"empty name", cu + "&=x", MalformedQueryString, "without a name"},

		{"duplicate", cu + "&UserName=alice", InvalidQueryParameter, "UserName appears more than once"},
		{"duplicate once decoded", cu + "&User%4Eame=alice", InvalidQueryParameter, "UserName appears more than once"},
		{"duplicate action", cu + "&Action=DeleteUser", InvalidQueryParameter, "Action"},
		{"too many parameters", cu + strings.Repeat("&x=1", MaxParams), InvalidQueryParameter, "more than 1000"},

		{"gap in list", ut + "&TagKeys.member.1=a&TagKeys.member.3=c", InvalidQueryParameter, "TagKeys skips an index"},
		{"list from 2", ut + "&TagKeys.member.2=b", InvalidQueryParameter, "skips an index"},
		{"index zero", ut + "&TagKeys.member.0=a", InvalidQueryParameter, "invalid list index"},
		{"leading zero", ut + "&TagKeys.member.1=a&TagKeys.member.02=b", InvalidQueryParameter, "invalid list index"},
		{"negative index", ut + "&TagKeys.member.-1=a", InvalidQueryParameter, "invalid list index"},
		{"letter index", ut + "&TagKeys.member.x=a", InvalidQueryParameter, "invalid list index"},
		{"empty index", ut + "&TagKeys.member.=a", InvalidQueryParameter, "invalid list index"},
		{"huge index", ut + "&TagKeys.member.99999999999999999999=a", InvalidQueryParameter, "invalid list index"},
		{"index past count", ut + "&TagKeys.member.1000=a", InvalidQueryParameter, "skips an index"},
		{"not member", ut + "&TagKeys.item.1=a", InvalidQueryParameter, "not a list member"},
		{"flattened list", ut + "&TagKeys.1=a", InvalidQueryParameter, "not a list member"},
		{"value for list", ut + "&TagKeys=a", InvalidQueryParameter, "must be a list"},
		{"empty list and members", ut + "&TagKeys=&TagKeys.member.1=a", InvalidQueryParameter, "must be a list"},
		{"sub-member of string list", ut + "&TagKeys.member.1=a&TagKeys.member.1.x=b", InvalidQueryParameter, "single value"},
		{"only sub-member of string list", ut + "&TagKeys.member.1.x=b", InvalidQueryParameter, "single value"},
		{"value for structure", cu + "&Tags.member.1=x&Tags.member.1.Key=k&Tags.member.1.Value=v", InvalidQueryParameter, "structure"},
		{"value for bare structure", cu + "&Tags.member.1=x", InvalidQueryParameter, "structure"},
		{"gap in nested list", "Action=SimulateCustomPolicy&Version=2010-05-08&PolicyInputList.member.1=p&ActionNames.member.1=a" +
			"&ContextEntries.member.1.ContextKeyValues.member.2=v", InvalidQueryParameter, "ContextEntries.member.1.ContextKeyValues skips"},

		{"integer not a number", "Action=ListUsers&Version=2010-05-08&MaxItems=ten", InvalidParameterValue, "MaxItems"},
		{"integer with fraction", "Action=ListUsers&Version=2010-05-08&MaxItems=1.5", InvalidParameterValue, "MaxItems"},
		{"integer overflow", "Action=ListUsers&Version=2010-05-08&MaxItems=2147483648", InvalidParameterValue, "32 bits"},
		{"integer empty", "Action=ListUsers&Version=2010-05-08&MaxItems=", InvalidParameterValue, "MaxItems"},
		{"integer with space", "Action=ListUsers&Version=2010-05-08&MaxItems=+1", InvalidParameterValue, "MaxItems"},
		{"boolean as digit", "Action=ListPolicies&Version=2010-05-08&OnlyAttached=1", InvalidParameterValue, "OnlyAttached: expected true or false"},

		{"required member", "Action=CreateUser&Version=2010-05-08", ValidationError,
			"=1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null"},
		{"required members", "Action=PutUserPolicy&Version=2010-05-08&PolicyName=p", ValidationError,
			"=2 validation errors detected: Value null at 'userName' failed to satisfy constraint: Member must not be null; " +
				"Value null at 'policyDocument' failed to satisfy constraint: Member must not be null"},
		{"required in list member", cu + "&Tags.member.1.Key=k", ValidationError, "Value null at 'tags.1.member.value'"},
		{"required list", ut, ValidationError, "Value null at 'tagKeys'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, in, err := IAM.Decode([]byte(tc.body))
			if err == nil {
				t.Fatalf("Decode(%.200q) = %s, want %s", tc.body, dump(in), tc.code)
			}
			var e *apierr.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is %T, want *apierr.Error", err, err)
			}
			if e.Code != tc.code {
				t.Fatalf("code = %s (%q), want %s", e.Code, e.Message, tc.code)
			}
			if want, exact := strings.CutPrefix(tc.msg, "="); exact {
				if e.Message != want {
					t.Fatalf("message = %q, want %q", e.Message, want)
				}
			} else if !strings.Contains(e.Message, tc.msg) {
				t.Fatalf("message = %q, want it to contain %q", e.Message, tc.msg)
			}
			if s := HTTPStatus(e.Code); s < 400 || s > 499 {
				t.Fatalf("status of %s = %d, want 4xx", e.Code, s)
			}
			if len(e.Message) > 400 {
				t.Fatalf("message of %d bytes echoes too much of the request", len(e.Message))
			}
		})
	}
}

func TestDecodeAtTheParameterLimit(t *testing.T) {
	// Action, Version, UserName and MaxParams-3 tag keys: exactly the limit.
	body := "Action=UntagUser&Version=2010-05-08&UserName=u" + members("TagKeys", MaxParams-3)
	in := decodeAs(t, IAM, "UntagUser", body).(*UntagUserInput)
	if len(in.TagKeys) != MaxParams-3 || in.TagKeys[MaxParams-4] != fmt.Sprintf("k%d", MaxParams-3) {
		t.Fatalf("decoded %d tag keys", len(in.TagKeys))
	}
	if _, _, err := IAM.Decode([]byte(body + "&x=1")); !apierr.Is(err, InvalidQueryParameter) {
		t.Fatalf("one parameter over the limit: err = %v, want %s", err, InvalidQueryParameter)
	}
}

// TestEveryInputDecodesEmpty runs each operation's Decode with only Action
// and Version: it must succeed or ask for its required members, never
// anything else.
func TestEveryInputDecodesEmpty(t *testing.T) {
	for _, svc := range []*Service{IAM, STS} {
		for _, op := range svc.Operations() {
			_, in, err := svc.Decode([]byte("Action=" + op.Name + "&Version=" + svc.Version))
			switch {
			case err == nil:
				if reflect.TypeOf(in) != reflect.PointerTo(op.InputType()) {
					t.Errorf("%s %s: input %T", svc.Name, op.Name, in)
				}
			case !apierr.Is(err, ValidationError):
				t.Errorf("%s %s: %v", svc.Name, op.Name, err)
			}
		}
	}
}

func TestOperationTables(t *testing.T) {
	iamOps := strings.Fields(`CreateUser GetUser ListUsers UpdateUser DeleteUser TagUser UntagUser ListUserTags
		CreateAccessKey ListAccessKeys UpdateAccessKey DeleteAccessKey GetAccessKeyLastUsed
		PutUserPolicy GetUserPolicy DeleteUserPolicy ListUserPolicies
		CreateGroup GetGroup ListGroups DeleteGroup AddUserToGroup RemoveUserFromGroup ListGroupsForUser
		PutGroupPolicy GetGroupPolicy DeleteGroupPolicy ListGroupPolicies
		CreateRole GetRole ListRoles DeleteRole UpdateAssumeRolePolicy TagRole UntagRole ListRoleTags
		PutRolePolicy GetRolePolicy DeleteRolePolicy ListRolePolicies
		CreatePolicy GetPolicy DeletePolicy ListPolicies CreatePolicyVersion GetPolicyVersion ListPolicyVersions
		DeletePolicyVersion SetDefaultPolicyVersion ListEntitiesForPolicy
		AttachUserPolicy DetachUserPolicy ListAttachedUserPolicies
		AttachGroupPolicy DetachGroupPolicy ListAttachedGroupPolicies
		AttachRolePolicy DetachRolePolicy ListAttachedRolePolicies
		PutUserPermissionsBoundary DeleteUserPermissionsBoundary PutRolePermissionsBoundary DeleteRolePermissionsBoundary
		SimulatePrincipalPolicy SimulateCustomPolicy`)
	stsOps := strings.Fields("GetCallerIdentity AssumeRole GetSessionToken GetAccessKeyInfo")
	for _, tc := range []struct {
		svc  *Service
		want []string
	}{{IAM, iamOps}, {STS, stsOps}} {
		var got []string
		for _, op := range tc.svc.Operations() {
			got = append(got, op.Name)
		}
		want := append([]string(nil), tc.want...)
		slices.Sort(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s operations:\n got %v\nwant %v", tc.svc.Name, got, want)
		}
		for _, name := range tc.want {
			op, ok := tc.svc.Lookup(name)
			if !ok {
				continue
			}
			// Operations whose name says they return nothing have no
			// Result element; everything that gets, lists, creates or
			// simulates has one.
			noResult := strings.HasPrefix(name, "Delete") || strings.HasPrefix(name, "Put") ||
				strings.HasPrefix(name, "Update") || strings.HasPrefix(name, "Tag") ||
				strings.HasPrefix(name, "Untag") || strings.HasPrefix(name, "Attach") ||
				strings.HasPrefix(name, "Detach") || strings.HasPrefix(name, "Add") ||
				strings.HasPrefix(name, "Remove") || strings.HasPrefix(name, "Set")
			if noResult != (op.OutputType() == nil) {
				t.Errorf("%s %s: output type %v", tc.svc.Name, name, op.OutputType())
			}
		}
	}
}

func TestCheckShapeRefusesMistakes(t *testing.T) {
	type noTag struct{ A *string }
	type requiredValue struct {
		A string `query:"A,required"`
	}
	type omitInInput struct {
		A *string `query:"A,omitempty"`
	}
	type intList struct {
		A *struct {
			T []int `query:"T"`
		} `query:"A"`
	}
	type mapInput struct {
		M map[string]string `query:"M"`
	}
	type listOfLists struct {
		L [][]string `query:"L"`
	}
	type float struct {
		F float64 `query:"F"`
	}
	type badOption struct {
		A *string `query:"A,requird"`
	}
	for _, tc := range []struct {
		v     any
		input bool
	}{
		{noTag{}, true}, {requiredValue{}, true}, {omitInInput{}, true}, {intList{}, true},
		{mapInput{}, true}, {listOfLists{}, false}, {float{}, false}, {badOption{}, true},
		{requiredValue{}, false},
	} {
		if err := checkShape(reflect.TypeOf(tc.v), tc.input); err == nil {
			t.Errorf("checkShape(%T, input=%v) = nil, want an error", tc.v, tc.input)
		}
	}
}
