package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/testenv"
)

func tagString(tags []types.Tag) string {
	parts := make([]string, len(tags))
	for i, t := range tags {
		parts[i] = aws.ToString(t.TagKey) + "=" + aws.ToString(t.TagValue)
	}
	return strings.Join(parts, ",")
}

func tags(kv ...string) []types.Tag {
	out := make([]types.Tag, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, types.Tag{TagKey: aws.String(kv[i]), TagValue: aws.String(kv[i+1])})
	}
	return out
}

func listTags(t testing.TB, env *testenv.Env, keyID string) string {
	t.Helper()
	out, err := env.KMS.ListResourceTags(t.Context(), &kms.ListResourceTagsInput{KeyId: aws.String(keyID)})
	mustOK(t, err, "ListResourceTags")
	if out.Truncated || out.NextMarker != nil {
		t.Errorf("ListResourceTags truncated at %d tags", len(out.Tags))
	}
	return tagString(out.Tags)
}

func TestTags(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	md := createKey(t, env, &kms.CreateKeyInput{Tags: tags("tag1", "value1", "tag2", "value2", "tag3", "value3")})
	id, arn := aws.ToString(md.KeyId), aws.ToString(md.Arn)
	if got := listTags(t, env, id); got != "tag1=value1,tag2=value2,tag3=value3" {
		t.Errorf("tags = %s", got)
	}

	// As AWS answered: new keys are added, a repeated key's value replaced.
	_, err := env.KMS.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(arn), Tags: tags("tag4", "value4", "tag2", "updated_value2", "tag5", "value5")})
	mustOK(t, err, "TagResource")
	if got := listTags(t, env, arn); got != "tag1=value1,tag2=updated_value2,tag3=value3,tag4=value4,tag5=value5" {
		t.Errorf("tags after TagResource = %s", got)
	}

	_, err = env.KMS.UntagResource(ctx, &kms.UntagResourceInput{KeyId: aws.String(id), TagKeys: []string{"tag2", "no-such-tag"}})
	mustOK(t, err, "UntagResource")
	if got := listTags(t, env, id); got != "tag1=value1,tag3=value3,tag4=value4,tag5=value5" {
		t.Errorf("tags after UntagResource = %s", got)
	}
	_, err = env.KMS.UntagResource(ctx, &kms.UntagResourceInput{KeyId: aws.String(arn), TagKeys: []string{"tag1", "tag3", "tag4", "tag5"}})
	mustOK(t, err, "UntagResource all")
	if got := listTags(t, env, id); got != "" {
		t.Errorf("tags after untagging all = %s", got)
	}

	// Tag keys are case-sensitive; values may be empty.
	_, err = env.KMS.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(id), Tags: tags("Env", "prod", "env", "", "awsome", "x")})
	mustOK(t, err, "TagResource")
	if got := listTags(t, env, id); got != "Env=prod,awsome=x,env=" {
		t.Errorf("tags = %s", got)
	}
}

