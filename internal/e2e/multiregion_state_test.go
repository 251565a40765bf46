package e2e

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trent-kms/trent/internal/testenv"
)

// The multi-Region states in TestKeyStateTable. AWS's key-state table
// gives PendingDeletion and PendingReplicaDeletion one column; a primary
// waiting for its replicas is refused with its own wording (Trent's: AWS
// documents the two states together). Creating and Updating are never
// seen in Trent, which replicates and moves the primary before it answers
// (docs/multi-region.md).

// pendingMessage is the end of the KMSInvalidStateException message for a
// key pending deletion in state.
func pendingMessage(state types.KeyState) string {
	if state == types.KeyStatePendingReplicaDeletion {
		return " is pending replica deletion."
	}
	return " is pending deletion."
}

// newPendingReplicaDeletionKey is newStateKey's key in state
// PendingReplicaDeletion: a multi-Region primary with a replica in another
// region, scheduled for deletion.
func newPendingReplicaDeletionKey(t *testing.T, env *testenv.Env) *stateKey {
	t.Helper()
	ctx := t.Context()
	k := newEnabledStateKey(t, env, &kms.CreateKeyInput{Tags: tags("t", "v"), MultiRegion: aws.Bool(true)})
	replica := "eu-west-1"
	if env.Region == replica {
		replica = "ap-southeast-2"
	}
	_, err := env.KMS.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(k.id), ReplicaRegion: aws.String(replica)})
	mustOK(t, err, "ReplicateKey")
	out, err := env.KMS.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(k.id), PendingWindowInDays: aws.Int32(7)})
	mustOK(t, err, "ScheduleKeyDeletion")
	if out.KeyState != types.KeyStatePendingReplicaDeletion {
		t.Fatalf("ScheduleKeyDeletion of a primary with a replica: %s", out.KeyState)
	}
	return k
}
