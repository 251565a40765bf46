package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/testenv"
)

// outcome is what an operation does to a key in some state.
type outcome int

const (
	ok          outcome = iota
	disabled            // DisabledException: <key ARN> is disabled.
	pending             // KMSInvalidStateException: <key ARN> is pending deletion.
	notPending          // KMSInvalidStateException: <key ARN> is not pending deletion…
	unspecified         // not asserted: AWS's answer is not documented
)

// stateKey is a key in the state under test, with what the operations need:
// an alias of its own, a ciphertext under it, and a second, enabled key
// with its own alias and ciphertext.
type stateKey struct {
	id, arn     string
	alias       string // targets this key
	blob        []byte // encrypted under this key, no context
	otherID     string
	otherAlias  string // targets the other key
	otherBlob   []byte // encrypted under the other key
	aliasPrefix string
}

var stateKeySeq int

func newStateKey(t *testing.T, env *testenv.Env, state types.KeyState) *stateKey {
	t.Helper()
	if state == types.KeyStatePendingReplicaDeletion {
		return newPendingReplicaDeletionKey(t, env) // multiregion_state_test.go
	}
	ctx := t.Context()
	k := newEnabledStateKey(t, env, &kms.CreateKeyInput{Tags: tags("t", "v")})
	switch state {
	case types.KeyStateEnabled:
	case types.KeyStateDisabled:
		_, err := env.KMS.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(k.id)})
		mustOK(t, err, "DisableKey")
	case types.KeyStatePendingDeletion:
		_, err := env.KMS.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(k.id), PendingWindowInDays: aws.Int32(7)})
		mustOK(t, err, "ScheduleKeyDeletion")
	default:
		t.Fatalf("state %s", state)
	}
	if got := describe(t, env, k.id).KeyState; got != state {
		t.Fatalf("set up a %s key, got %s", state, got)
	}
	return k
}

// newEnabledStateKey makes the key of a stateKey with in, and the other
// key, each with an alias and a ciphertext.
func newEnabledStateKey(t *testing.T, env *testenv.Env, in *kms.CreateKeyInput) *stateKey {
	t.Helper()
	stateKeySeq++
	k := &stateKey{aliasPrefix: fmt.Sprintf("alias/s%d-", stateKeySeq)}
	md := createKey(t, env, in)
	other := createKey(t, env, nil)
	k.id, k.arn, k.otherID = aws.ToString(md.KeyId), aws.ToString(md.Arn), aws.ToString(other.KeyId)
	k.alias, k.otherAlias = k.aliasPrefix+"own", k.aliasPrefix+"other"
	createAlias(t, env, k.alias, k.id)
	createAlias(t, env, k.otherAlias, k.otherID)
	k.blob = encrypt(t, env, k.id, []byte("state"), nil)
	k.otherBlob = encrypt(t, env, k.otherID, []byte("other"), nil)
	return k
}

