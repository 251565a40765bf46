package e2e

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/internal/testenv"
)

// TestAuditCrossAccountCopies: a call on another account's key is
// recorded twice, as CloudTrail delivers it — once for the caller's
// account and once for the key owner's, with the same eventID and
// everything else equal but recipientAccountId. The server builds both
// from one event held in the request's answer; a copy that shared or
// lost fields would show here.
func TestAuditCrossAccountCopies(t *testing.T) {
	e := testenv.Start(t)
	ctx := t.Context()
	key := aws.ToString(createKey(t, e, nil).Arn)
	other, otherID, otherSecret := e.NewAccount(t)
	shared := policyDoc(
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+e.Account+`:root"},"Action":"kms:*","Resource":"*"}`,
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+other+`:root"},"Action":"kms:Encrypt","Resource":"*"}`)
	_, err := e.KMS.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(key), Policy: aws.String(shared)})
	mustOK(t, err, "PutKeyPolicy")
	_, err = e.Client(otherID, otherSecret).Encrypt(ctx, &kms.EncryptInput{
		KeyId: aws.String(key), Plaintext: []byte("cross"), EncryptionContext: map[string]string{"who": "other"},
	})
	mustOK(t, err, "cross-account Encrypt")

	encryptEvent := func(id, secret string) map[string]any {
		t.Helper()
		evs := lookupAll(t, cloudTrailClient(e, id, secret), &cloudtrail.LookupEventsInput{
			LookupAttributes: attr(cttypes.LookupAttributeKeyEventName, "Encrypt"),
		})
		if len(evs) != 1 {
			t.Fatalf("account of %s: %d Encrypt events, want 1", id, len(evs))
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(aws.ToString(evs[0].CloudTrailEvent)), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	owner, caller := encryptEvent(e.AccessKeyID, e.Secret), encryptEvent(otherID, otherSecret)
	if owner["recipientAccountId"] != e.Account || caller["recipientAccountId"] != other {
		t.Fatalf("recipientAccountId: owner's copy %v, caller's %v; want %s and %s",
			owner["recipientAccountId"], caller["recipientAccountId"], e.Account, other)
	}
	owner["recipientAccountId"] = other
	ob, _ := json.Marshal(owner)
	cb, _ := json.Marshal(caller)
	if string(ob) != string(cb) {
		t.Errorf("the two copies differ beyond recipientAccountId:\nowner's  %s\ncaller's %s", ob, cb)
	}
	if id, _ := caller["userIdentity"].(map[string]any)["accountId"].(string); id != other {
		t.Errorf("userIdentity.accountId %q, want the caller's %s", id, other)
	}
	if rs, _ := caller["resources"].([]any); len(rs) != 1 || rs[0].(map[string]any)["ARN"] != key {
		t.Errorf("resources %v, want the key %s alone", caller["resources"], key)
	}
}
