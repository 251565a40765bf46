package e2e

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trent-kms/trent/internal/testenv"
)

// TestPolicyConditionCaseVariants: the key part of kms:EncryptionContext:<k>,
// aws:ResourceTag/<k> and aws:RequestTag/<k> is case-insensitive, while
// encryption context and tag keys are not, so "purpose" and "Purpose" meet
// in one condition key. Adding a case variant must neither dodge a Deny nor
// widen an Allow. Trent once kept only the last value written, which for an
// encryption context was whichever map order wrote last: the loops make a
// single lucky order unable to pass the test.
func TestPolicyConditionCaseVariants(t *testing.T) {
	defer catch(t)
	e := testenv.Start(t)
	ctx := context.Background()
	root := `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + e.Account + `:root"},`
	newKey := func(in *kms.CreateKeyInput) *string {
		return must(e.KMS.CreateKey(ctx, in)).KeyMetadata.Arn
	}
	encrypt := func(key *string, ec map[string]string) string {
		_, err := e.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: key, Plaintext: []byte("x"), EncryptionContext: ec})
		return errCode(err)
	}
	variants := map[string]string{"purpose": "admin", "Purpose": "x", "PURPOSE": "y", "PuRpOsE": "z"}

	denyAdmin := newKey(&kms.CreateKeyInput{Policy: aws.String(policyDoc(
		root+`"Action":"kms:*","Resource":"*"}`,
		`{"Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:purpose":"admin"}}}`))})
	allowPublic := newKey(&kms.CreateKeyInput{Policy: aws.String(policyDoc(
		root+`"NotAction":"kms:Encrypt","Resource":"*"}`,
		root+`"Action":"kms:Encrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:purpose":"public"}}}`))})

	tests := []struct {
		name string
		key  *string
		ec   map[string]string
		want string
	}{
		{"Deny, the denied pair alone", denyAdmin, map[string]string{"purpose": "admin"}, denied},
		{"Deny, another value", denyAdmin, map[string]string{"Purpose": "x"}, allowed},
		{"Deny, the denied pair among case variants", denyAdmin, variants, denied},
		{"Deny, the denied value under a variant", denyAdmin, map[string]string{"purpose": "x", "PURPOSE": "admin"}, denied},
		{"Allow, the allowed pair alone", allowPublic, map[string]string{"Purpose": "public"}, allowed},
		{"Allow, the allowed pair and a variant", allowPublic, map[string]string{"purpose": "public", "Purpose": "secret"}, denied},
		{"Allow, the allowed pair repeated in another case", allowPublic, map[string]string{"purpose": "public", "PURPOSE": "public"}, allowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := 0; i < 40; i++ {
				if got := encrypt(tt.key, tt.ec); got != tt.want {
					t.Fatalf("Encrypt %v, try %d: %s, want %s", tt.ec, i+1, got, tt.want)
				}
			}
		})
	}

	// Tags are ordered lists, so no loop is needed: the denied value comes
	// first, where keeping the last value written would miss it.
	t.Run("aws:ResourceTag", func(t *testing.T) {
		defer catch(t)
		key := newKey(&kms.CreateKeyInput{Tags: tags("TEAM", "finance", "team", "x"), Policy: aws.String(policyDoc(
			root+`"Action":"kms:*","Resource":"*"}`,
			`{"Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"finance"}}}`))})
		if got := encrypt(key, nil); got != denied {
			t.Fatalf("Encrypt under a key tagged TEAM=finance, team=x: %s, want %s", got, denied)
		}
	})
	t.Run("aws:RequestTag", func(t *testing.T) {
		defer catch(t)
		key := newKey(&kms.CreateKeyInput{Policy: aws.String(policyDoc(
			root+`"Action":"kms:*","Resource":"*"}`,
			`{"Effect":"Deny","Principal":"*","Action":"kms:TagResource","Resource":"*","Condition":{"StringEquals":{"aws:RequestTag/team":"finance"}}}`))})
		for _, tc := range []struct {
			tags []string
			want string
		}{
			{[]string{"team", "x"}, allowed},
			{[]string{"team", "finance"}, denied},
			{[]string{"TEAM", "finance", "team", "x"}, denied},
			{[]string{"team", "x", "Team", "finance", "tEAM", "y"}, denied},
		} {
			_, err := e.KMS.TagResource(ctx, &kms.TagResourceInput{KeyId: key, Tags: tags(tc.tags...)})
			if got := errCode(err); got != tc.want {
				t.Errorf("TagResource %v: %s, want %s", tc.tags, got, tc.want)
			}
		}
	})
}

// TestGrantEncryptionContextEqualsCaseVariants: EncryptionContextEquals
// compares keys case-insensitively but allows no pair beyond its own, and a
// case variant is such a pair: {"a":"1","A":"1"} is not {"a":"1"}.
func TestGrantEncryptionContextEqualsCaseVariants(t *testing.T) {
	defer catch(t)
	e := testenv.Start(t)
	ctx := context.Background()
	admin := iamClient(e, e.AccessKeyID, e.Secret)
	u := must(admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob")}))
	k := must(admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")}))
	bob := e.Client(*k.AccessKey.AccessKeyId, *k.AccessKey.SecretAccessKey)
	key := must(e.KMS.CreateKey(ctx, &kms.CreateKeyInput{})).KeyMetadata.Arn
	must(e.KMS.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: key, GranteePrincipal: u.User.Arn,
		Operations:  []kmstypes.GrantOperation{kmstypes.GrantOperationEncrypt},
		Constraints: &kmstypes.GrantConstraints{EncryptionContextEquals: map[string]string{"a": "1"}}}))
	for _, tc := range []struct {
		ec   map[string]string
		want string
	}{
		{map[string]string{"a": "1"}, allowed},
		{map[string]string{"A": "1"}, allowed},
		{map[string]string{"a": "1", "A": "1"}, denied},
		{map[string]string{"a": "1", "A": "2"}, denied},
		{map[string]string{"a": "1", "b": "2"}, denied},
	} {
		_, err := bob.Encrypt(ctx, &kms.EncryptInput{KeyId: key, Plaintext: []byte("x"), EncryptionContext: tc.ec})
		if got := errCode(err); got != tc.want {
			t.Errorf("Encrypt %v under an Equals {a:1} grant: %s, want %s", tc.ec, got, tc.want)
		}
	}
}