// TestKeyStateTable checks the key-state table of the AWS documentation for
// every implemented operation and the states Enabled, Disabled and
// PendingDeletion: success, or the exact exception and message.
func TestKeyStateTable(t *testing.T) {
	env := testenv.Start(t)
	c := env.KMS
	type call func(ctx context.Context, k *stateKey) error
	ops := []struct {
		name                       string
		run                        call
		enabled, disabled, pendDel outcome
	}{
		// Cryptographic operations.
		{"Encrypt", func(ctx context.Context, k *stateKey) error {
			return errOf(c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(k.id), Plaintext: []byte("x")}))
		}, ok, disabled, pending},
		{"Encrypt via alias", func(ctx context.Context, k *stateKey) error {
			return errOf(c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(k.alias), Plaintext: []byte("x")}))
		}, ok, disabled, pending},
		{"Decrypt", func(ctx context.Context, k *stateKey) error {
			return errOf(c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: k.blob}))
		}, ok, disabled, pending},
		{"Decrypt with KeyId", func(ctx context.Context, k *stateKey) error {
			return errOf(c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: k.blob, KeyId: aws.String(k.arn)}))
		}, ok, disabled, pending},
		{"ReEncrypt from", func(ctx context.Context, k *stateKey) error {
			return errOf(c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: k.blob, DestinationKeyId: aws.String(k.otherID)}))
		}, ok, disabled, pending},
		{"ReEncrypt to", func(ctx context.Context, k *stateKey) error {
			return errOf(c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: k.otherBlob, DestinationKeyId: aws.String(k.id)}))
		}, ok, disabled, pending},
		{"GenerateDataKey", func(ctx context.Context, k *stateKey) error {
			return errOf(c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(k.id), KeySpec: types.DataKeySpecAes256}))
		}, ok, disabled, pending},
		{"GenerateDataKeyWithoutPlaintext", func(ctx context.Context, k *stateKey) error {
			return errOf(c.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: aws.String(k.id), NumberOfBytes: aws.Int32(16)}))
		}, ok, disabled, pending},

		// Operations that work in every state.
		{"DescribeKey", func(ctx context.Context, k *stateKey) error {
			return errOf(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(k.alias)}))
		}, ok, ok, ok},
		{"GetKeyPolicy", func(ctx context.Context, k *stateKey) error {
			return errOf(c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(k.id), PolicyName: aws.String("default")}))
		}, ok, ok, ok},
		{"PutKeyPolicy", func(ctx context.Context, k *stateKey) error {
			return errOf(c.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(k.id), PolicyName: aws.String("default"), Policy: aws.String(policy.Default(env.Account))}))
		}, ok, ok, ok},
		{"ListKeyPolicies", func(ctx context.Context, k *stateKey) error {
			return errOf(c.ListKeyPolicies(ctx, &kms.ListKeyPoliciesInput{KeyId: aws.String(k.id)}))
		}, ok, ok, ok},
		{"ListResourceTags", func(ctx context.Context, k *stateKey) error {
			return errOf(c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(k.id)}))
		}, ok, ok, ok},
		{"ListAliases", func(ctx context.Context, k *stateKey) error {
			out, err := c.ListAliases(ctx, &kms.ListAliasesInput{KeyId: aws.String(k.id)})
			if err == nil && len(out.Aliases) != 1 {
				return fmt.Errorf("ListAliases = %+v, want the key's alias", out.Aliases)
			}
			return err
		}, ok, ok, ok},
		{"DeleteAlias", func(ctx context.Context, k *stateKey) error {
			return errOf(c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String(k.alias)}))
		}, ok, ok, ok},
		{"GetKeyRotationStatus", func(ctx context.Context, k *stateKey) error {
			return errOf(c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(k.id)}))
		}, ok, ok, ok},
		{"UpdateAlias away from the key", func(ctx context.Context, k *stateKey) error {
			return errOf(c.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String(k.alias), TargetKeyId: aws.String(k.otherID)}))
		}, ok, ok, ok},
		{"ListKeyRotations", func(ctx context.Context, k *stateKey) error {
			return errOf(c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(k.id)}))
		}, ok, ok, unspecified},

		// Management operations refused while deletion is pending.
		{"EnableKey", func(ctx context.Context, k *stateKey) error {
			return errOf(c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(k.id)}))
		}, ok, ok, pending},
		{"DisableKey", func(ctx context.Context, k *stateKey) error {
			return errOf(c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(k.id)}))
		}, ok, ok, pending},
		{"ScheduleKeyDeletion", func(ctx context.Context, k *stateKey) error {
			return errOf(c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(k.id)}))
		}, ok, ok, pending},
		{"CancelKeyDeletion", func(ctx context.Context, k *stateKey) error {
			return errOf(c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(k.id)}))
		}, notPending, notPending, ok},
		{"CreateAlias", func(ctx context.Context, k *stateKey) error {
			return errOf(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(k.aliasPrefix + "new"), TargetKeyId: aws.String(k.id)}))
		}, ok, ok, pending},
		{"UpdateAlias onto the key", func(ctx context.Context, k *stateKey) error {
			return errOf(c.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String(k.otherAlias), TargetKeyId: aws.String(k.id)}))
		}, ok, ok, pending},
		{"TagResource", func(ctx context.Context, k *stateKey) error {
			return errOf(c.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(k.id), Tags: tags("n", "v")}))
		}, ok, ok, pending},
		{"UntagResource", func(ctx context.Context, k *stateKey) error {
			return errOf(c.UntagResource(ctx, &kms.UntagResourceInput{KeyId: aws.String(k.id), TagKeys: []string{"t"}}))
		}, ok, ok, pending},
		{"UpdateKeyDescription", func(ctx context.Context, k *stateKey) error {
			return errOf(c.UpdateKeyDescription(ctx, &kms.UpdateKeyDescriptionInput{KeyId: aws.String(k.id), Description: aws.String("d")}))
		}, ok, ok, pending},

		// Rotation.
		{"EnableKeyRotation", func(ctx context.Context, k *stateKey) error {
			return errOf(c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(k.id)}))
		}, ok, disabled, pending},
		{"DisableKeyRotation", func(ctx context.Context, k *stateKey) error {
			return errOf(c.DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: aws.String(k.id)}))
		}, ok, disabled, pending},
		{"RotateKeyOnDemand", func(ctx context.Context, k *stateKey) error {
			return errOf(c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(k.id)}))
		}, ok, disabled, pending},
	}

	for _, state := range []types.KeyState{types.KeyStateEnabled, types.KeyStateDisabled, types.KeyStatePendingDeletion, types.KeyStatePendingReplicaDeletion} {
		for _, op := range ops {
			want := map[types.KeyState]outcome{
				types.KeyStateEnabled: op.enabled, types.KeyStateDisabled: op.disabled, types.KeyStatePendingDeletion: op.pendDel,
				// AWS's table has one column for both (multiregion_state_test.go).
				types.KeyStatePendingReplicaDeletion: op.pendDel,
			}[state]
			if want == unspecified {
				continue
			}
			t.Run(string(state)+"/"+op.name, func(t *testing.T) {
				k := newStateKey(t, env, state)
				err := op.run(t.Context(), k)
				switch want {
				case ok:
					if err != nil {
						t.Errorf("got %v, want success", err)
					}
				case disabled:
					wantError(t, err, "DisabledException", k.arn+" is disabled.")
					wantType[*types.DisabledException](t, err)
				case pending:
					wantError(t, err, "KMSInvalidStateException", k.arn+pendingMessage(state))
					wantType[*types.KMSInvalidStateException](t, err)
				case notPending:
					wantErrorPrefix(t, err, "KMSInvalidStateException", k.arn+" is not pending deletion")
				}
				// A refused operation leaves the key in its state.
				if want != ok {
					if got := describe(t, env, k.id).KeyState; got != state {
						t.Errorf("key state changed from %s to %s", state, got)
					}
				}
			})
		}
	}
}