func TestTagErrors(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	fifty := make([]types.Tag, 50)
	for i := range fifty {
		fifty[i] = types.Tag{TagKey: aws.String(fmt.Sprintf("key%02d", i)), TagValue: aws.String("v")}
	}
	full := aws.ToString(createKey(t, env, &kms.CreateKeyInput{Tags: fifty}).KeyId)
	if got := listTags(t, env, full); strings.Count(got, "=") != 50 {
		t.Errorf("key created with 50 tags lists %s", got)
	}
	// Replacing a tag of a full key is fine; adding one is not.
	_, err := env.KMS.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(full), Tags: tags("key07", "new")})
	mustOK(t, err, "TagResource replacing on a full key")
	_, err = env.KMS.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(full), Tags: tags("key50", "v")})
	wantError(t, err, "TagException", "Too many tags")
	wantType[*types.TagException](t, err)

	id := aws.ToString(createKey(t, env, &kms.CreateKeyInput{Tags: tags("keep", "me")}).KeyId)
	long := strings.Repeat("a", 129)
	longValue := strings.Repeat("v", 257)
	for _, tc := range []struct {
		name string
		tags []types.Tag
		code string
		msg  string
	}{
		{"aws prefix", tags("aws:key1", "v"), "TagException", "Tags beginning with aws: are reserved"},
		{"AWS prefix", tags("AWS:key1", "v"), "TagException", "Tags beginning with aws: are reserved"},
		{"Aws prefix later", tags("ok", "v", "Aws:x", "v"), "TagException", "Tags beginning with aws: are reserved"},
		{"duplicates", tags("tag1", "value1", "tag1", "another-value1"), "TagException", "Duplicate tag keys"},
		{"51 at once", append(append([]types.Tag(nil), fifty...), tags("one-more", "v")...), "TagException", "Too many tags"},
		{"key too long", tags(long, "v"), "ValidationException",
			"1 validation error detected: Value '" + long + "' at 'tags.1.member.tagKey' failed to satisfy constraint: Member must have length less than or equal to 128"},
		{"value too long", tags("tag1", longValue), "ValidationException",
			"1 validation error detected: Value '" + longValue + "' at 'tags.1.member.tagValue' failed to satisfy constraint: Member must have length less than or equal to 256"},
		{"second key too long", tags("ok", "v", long, "v"), "ValidationException",
			"1 validation error detected: Value '" + long + "' at 'tags.2.member.tagKey' failed to satisfy constraint: Member must have length less than or equal to 128"},
		{"empty key", tags("", "v"), "ValidationException",
			"1 validation error detected: Value '' at 'tags.1.member.tagKey' failed to satisfy constraint: Member must have length greater than or equal to 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := env.KMS.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(id), Tags: tc.tags})
			wantError(t, err, tc.code, tc.msg)
			_, err = env.KMS.CreateKey(ctx, &kms.CreateKeyInput{Tags: tc.tags})
			wantError(t, err, tc.code, tc.msg)
		})
	}
	if got := listTags(t, env, id); got != "keep=me" {
		t.Errorf("refused TagResource calls changed the tags to %s", got)
	}

	_, err = env.KMS.UntagResource(ctx, &kms.UntagResourceInput{KeyId: aws.String(id), TagKeys: []string{long}})
	wantError(t, err, "ValidationException",
		"1 validation error detected: Value '"+long+"' at 'tagKeys.1.member' failed to satisfy constraint: Member must have length less than or equal to 128")
}

func TestListResourceTagsPagination(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	id := createKey(t, env, &kms.CreateKeyInput{Tags: tags("e", "5", "a", "1", "d", "4", "b", "2", "c", "3")}).KeyId
	var got []string
	in := &kms.ListResourceTagsInput{KeyId: id, Limit: aws.Int32(2)}
	pages := 0
	for {
		out, err := env.KMS.ListResourceTags(ctx, in)
		mustOK(t, err, "ListResourceTags")
		pages++
		if len(out.Tags) > 2 {
			t.Fatalf("page of %d tags, limit 2", len(out.Tags))
		}
		got = append(got, tagString(out.Tags))
		if !out.Truncated {
			break
		}
		in.Marker = out.NextMarker
	}
	if pages != 3 || strings.Join(got, ",") != "a=1,b=2,c=3,d=4,e=5" {
		t.Errorf("paged tags = %v in %d pages", got, pages)
	}
	_, err := env.KMS.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: id, Marker: aws.String("nonsense")})
	wantError(t, err, "InvalidMarkerException", anyMessage)
	_, err = env.KMS.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: id, Limit: aws.Int32(51)})
	wantError(t, err, "ValidationException",
		"1 validation error detected: Value '51' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 50")
}

