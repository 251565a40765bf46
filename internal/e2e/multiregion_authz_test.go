package e2e

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// TestAuthzMultiRegion: ReplicateKey needs kms:ReplicateKey on the primary
// and kms:CreateKey (and kms:TagResource with tags) in the replica's
// region; UpdatePrimaryRegion needs kms:UpdatePrimaryRegion in both keys'
// policies; the multi-Region condition keys are set. As AWS documents.
func TestAuthzMultiRegion(t *testing.T) {
	e := startAuthz(t)
	ctx := t.Context()
	away := "eu-west-1"
	if e.Region == away {
		away = "ap-southeast-2"
	}
	aliceARN := e.userARN("alice")
	alice := e.alice()
	out, err := e.root().CreateKey(ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(true)})
	mustOK(t, err, "CreateKey")
	id, arn := aws.ToString(out.KeyMetadata.KeyId), aws.ToString(out.KeyMetadata.Arn)
	awayARN := "arn:aws:kms:" + away + ":" + e.Account + ":key/" + id
	replicate := func(tagged bool) error {
		in := &kms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String(away)}
		if tagged {
			in.Tags = tags("team", "blue")
		}
		_, err := alice.ReplicateKey(ctx, in)
		return err
	}
	idPolicy := func(stmts ...string) string {
		return e.policy(stmts...)
	}
	stmt := func(actions, cond string) string {
		s := `{"Effect":"Allow","Action":` + actions + `,"Resource":"*"`
		if cond != "" {
			s += `,"Condition":` + cond
		}
		return s + "}"
	}

	// kms:ReplicateKey alone is not enough: kms:CreateKey in the replica region.
	e.ids.set(t, aliceARN, idPolicy(stmt(`"kms:ReplicateKey"`, `{"StringEquals":{"kms:ReplicaRegion":"`+away+`","kms:MultiRegionKeyType":"PRIMARY"}}`)))
	wantError(t, replicate(false), "AccessDeniedException", notAuthorized(aliceARN, "kms:CreateKey", "*",
		"because no identity-based policy allows the kms:CreateKey action"))
	// kms:CreateKey allowed in the primary's region only: still refused.
	e.ids.set(t, aliceARN, idPolicy(stmt(`"kms:ReplicateKey"`, ""),
		stmt(`"kms:CreateKey"`, `{"StringEquals":{"aws:RequestedRegion":"`+e.Region+`"}}`)))
	wantError(t, replicate(false), "AccessDeniedException", anyMessage)
	// kms:CreateKey without kms:ReplicateKey: refused on the primary.
	e.ids.set(t, aliceARN, idPolicy(stmt(`"kms:CreateKey"`, "")))
	wantError(t, replicate(false), "AccessDeniedException", notAuthorized(aliceARN, "kms:ReplicateKey", arn,
		"because no identity-based policy allows the kms:ReplicateKey action"))
	// Tags need kms:TagResource.
	e.ids.set(t, aliceARN, idPolicy(stmt(`"kms:ReplicateKey"`, ""),
		stmt(`"kms:CreateKey"`, `{"StringEquals":{"aws:RequestedRegion":"`+away+`","kms:MultiRegion":"true"}}`)))
	wantError(t, replicate(true), "AccessDeniedException", notAuthorized(aliceARN, "kms:TagResource", awayARN,
		"because no identity-based policy allows the kms:TagResource action"))
	e.ids.set(t, aliceARN, idPolicy(stmt(`"kms:ReplicateKey"`, ""),
		stmt(`"kms:CreateKey"`, `{"StringEquals":{"aws:RequestedRegion":"`+away+`","kms:MultiRegion":"true"}}`),
		stmt(`"kms:TagResource"`, `{"StringEquals":{"aws:RequestTag/team":"blue"}}`)))
	mustOK(t, replicate(true), "ReplicateKey with every permission")

	// UpdatePrimaryRegion: the replica's own policy must allow it too.
	e.ids.set(t, aliceARN, idPolicy(stmt(`"kms:UpdatePrimaryRegion"`, "")))
	deny := e.policy(e.rootStmt(), statement("Deny", `{"AWS":"`+aliceARN+`"}`, `"kms:UpdatePrimaryRegion"`, ""))
	awayRoot := e.client(e.AccessKeyID, e.Secret, away)
	_, err = awayRoot.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(id), PolicyName: aws.String("default"), Policy: aws.String(deny)})
	mustOK(t, err, "PutKeyPolicy on the replica")
	update := &kms.UpdatePrimaryRegionInput{KeyId: aws.String(id), PrimaryRegion: aws.String(away)}
	_, err = alice.UpdatePrimaryRegion(ctx, update)
	wantError(t, err, "AccessDeniedException", notAuthorized(aliceARN, "kms:UpdatePrimaryRegion", awayARN,
		"with an explicit deny in a resource-based policy"))
	_, err = awayRoot.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(id), PolicyName: aws.String("default"), Policy: aws.String(e.policy(e.rootStmt()))})
	mustOK(t, err, "PutKeyPolicy on the replica")
	_, err = alice.UpdatePrimaryRegion(ctx, update)
	mustOK(t, err, "UpdatePrimaryRegion with both keys' permission")
	// The condition key kms:MultiRegionKeyType follows the move.
	e.ids.set(t, aliceARN, idPolicy(stmt(`"kms:DescribeKey"`, `{"StringEquals":{"kms:MultiRegionKeyType":"PRIMARY"}}`)))
	_, err = e.client(aliceKey.id, aliceKey.secret, away).DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	mustOK(t, err, "DescribeKey of the new primary")
	_, err = alice.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	wantError(t, err, "AccessDeniedException", anyMessage)
}