func TestDeletionLifecycle(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	md := createKey(t, env, nil)
	keep := createKey(t, env, nil)
	id, arn := aws.ToString(md.KeyId), aws.ToString(md.Arn)
	createAlias(t, env, "alias/doomed", id)
	createAlias(t, env, "alias/doomed-too", id)
	createAlias(t, env, "alias/kept", aws.ToString(keep.KeyId))
	blob := encrypt(t, env, id, []byte("soon gone"), map[string]string{"a": "b"})
	keptBlob := encrypt(t, env, aws.ToString(keep.KeyId), []byte("stays"), nil)

	out, err := env.KMS.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
	mustOK(t, err, "ScheduleKeyDeletion")
	deletion := *out.DeletionDate
	if !near(deletion, env.Clock.Now().Add(7*day), time.Second) {
		t.Errorf("DeletionDate = %v, want now+7d", deletion)
	}

	// Six days on, the key is still there, pending deletion.
	env.Clock.Advance(6 * day)
	env.RunJobs(t)
	got := describe(t, env, id)
	if got.KeyState != types.KeyStatePendingDeletion || !got.DeletionDate.Equal(deletion) {
		t.Errorf("after 6 days: %s, deletion %v", got.KeyState, got.DeletionDate)
	}
	if n := len(aliasTargets(listAliases(t, env, "", 0))); n != 3 {
		t.Errorf("after 6 days: %d aliases, want 3", n)
	}
	_, err = env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: map[string]string{"a": "b"}})
	wantError(t, err, "KMSInvalidStateException", arn+" is pending deletion.")

	// Past the deletion date the key, its aliases and its material are gone.
	env.Clock.Advance(day + time.Minute)
	env.RunJobs(t)
	_, err = env.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	wantError(t, err, "NotFoundException", "Key '"+arn+"' does not exist")
	_, err = env.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(arn)})
	wantError(t, err, "NotFoundException", "Key '"+arn+"' does not exist")
	if got := aliasTargets(listAliases(t, env, "", 0)); len(got) != 1 || got["alias/kept"] != aws.ToString(keep.KeyId) {
		t.Errorf("aliases after deletion = %v, want alias/kept only", got)
	}
	_, err = env.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/doomed"), Plaintext: []byte("x")})
	wantError(t, err, "NotFoundException", "Alias "+aliasARN(env, "alias/doomed")+" is not found.")
	keys, err := env.KMS.ListKeys(ctx, &kms.ListKeysInput{})
	mustOK(t, err, "ListKeys")
	if len(keys.Keys) != 1 || aws.ToString(keys.Keys[0].KeyId) != aws.ToString(keep.KeyId) {
		t.Errorf("ListKeys after deletion = %+v", keys.Keys)
	}

	// Its ciphertexts no longer decrypt. AWS's exact answer for a
	// ciphertext of a deleted key is not recorded; any client error will do.
	_, err = env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: map[string]string{"a": "b"}})
	if err == nil {
		t.Fatal("ciphertext of a deleted key decrypted")
	}
	wantNoInternal(t, err)
	_, err = env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: map[string]string{"a": "b"}, KeyId: aws.String(id)})
	wantError(t, err, "NotFoundException", "Key '"+arn+"' does not exist")

	// Every operation on the deleted key is NotFoundException.
	for name, err := range map[string]error{
		"CancelKeyDeletion": func() error {
			return errOf(env.KMS.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(id)}))
		}(),
		"EnableKey": func() error { _, err := env.KMS.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)}); return err }(),
		"GetKeyPolicy": func() error {
			return errOf(env.KMS.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(id)}))
		}(),
		"ListResourceTags": func() error {
			return errOf(env.KMS.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(id)}))
		}(),
		"CreateAlias": func() error {
			return errOf(env.KMS.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/doomed"), TargetKeyId: aws.String(id)}))
		}(),
	} {
		if !wantError(t, err, "NotFoundException", "Key '"+arn+"' does not exist") {
			t.Logf("operation %s", name)
		}
	}

	// The other key is untouched.
	decryptsWith(t, env, keptBlob, "stays", aws.ToString(keep.CurrentKeyMaterialId))
	// The freed alias name can be reused.
	createAlias(t, env, "alias/doomed", aws.ToString(keep.KeyId))
}