func TestKeyPolicies(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	md := createKey(t, env, nil)
	id, arn := aws.ToString(md.KeyId), aws.ToString(md.Arn)

	// The default policy, byte for byte as AWS's GetKeyPolicy returns it.
	def := `{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::` + env.Account + `:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}`
	if got := policy.Default(env.Account); got != def {
		t.Errorf("policy.Default = %s\nwant %s", got, def)
	}
	for _, name := range []*string{aws.String("default"), nil} {
		out, err := env.KMS.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(id), PolicyName: name})
		mustOK(t, err, "GetKeyPolicy")
		if aws.ToString(out.Policy) != def || aws.ToString(out.PolicyName) != "default" {
			t.Errorf("GetKeyPolicy = %q %q, want the default policy:\n%s", aws.ToString(out.PolicyName), aws.ToString(out.Policy), def)
		}
	}

	lp, err := env.KMS.ListKeyPolicies(ctx, &kms.ListKeyPoliciesInput{KeyId: aws.String(arn)})
	mustOK(t, err, "ListKeyPolicies")
	if len(lp.PolicyNames) != 1 || lp.PolicyNames[0] != "default" || lp.Truncated || lp.NextMarker != nil {
		t.Errorf("ListKeyPolicies = %v truncated %v", lp.PolicyNames, lp.Truncated)
	}

	doc := `{
  "Version": "2012-10-17",
  "Id": "custom",
  "Statement": [
    {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::` + env.Account + `:root"}, "Action": "kms:*", "Resource": "*"},
    {"Sid": "ListOnly", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::` + env.Account + `:root"}, "Action": "kms:ListAliases", "Resource": "*"}
  ]
}`
	for _, name := range []*string{aws.String("default"), nil} {
		_, err = env.KMS.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(arn), PolicyName: name, Policy: aws.String(doc)})
		mustOK(t, err, "PutKeyPolicy")
		out, err := env.KMS.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(id), PolicyName: aws.String("default")})
		mustOK(t, err, "GetKeyPolicy")
		if aws.ToString(out.Policy) != doc {
			t.Errorf("GetKeyPolicy after PutKeyPolicy = %s, want %s", aws.ToString(out.Policy), doc)
		}
	}
	_, err = env.KMS.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(id), Policy: aws.String(def), BypassPolicyLockoutSafetyCheck: true})
	mustOK(t, err, "PutKeyPolicy with BypassPolicyLockoutSafetyCheck")

	for _, tc := range []struct {
		name, doc string
	}{
		{"not JSON", "this is not a policy"},
		{"truncated", `{"Version":"2012-10-17","Statement":[`},
		{"array", `[]`},
		{"no statement", `{"Version":"2012-10-17"}`},
		{"no effect", `{"Version":"2012-10-17","Statement":[{"Principal":"*","Action":"kms:*","Resource":"*"}]}`},
		{"bad effect", `{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Principal":"*","Action":"kms:*","Resource":"*"}]}`},
		{"no principal", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`},
		{"bad version", `{"Version":"2020-01-01","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := env.KMS.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(id), PolicyName: aws.String("default"), Policy: aws.String(tc.doc)})
			wantError(t, err, "MalformedPolicyDocumentException", anyMessage)
			wantType[*types.MalformedPolicyDocumentException](t, err)
		})
	}
	out, err := env.KMS.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(id)})
	mustOK(t, err, "GetKeyPolicy")
	if aws.ToString(out.Policy) != def {
		t.Errorf("refused PutKeyPolicy calls changed the policy to %s", aws.ToString(out.Policy))
	}

	// Oversized policies and other policy names.
	huge := `{"Version":"2012-10-17","Statement":[{"Sid":"` + strings.Repeat("x", 33000) + `","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}`
	_, err = env.KMS.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(id), Policy: aws.String(huge)})
	wantError(t, err, "LimitExceededException", anyMessage)
	_, err = env.KMS.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(id), PolicyName: aws.String("other")})
	wantError(t, err, "NotFoundException", anyMessage)
	_, err = env.KMS.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(id), PolicyName: aws.String("other"), Policy: aws.String(def)})
	wantError(t, err, "NotFoundException", anyMessage)
}
