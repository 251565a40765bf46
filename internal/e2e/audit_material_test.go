package e2e

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trent-kms/trent/internal/testenv"
)

// TestAuditKeyMaterialID: the events of symmetric cryptographic operations
// name the key material they used in additionalEventData, as AWS's have
// since 2025 (keyMaterialId; sourceKeyMaterialId and
// destinationKeyMaterialId for ReEncrypt), and a Decrypt of a ciphertext
// made before a rotation names the old material, not the current one.
func TestAuditKeyMaterialID(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	src := createKey(t, env, nil)
	dst := createKey(t, env, nil)
	old := aws.ToString(src.CurrentKeyMaterialId)
	blob := encrypt(t, env, aws.ToString(src.KeyId), []byte("before rotation"), nil)
	_, err := env.KMS.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: src.KeyId})
	mustOK(t, err, "RotateKeyOnDemand")
	cur := aws.ToString(describe(t, env, aws.ToString(src.KeyId)).CurrentKeyMaterialId)
	if cur == old || old == "" {
		t.Fatalf("material ids before and after rotation: %q, %q", old, cur)
	}

	_, err = env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
	mustOK(t, err, "Decrypt")
	_, err = env.KMS.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: src.KeyId, KeySpec: types.DataKeySpecAes256})
	mustOK(t, err, "GenerateDataKey")
	_, err = env.KMS.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: src.KeyId, KeySpec: types.DataKeySpecAes256})
	mustOK(t, err, "GenerateDataKeyWithoutPlaintext")
	_, err = env.KMS.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: src.KeyId, KeyPairSpec: types.DataKeyPairSpecEccNistP256})
	mustOK(t, err, "GenerateDataKeyPair")
	_, err = env.KMS.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: blob, DestinationKeyId: dst.KeyId})
	mustOK(t, err, "ReEncrypt")
	// Encrypt last: the one before the rotation must not be found below.
	encrypt(t, env, aws.ToString(src.KeyId), []byte("after rotation"), nil)
	// An asymmetric key has no material id: no additionalEventData.
	sign := createKey(t, env, &kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
	_, err = env.KMS.Sign(ctx, &kms.SignInput{KeyId: sign.KeyId, Message: []byte("m"), SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	mustOK(t, err, "Sign")

	ct := cloudTrailClient(env, env.AccessKeyID, env.Secret)
	// Decrypt's event shows the default algorithm the request left out, as
	// AWS's does; no event shows a DryRun the request did not send.
	params := func(name string) map[string]any { return trailEvents(t, ct, name)[0].RequestParameters }
	if p := params("Decrypt"); p["encryptionAlgorithm"] != "SYMMETRIC_DEFAULT" {
		t.Errorf("Decrypt requestParameters %v: no encryptionAlgorithm", p)
	}
	for _, name := range []string{"Encrypt", "Decrypt", "GenerateDataKey", "ReEncrypt", "Sign"} {
		if p := params(name); p["dryRun"] != nil {
			t.Errorf("%s requestParameters %v: dryRun the request did not send", name, p)
		}
	}
	_, err = env.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: src.KeyId, Plaintext: []byte("x"), DryRun: aws.Bool(true)})
	wantError(t, err, "DryRunOperationException", anyMessage)
	if p := params("Encrypt"); p["dryRun"] != true {
		t.Errorf("a DryRun Encrypt's requestParameters %v: no dryRun", p)
	}

	data := func(name string) []map[string]any {
		var all []map[string]any
		for _, ev := range trailEvents(t, ct, name) {
			if ev.ErrorCode == "" { // not the DryRun above: no material was used
				all = append(all, ev.AdditionalEventData)
			}
		}
		return all
	}
	for _, tc := range []struct {
		name string
		want []map[string]any // newest first, as LookupEvents answers
	}{
		{"Encrypt", []map[string]any{{"keyMaterialId": cur}, {"keyMaterialId": old}}},
		{"Decrypt", []map[string]any{{"keyMaterialId": old}}},
		{"GenerateDataKey", []map[string]any{{"keyMaterialId": cur}}},
		{"GenerateDataKeyWithoutPlaintext", []map[string]any{{"keyMaterialId": cur}}},
		{"GenerateDataKeyPair", []map[string]any{{"keyMaterialId": cur}}},
		{"ReEncrypt", []map[string]any{{"sourceKeyMaterialId": old, "destinationKeyMaterialId": aws.ToString(dst.CurrentKeyMaterialId)}}},
		{"Sign", []map[string]any{nil}},
	} {
		if got := data(tc.name); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s additionalEventData %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestServiceEventDetails: the job runner's events carry AWS's
// serviceEventDetails — RotateKey the rotation's type, the key's origin,
// the previous and the new material and the bare key id; DeleteKey none;
// DeleteExpiredKeyMaterial the key id and the material that expired.
func TestServiceEventDetails(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	rot := createKey(t, env, nil)
	_, err := env.KMS.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: rot.KeyId, RotationPeriodInDays: aws.Int32(90)})
	mustOK(t, err, "EnableKeyRotation")
	del := createKey(t, env, nil)
	_, err = env.KMS.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: del.KeyId, PendingWindowInDays: aws.Int32(7)})
	mustOK(t, err, "ScheduleKeyDeletion")
	ext := createExternal(t, env, "", "")
	imp, err := importMaterial(t, env, aws.ToString(ext.KeyId), types.AlgorithmSpecRsaesOaepSha256, random(32),
		&kms.ImportKeyMaterialInput{ValidTo: aws.Time(env.Clock.Now().Add(24 * time.Hour))})
	mustOK(t, err, "ImportKeyMaterial")
	env.Clock.Advance(91 * 24 * time.Hour)
	env.RunJobs(t)

	ct := cloudTrailClient(env, env.AccessKeyID, env.Secret)
	details := func(name string) map[string]any {
		for _, ev := range trailEvents(t, ct, name) {
			if ev.EventType == "AwsServiceEvent" {
				return ev.ServiceEventDetails
			}
		}
		t.Fatalf("no %s service event", name)
		return nil
	}
	cur := aws.ToString(describe(t, env, aws.ToString(rot.KeyId)).CurrentKeyMaterialId)
	want := map[string]any{"rotationType": "AUTOMATIC", "keyOrigin": "AWS_KMS", "previousKeyMaterialId": aws.ToString(rot.CurrentKeyMaterialId),
		"currentKeyMaterialId": cur, "keyId": aws.ToString(rot.KeyId)}
	if d := details("RotateKey"); !reflect.DeepEqual(d, want) || cur == aws.ToString(rot.CurrentKeyMaterialId) {
		t.Errorf("RotateKey serviceEventDetails %v, want %v", d, want)
	}
	if d := details("DeleteKey"); d != nil {
		t.Errorf("DeleteKey serviceEventDetails %v, want none", d)
	}
	if r := trailEvents(t, ct, "DeleteKey")[0].ResponseElements; r["keyId"] != aws.ToString(del.Arn) || len(r) != 1 {
		t.Errorf("DeleteKey responseElements %v, want the key's ARN", r)
	}
	want = map[string]any{"keyId": aws.ToString(ext.KeyId), "keyMaterialId": aws.ToString(imp.KeyMaterialId)}
	if d := details("DeleteExpiredKeyMaterial"); !reflect.DeepEqual(d, want) {
		t.Errorf("DeleteExpiredKeyMaterial serviceEventDetails %v, want %v", d, want)
	}
}