// wantNoInternal fails if err is a server fault rather than a client error.
func wantNoInternal(t testing.TB, err error) {
	t.Helper()
	for _, code := range []string{"KMSInternalException", "DependencyTimeoutException", "KeyUnavailableException"} {
		if strings.Contains(err.Error(), code) {
			t.Errorf("got a server fault: %v", err)
		}
	}
}

// TestKeyIdForms checks, for every operation with a KeyId, which forms of
// key identifier it accepts (AWS: data-plane operations and DescribeKey take
// all four; management operations only the key id and key ARN) and the
// NotFoundException messages for identifiers that name nothing.
func TestKeyIdForms(t *testing.T) {
	env := testenv.Start(t)
	c := env.KMS
	md := createKey(t, env, nil)
	id, arn := aws.ToString(md.KeyId), aws.ToString(md.Arn)
	createAlias(t, env, "alias/forms", id)
	blob := encrypt(t, env, id, []byte("forms"), nil)
	def := policy.Default(env.Account)
	n := 0
	ops := []struct {
		name       string
		aliasForms bool
		run        func(ctx context.Context, keyID string) error
	}{
		{"DescribeKey", true, func(ctx context.Context, k string) error {
			return errOf(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(k)}))
		}},
		{"Encrypt", true, func(ctx context.Context, k string) error {
			return errOf(c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(k), Plaintext: []byte("x")}))
		}},
		{"Decrypt", true, func(ctx context.Context, k string) error {
			return errOf(c.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(k), CiphertextBlob: blob}))
		}},
		{"ReEncrypt source", true, func(ctx context.Context, k string) error {
			return errOf(c.ReEncrypt(ctx, &kms.ReEncryptInput{SourceKeyId: aws.String(k), CiphertextBlob: blob, DestinationKeyId: aws.String(id)}))
		}},
		{"ReEncrypt destination", true, func(ctx context.Context, k string) error {
			return errOf(c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: blob, DestinationKeyId: aws.String(k)}))
		}},
		{"GenerateDataKey", true, func(ctx context.Context, k string) error {
			return errOf(c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(k), NumberOfBytes: aws.Int32(8)}))
		}},
		{"GenerateDataKeyWithoutPlaintext", true, func(ctx context.Context, k string) error {
			return errOf(c.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: aws.String(k), NumberOfBytes: aws.Int32(8)}))
		}},
		{"UpdateKeyDescription", false, func(ctx context.Context, k string) error {
			return errOf(c.UpdateKeyDescription(ctx, &kms.UpdateKeyDescriptionInput{KeyId: aws.String(k), Description: aws.String("d")}))
		}},
		{"EnableKey", false, func(ctx context.Context, k string) error {
			return errOf(c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(k)}))
		}},
		{"DisableKey", false, func(ctx context.Context, k string) error {
			_, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(k)})
			if err == nil {
				_, err = c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)})
			}
			return err
		}},
		{"ScheduleKeyDeletion", false, func(ctx context.Context, k string) error {
			_, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(k)})
			if err == nil {
				// Undone for the next call; t is not the subtest's here, so
				// a failure is an error that no API error check mistakes
				// for the answer (%v, not %w).
				if _, err = c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(id)}); err != nil {
					return fmt.Errorf("undo: %v", err)
				}
				_, err = c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)})
			}
			return err
		}},
		{"CancelKeyDeletion", false, func(ctx context.Context, k string) error {
			if _, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id)}); err != nil {
				return fmt.Errorf("set up: %v", err)
			}
			_, err := c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(k)})
			if err != nil {
				if _, cerr := c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(id)}); cerr != nil {
					return fmt.Errorf("undo: %v (after %v)", cerr, err)
				}
			}
			if _, eerr := c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)}); eerr != nil {
				return fmt.Errorf("undo: %v (after %v)", eerr, err)
			}
			return err
		}},
		{"EnableKeyRotation", false, func(ctx context.Context, k string) error {
			return errOf(c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(k)}))
		}},
		{"DisableKeyRotation", false, func(ctx context.Context, k string) error {
			return errOf(c.DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: aws.String(k)}))
		}},
		{"GetKeyRotationStatus", false, func(ctx context.Context, k string) error {
			return errOf(c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(k)}))
		}},
		{"RotateKeyOnDemand", false, func(ctx context.Context, k string) error {
			return errOf(c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(k)}))
		}},
		{"ListKeyRotations", false, func(ctx context.Context, k string) error {
			return errOf(c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(k)}))
		}},
		{"GetKeyPolicy", false, func(ctx context.Context, k string) error {
			return errOf(c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(k)}))
		}},
		{"PutKeyPolicy", false, func(ctx context.Context, k string) error {
			return errOf(c.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(k), Policy: aws.String(def)}))
		}},
		{"ListKeyPolicies", false, func(ctx context.Context, k string) error {
			return errOf(c.ListKeyPolicies(ctx, &kms.ListKeyPoliciesInput{KeyId: aws.String(k)}))
		}},
		{"TagResource", false, func(ctx context.Context, k string) error {
			return errOf(c.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(k), Tags: tags("a", "b")}))
		}},
		{"UntagResource", false, func(ctx context.Context, k string) error {
			return errOf(c.UntagResource(ctx, &kms.UntagResourceInput{KeyId: aws.String(k), TagKeys: []string{"a"}}))
		}},
		{"ListResourceTags", false, func(ctx context.Context, k string) error {
			return errOf(c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(k)}))
		}},
		{"ListAliases", false, func(ctx context.Context, k string) error {
			return errOf(c.ListAliases(ctx, &kms.ListAliasesInput{KeyId: aws.String(k)}))
		}},
		{"CreateAlias", false, func(ctx context.Context, k string) error {
			n++
			return errOf(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(fmt.Sprintf("alias/c%d", n)), TargetKeyId: aws.String(k)}))
		}},
		{"UpdateAlias", false, func(ctx context.Context, k string) error {
			return errOf(c.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/forms"), TargetKeyId: aws.String(k)}))
		}},
	}

	unknown := "134f2428-cec1-4b25-a1ae-9048164dba47"
	region := otherRegion(env)
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			ctx := t.Context()
			for _, k := range []string{id, arn} {
				if err := op.run(ctx, k); err != nil {
					t.Errorf("KeyId %s: %v", k, err)
				}
			}
			for _, k := range []string{"alias/forms", aliasARN(env, "alias/forms")} {
				err := op.run(ctx, k)
				switch {
				case op.aliasForms:
					if err != nil {
						t.Errorf("KeyId %s: %v", k, err)
					}
				case op.name == "CreateAlias" || op.name == "UpdateAlias":
					// An alias may not point at an alias (aliases_test.go).
					if !wantError(t, err, "ValidationException", "Aliases must refer to keys. Not aliases") {
						t.Logf("KeyId %s", k)
					}
				default:
					if !wantError(t, err, "NotFoundException", anyMessage) {
						t.Logf("KeyId %s", k)
					}
				}
			}
			for _, tc := range []struct{ keyID, msg string }{
				{"fake-key-id", "Invalid keyId 'fake-key-id'"},
				{unknown, "Key '" + keyARN(env, unknown) + "' does not exist"},
				{keyARN(env, unknown), "Key '" + keyARN(env, unknown) + "' does not exist"},
				{"arn:aws:kms:" + region + ":" + env.Account + ":key/" + id, "Invalid arn " + region},
			} {
				if !wantError(t, op.run(ctx, tc.keyID), "NotFoundException", tc.msg) {
					t.Logf("KeyId %s", tc.keyID)
				}
			}
			if op.aliasForms {
				for _, k := range []string{"alias/missing", aliasARN(env, "alias/missing")} {
					if !wantError(t, op.run(ctx, k), "NotFoundException", "Alias "+aliasARN(env, "alias/missing")+" is not found.") {
						t.Logf("KeyId %s", k)
					}
				}
				k := "arn:aws:kms:" + region + ":" + env.Account + ":alias/forms"
				if !wantError(t, op.run(ctx, k), "NotFoundException", "Invalid arn "+region) {
					t.Logf("KeyId %s", k)
				}
			}
		})
	}
	// The key survived all of that in its original state.
	if got := describe(t, env, id); got.KeyState != types.KeyStateEnabled {
		t.Errorf("key state after the KeyId tests = %s", got.KeyState)
	}
}

// TestKeyStateTablePendingImport checks the PendingImport column of AWS's
// key-state table: a key of Origin EXTERNAL whose material was imported,
// used, then deleted, so that ciphertexts under it exist. Each row runs
// on a fresh such key.
func TestKeyStateTablePendingImport(t *testing.T) {
	env := testenv.Start(t)
	c := env.KMS
	type pendingImportKey struct {
		id, arn, alias, otherID string
		blob                    []byte
	}
	n := 0
	newKey := func(t *testing.T) *pendingImportKey {
		t.Helper()
		n++
		md := createExternal(t, env, "", "")
		k := &pendingImportKey{id: aws.ToString(md.KeyId), arn: aws.ToString(md.Arn), alias: fmt.Sprintf("alias/pi%d", n)}
		_, err := importMaterial(t, env, k.id, types.AlgorithmSpecRsaesOaepSha256, random(32), nil)
		mustOK(t, err, "ImportKeyMaterial")
		k.blob = encrypt(t, env, k.id, []byte("pi"), nil)
		createAlias(t, env, k.alias, k.id)
		k.otherID = aws.ToString(createKey(t, env, nil).KeyId)
		_, err = c.DeleteImportedKeyMaterial(t.Context(), &kms.DeleteImportedKeyMaterialInput{KeyId: aws.String(k.id)})
		mustOK(t, err, "DeleteImportedKeyMaterial")
		if got := describe(t, env, k.id).KeyState; got != types.KeyStatePendingImport {
			t.Fatalf("set up a PendingImport key, got %s", got)
		}
		return k
	}
	const (
		pendingImport = "pendingImport" // KMSInvalidStateException: <key ARN> is pending import.
		external      = "external"      // UnsupportedOperationException: <key ARN> origin is EXTERNAL …
		notPendingDel = "notPending"    // KMSInvalidStateException: <key ARN> is not pending deletion.
	)
	rows := []struct {
		name string
		want string // "" for success
		run  func(ctx context.Context, k *pendingImportKey) error
	}{
		{"Encrypt", pendingImport, func(ctx context.Context, k *pendingImportKey) error {
			return errOf(c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(k.alias), Plaintext: []byte("x")}))
		}},
		{"Decrypt", pendingImport, func(ctx context.Context, k *pendingImportKey) error {
			return errOf(c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: k.blob}))
		}},
		{"ReEncrypt from", pendingImport, func(ctx context.Context, k *pendingImportKey) error {
			return errOf(c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: k.blob, DestinationKeyId: aws.String(k.otherID)}))
		}},
		{"GenerateDataKey", pendingImport, func(ctx context.Context, k *pendingImportKey) error {
			return errOf(c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(k.id), KeySpec: types.DataKeySpecAes256}))
		}},
		{"GenerateDataKeyWithoutPlaintext", pendingImport, func(ctx context.Context, k *pendingImportKey) error {
			return errOf(c.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: aws.String(k.id), NumberOfBytes: aws.Int32(16)}))
		}},
		{"GenerateDataKeyPair", pendingImport, func(ctx context.Context, k *pendingImportKey) error {
			return errOf(c.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: aws.String(k.id), KeyPairSpec: types.DataKeyPairSpecEccNistP256}))
		}},
		{"CreateGrant", pendingImport, func(ctx context.Context, k *pendingImportKey) error {
			return errOf(c.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(k.id), GranteePrincipal: aws.String("arn:aws:iam::" + env.Account + ":root"), Operations: []types.GrantOperation{types.GrantOperationDecrypt}}))
		}},
		{"EnableKey", pendingImport, func(ctx context.Context, k *pendingImportKey) error {
			return errOf(c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(k.id)}))
		}},
		{"DisableKey", pendingImport, func(ctx context.Context, k *pendingImportKey) error {
			return errOf(c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(k.id)}))
		}},
		{"EnableKeyRotation", external, func(ctx context.Context, k *pendingImportKey) error {
			return errOf(c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(k.id)}))
		}},
		{"DisableKeyRotation", external, func(ctx context.Context, k *pendingImportKey) error {
			return errOf(c.DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: aws.String(k.id)}))
		}},
		{"GetKeyRotationStatus", external, func(ctx context.Context, k *pendingImportKey) error {
			return errOf(c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(k.id)}))
		}},
		{"RotateKeyOnDemand", pendingImport, func(ctx context.Context, k *pendingImportKey) error {
			return errOf(c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(k.id)}))
		}},
		{"CancelKeyDeletion", notPendingDel, func(ctx context.Context, k *pendingImportKey) error {
			return errOf(c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(k.id)}))
		}},
		{"DescribeKey", "", func(ctx context.Context, k *pendingImportKey) error {
			return errOf(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(k.alias)}))
		}},
		{"GetKeyPolicy", "", func(ctx context.Context, k *pendingImportKey) error {
			return errOf(c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(k.id)}))
		}},
		{"PutKeyPolicy", "", func(ctx context.Context, k *pendingImportKey) error {
			return errOf(c.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(k.id), Policy: aws.String(policy.Default(env.Account))}))
		}},
		{"ListResourceTags", "", func(ctx context.Context, k *pendingImportKey) error {
			return errOf(c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(k.id)}))
		}},
		{"ListGrants", "", func(ctx context.Context, k *pendingImportKey) error {
			return errOf(c.ListGrants(ctx, &kms.ListGrantsInput{KeyId: aws.String(k.id)}))
		}},
		{"TagResource", "", func(ctx context.Context, k *pendingImportKey) error {
			return errOf(c.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(k.id), Tags: tags("n", "v")}))
		}},
		{"UpdateKeyDescription", "", func(ctx context.Context, k *pendingImportKey) error {
			return errOf(c.UpdateKeyDescription(ctx, &kms.UpdateKeyDescriptionInput{KeyId: aws.String(k.id), Description: aws.String("d")}))
		}},
		{"CreateAlias", "", func(ctx context.Context, k *pendingImportKey) error {
			return errOf(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(k.alias + "-2"), TargetKeyId: aws.String(k.id)}))
		}},
		{"DeleteAlias", "", func(ctx context.Context, k *pendingImportKey) error {
			return errOf(c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String(k.alias)}))
		}},
		{"GetParametersForImport", "", func(ctx context.Context, k *pendingImportKey) error {
			_, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: aws.String(k.id),
				WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
			return err
		}},
		{"DeleteImportedKeyMaterial (no effect)", "", func(ctx context.Context, k *pendingImportKey) error {
			return errOf(c.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: aws.String(k.id)}))
		}},
		{"ScheduleKeyDeletion", "", func(ctx context.Context, k *pendingImportKey) error {
			_, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(k.id)})
			if err == nil {
				// Cancelled, a key without material goes back to PendingImport.
				_, err = c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(k.id)})
			}
			if err == nil {
				// Not describe(t, …): t here is the parent test's, and
				// this runs in a subtest's goroutine.
				var d *kms.DescribeKeyOutput
				if d, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(k.id)}); err == nil && d.KeyMetadata.KeyState != types.KeyStatePendingImport {
					err = fmt.Errorf("after CancelKeyDeletion the key is %s, want PendingImport", d.KeyMetadata.KeyState)
				}
			}
			return err
		}},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			k := newKey(t)
			err := row.run(t.Context(), k)
			switch row.want {
			case "":
				mustOK(t, err, row.name)
			case pendingImport:
				wantError(t, err, "KMSInvalidStateException", k.arn+" is pending import.")
			case external:
				wantError(t, err, "UnsupportedOperationException", k.arn+" origin is EXTERNAL which is not valid for this operation.")
			case notPendingDel:
				wantError(t, err, "KMSInvalidStateException", k.arn+" is not pending deletion.")
			}
			if row.want != "" {
				if got := describe(t, env, k.id).KeyState; got != types.KeyStatePendingImport {
					t.Errorf("a refused %s left the key %s", row.name, got)
				}
			}
		})
	}
}