// trailEvent is what these tests read of a CloudTrail event.
type trailEvent struct {
	ErrorCode           string         `json:"errorCode"`
	EventType           string         `json:"eventType"`
	RequestParameters   map[string]any `json:"requestParameters"`
	ResponseElements    map[string]any `json:"responseElements"`
	AdditionalEventData map[string]any `json:"additionalEventData"`
	ServiceEventDetails map[string]any `json:"serviceEventDetails"`
}

// trailEvents are the events named name, newest first, as LookupEvents
// answers; there is at least one.
func trailEvents(t *testing.T, ct *cloudtrail.Client, name string) []trailEvent {
	t.Helper()
	var evs []trailEvent
	for _, e := range lookupAll(t, ct, &cloudtrail.LookupEventsInput{LookupAttributes: attr(cttypes.LookupAttributeKeyEventName, name)}) {
		var ev trailEvent
		if err := json.Unmarshal([]byte(aws.ToString(e.CloudTrailEvent)), &ev); err != nil {
			t.Fatalf("%s event: %v", name, err)
		}
		evs = append(evs, ev)
	}
	if len(evs) == 0 {
		t.Fatalf("no %s event", name)
	}
	return evs
}

// TestAuditKeyARNInResponse: operations that answer without the key's ARN
// show it in responseElements.keyId, as AWS's events have since December
// 2022 (EnableKey, DisableKey, UpdateAlias, DeleteAlias; CreateGrant
// beside its grantId).
func TestAuditKeyARNInResponse(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	k1, k2 := createKey(t, env, nil), createKey(t, env, nil)
	_, err := env.KMS.DisableKey(ctx, &kms.DisableKeyInput{KeyId: k1.KeyId})
	mustOK(t, err, "DisableKey")
	_, err = env.KMS.EnableKey(ctx, &kms.EnableKeyInput{KeyId: k1.KeyId})
	mustOK(t, err, "EnableKey")
	createAlias(t, env, "alias/arn-in-response", aws.ToString(k1.KeyId))
	_, err = env.KMS.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/arn-in-response"), TargetKeyId: k2.KeyId})
	mustOK(t, err, "UpdateAlias")
	createAlias(t, env, "alias/arn-in-response-2", aws.ToString(k2.KeyId))
	_, err = env.KMS.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/arn-in-response-2")})
	mustOK(t, err, "DeleteAlias")

	// Retired by token alone: the request shows no parameter, and
	// additionalEventData names the grant, as AWS's event does.
	g2, err := env.KMS.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: k1.KeyId, GranteePrincipal: aws.String("arn:aws:iam::" + env.Account + ":root"),
		RetiringPrincipal: aws.String("arn:aws:iam::" + env.Account + ":root"), Operations: []types.GrantOperation{types.GrantOperationEncrypt}})
	mustOK(t, err, "CreateGrant")
	_, err = env.KMS.RetireGrant(ctx, &kms.RetireGrantInput{GrantToken: g2.GrantToken})
	mustOK(t, err, "RetireGrant")

	ct := cloudTrailClient(env, env.AccessKeyID, env.Secret)
	if retire := trailEvents(t, ct, "RetireGrant"); len(retire) != 1 || retire[0].RequestParameters != nil ||
		retire[0].AdditionalEventData["grantId"] != aws.ToString(g2.GrantId) {
		t.Errorf("RetireGrant events %+v; want one, with requestParameters null and grant %s", retire, aws.ToString(g2.GrantId))
	}
	for _, tc := range []struct {
		name string
		want map[string]any
	}{
		{"DisableKey", map[string]any{"keyId": aws.ToString(k1.Arn)}},
		{"EnableKey", map[string]any{"keyId": aws.ToString(k1.Arn)}},
		{"UpdateAlias", map[string]any{"keyId": aws.ToString(k2.Arn)}}, // the alias's new target
		{"DeleteAlias", map[string]any{"keyId": aws.ToString(k2.Arn)}}, // the key it pointed to
		{"CreateGrant", map[string]any{"grantId": aws.ToString(g2.GrantId), "keyId": aws.ToString(k1.Arn)}},
	} {
		if got := trailEvents(t, ct, tc.name)[0].ResponseElements; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s responseElements %v, want %v", tc.name, got, tc.want)
		}
	}
}