// TestKeyStateTableMLKEM extends the key-state table to the operations of
// ML-KEM keys: Encapsulate and Decapsulate need an enabled key, as every
// cryptographic operation does; GetPublicKey too.
func TestKeyStateTableMLKEM(t *testing.T) {
	env := testenv.Start(t)
	c := env.KMS
	mlkem := types.EncapsulationAlgorithmSpecMlKem
	type kemKey struct {
		id, arn string
		ct      []byte // made while the key was enabled
	}
	ops := []struct {
		name                       string
		run                        func(ctx context.Context, k *kemKey) error
		enabled, disabled, pendDel outcome
	}{
		{"Encapsulate", func(ctx context.Context, k *kemKey) error {
			return errOf(c.Encapsulate(ctx, &kms.EncapsulateInput{KeyId: aws.String(k.id), EncapsulationAlgorithm: mlkem}))
		}, ok, disabled, pending},
		{"Decapsulate", func(ctx context.Context, k *kemKey) error {
			return errOf(c.Decapsulate(ctx, &kms.DecapsulateInput{KeyId: aws.String(k.arn), EncapsulationAlgorithm: mlkem, SharedSecretCiphertextBlob: k.ct}))
		}, ok, disabled, pending},
		{"GetPublicKey", func(ctx context.Context, k *kemKey) error {
			return errOf(c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(k.id)}))
		}, ok, disabled, pending},
		{"DescribeKey", func(ctx context.Context, k *kemKey) error {
			return errOf(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(k.id)}))
		}, ok, ok, ok},
	}
	for _, state := range []types.KeyState{types.KeyStateEnabled, types.KeyStateDisabled, types.KeyStatePendingDeletion} {
		for _, op := range ops {
			want := map[types.KeyState]outcome{
				types.KeyStateEnabled: op.enabled, types.KeyStateDisabled: op.disabled, types.KeyStatePendingDeletion: op.pendDel,
			}[state]
			t.Run(string(state)+"/"+op.name, func(t *testing.T) {
				ctx := t.Context()
				md := newAsymKey(t, env, types.KeySpecMlKem768, types.KeyUsageTypeEncapsulateDecapsulate)
				k := &kemKey{id: aws.ToString(md.KeyId), arn: aws.ToString(md.Arn)}
				enc, err := c.Encapsulate(ctx, &kms.EncapsulateInput{KeyId: md.KeyId, EncapsulationAlgorithm: mlkem})
				mustOK(t, err, "Encapsulate")
				k.ct = enc.SharedSecretCiphertextBlob
				switch state {
				case types.KeyStateDisabled:
					_, err = c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: md.KeyId})
				case types.KeyStatePendingDeletion:
					_, err = c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: md.KeyId, PendingWindowInDays: aws.Int32(7)})
				}
				mustOK(t, err, "set the state")
				err = op.run(ctx, k)
				switch want {
				case ok:
					if err != nil {
						t.Errorf("got %v, want success", err)
					}
				case disabled:
					wantError(t, err, "DisabledException", k.arn+" is disabled.")
					wantType[*types.DisabledException](t, err)
				case pending:
					wantError(t, err, "KMSInvalidStateException", k.arn+" is pending deletion.")
					wantType[*types.KMSInvalidStateException](t, err)
				}
				if got := describe(t, env, k.id).KeyState; got != state {
					t.Errorf("key state changed from %s to %s", state, got)
				}
			})
		}
	}
}

// errOf is the error of an SDK call, whose answer the caller does not
// need: a row of an operations table is then the call itself.
func errOf[T any](_ T, err error) error { return err }
