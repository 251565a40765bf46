package e2e

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trent-kms/trent/internal/testenv"
)

func rotationStatus(t testing.TB, env *testenv.Env, keyID string) *kms.GetKeyRotationStatusOutput {
	t.Helper()
	out, err := env.KMS.GetKeyRotationStatus(t.Context(), &kms.GetKeyRotationStatusInput{KeyId: aws.String(keyID)})
	mustOK(t, err, "GetKeyRotationStatus")
	return out
}

func currentMaterial(t testing.TB, env *testenv.Env, keyID string) string {
	t.Helper()
	return aws.ToString(describe(t, env, keyID).CurrentKeyMaterialId)
}

func listRotations(t testing.TB, env *testenv.Env, keyID string, include types.IncludeKeyMaterial, limit int32) []types.RotationsListEntry {
	t.Helper()
	in := &kms.ListKeyRotationsInput{KeyId: aws.String(keyID), IncludeKeyMaterial: include}
	if limit > 0 {
		in.Limit = aws.Int32(limit)
	}
	return listAll(t, "ListKeyRotations", limit, func(marker *string) (page[types.RotationsListEntry], error) {
		in.Marker = marker
		out, err := env.KMS.ListKeyRotations(t.Context(), in)
		if err != nil {
			return page[types.RotationsListEntry]{}, err
		}
		return page[types.RotationsListEntry]{out.Rotations, out.Truncated, out.NextMarker}, nil
	})
}

// decryptsWith checks that blob decrypts to pt with the material materialID.
func decryptsWith(t testing.TB, env *testenv.Env, blob []byte, pt, materialID string) {
	t.Helper()
	out, err := env.KMS.Decrypt(t.Context(), &kms.DecryptInput{CiphertextBlob: blob})
	mustOK(t, err, "Decrypt")
	if string(out.Plaintext) != pt || aws.ToString(out.KeyMaterialId) != materialID {
		t.Errorf("Decrypt = %q with material %s, want %q with %s", out.Plaintext, aws.ToString(out.KeyMaterialId), pt, materialID)
	}
}

func TestKeyRotationSettings(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	md := createKey(t, env, nil)
	id, arn := aws.ToString(md.KeyId), aws.ToString(md.Arn)

	st := rotationStatus(t, env, id)
	if st.KeyRotationEnabled || st.RotationPeriodInDays != nil || st.NextRotationDate != nil || st.OnDemandRotationStartDate != nil {
		t.Errorf("new key rotation status = %+v, want disabled and nothing else", st)
	}
	if k := aws.ToString(st.KeyId); k != arn && k != id {
		t.Errorf("GetKeyRotationStatus KeyId = %s", k)
	}

	for _, tc := range []struct {
		period *int32
		want   int32
	}{{nil, 365}, {aws.Int32(90), 90}, {aws.Int32(2560), 2560}, {aws.Int32(180), 180}} {
		_, err := env.KMS.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(arn), RotationPeriodInDays: tc.period})
		mustOK(t, err, "EnableKeyRotation")
		st := rotationStatus(t, env, arn)
		wantNext := env.Clock.Now().Add(time.Duration(tc.want) * day)
		if !st.KeyRotationEnabled || aws.ToInt32(st.RotationPeriodInDays) != tc.want || st.NextRotationDate == nil || !near(*st.NextRotationDate, wantNext, time.Second) {
			t.Errorf("after EnableKeyRotation(%v): %+v, want enabled, %d days, next %v", aws.ToInt32(tc.period), st, tc.want, wantNext)
		}
	}
	for _, tc := range []struct {
		period int32
		msg    string
	}{
		{89, "1 validation error detected: Value '89' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value greater than or equal to 90"},
		{2561, "1 validation error detected: Value '2561' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value less than or equal to 2560"},
		{0, "1 validation error detected: Value '0' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value greater than or equal to 90"},
	} {
		_, err := env.KMS.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(id), RotationPeriodInDays: aws.Int32(tc.period)})
		wantError(t, err, "ValidationException", tc.msg)
	}
	if st := rotationStatus(t, env, id); aws.ToInt32(st.RotationPeriodInDays) != 180 {
		t.Errorf("refused EnableKeyRotation changed the period to %d", aws.ToInt32(st.RotationPeriodInDays))
	}

	for range 2 { // idempotent
		_, err := env.KMS.DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: aws.String(id)})
		mustOK(t, err, "DisableKeyRotation")
	}
	if st := rotationStatus(t, env, id); st.KeyRotationEnabled || st.RotationPeriodInDays != nil || st.NextRotationDate != nil {
		t.Errorf("after DisableKeyRotation: %+v", st)
	}
	// With rotation disabled, nothing rotates however long we wait.
	m := currentMaterial(t, env, id)
	env.Clock.Advance(3000 * day)
	env.RunJobs(t)
	if got := currentMaterial(t, env, id); got != m {
		t.Errorf("key with rotation disabled rotated: %s -> %s", m, got)
	}
}

func TestRotateKeyOnDemand(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	md := createKey(t, env, nil)
	id, arn := aws.ToString(md.KeyId), aws.ToString(md.Arn)
	m1 := aws.ToString(md.CurrentKeyMaterialId)
	c1 := encrypt(t, env, id, []byte("first"), map[string]string{"n": "1"})
	if got := listRotations(t, env, id, "", 0); len(got) != 0 {
		t.Errorf("ListKeyRotations of a new key = %+v", got)
	}

	_, err := env.KMS.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(id), RotationPeriodInDays: aws.Int32(180)})
	mustOK(t, err, "EnableKeyRotation")
	next := rotationStatus(t, env, id).NextRotationDate

	env.Clock.Advance(time.Hour)
	out, err := env.KMS.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	mustOK(t, err, "RotateKeyOnDemand")
	if aws.ToString(out.KeyId) != arn {
		t.Errorf("RotateKeyOnDemand KeyId = %s, want %s", aws.ToString(out.KeyId), arn)
	}
	m2 := currentMaterial(t, env, id)
	if !materialIDRE.MatchString(m2) || m2 == m1 {
		t.Fatalf("CurrentKeyMaterialId after rotation = %s (before %s)", m2, m1)
	}
	// On-demand rotation leaves the automatic schedule alone.
	if st := rotationStatus(t, env, id); !st.KeyRotationEnabled || !st.NextRotationDate.Equal(*next) {
		t.Errorf("RotateKeyOnDemand moved NextRotationDate from %v to %v", next, st.NextRotationDate)
	}

	c2 := encrypt(t, env, arn, []byte("second"), nil)
	decryptsWith(t, env, c2, "second", m2)
	out2, err := env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: c1, EncryptionContext: map[string]string{"n": "1"}, KeyId: aws.String(id)})
	mustOK(t, err, "Decrypt old ciphertext")
	if string(out2.Plaintext) != "first" || aws.ToString(out2.KeyMaterialId) != m1 {
		t.Errorf("old ciphertext decrypts to %q with %s, want first with %s", out2.Plaintext, aws.ToString(out2.KeyMaterialId), m1)
	}
	re, err := env.KMS.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: c1, SourceEncryptionContext: map[string]string{"n": "1"}, DestinationKeyId: aws.String(id)})
	mustOK(t, err, "ReEncrypt onto the new material")
	if aws.ToString(re.SourceKeyMaterialId) != m1 || aws.ToString(re.DestinationKeyMaterialId) != m2 {
		t.Errorf("ReEncrypt material ids = %s -> %s, want %s -> %s", aws.ToString(re.SourceKeyMaterialId), aws.ToString(re.DestinationKeyMaterialId), m1, m2)
	}
	decryptsWith(t, env, re.CiphertextBlob, "first", m2)

	rot := listRotations(t, env, arn, "", 0)
	if len(rot) != 1 || aws.ToString(rot[0].KeyId) != arn || aws.ToString(rot[0].KeyMaterialId) != m2 ||
		rot[0].RotationType != types.RotationTypeOnDemand || rot[0].RotationDate == nil || !near(*rot[0].RotationDate, env.Clock.Now(), time.Second) ||
		rot[0].KeyMaterialState != types.KeyMaterialStateCurrent {
		t.Errorf("ListKeyRotations = %+v", rot)
	}

	// Two more, then page through them one at a time.
	mats := []string{m1, m2}
	for range 2 {
		_, err := env.KMS.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(arn)})
		mustOK(t, err, "RotateKeyOnDemand")
		mats = append(mats, currentMaterial(t, env, id))
	}
	rot = listRotations(t, env, id, types.IncludeKeyMaterialRotationsOnly, 1)
	if len(rot) != 3 {
		t.Fatalf("ListKeyRotations paged by 1 = %d entries, want 3", len(rot))
	}
	for i, r := range rot {
		wantState := types.KeyMaterialStateNonCurrent
		if i == 2 {
			wantState = types.KeyMaterialStateCurrent
		}
		if aws.ToString(r.KeyMaterialId) != mats[i+1] || r.RotationType != types.RotationTypeOnDemand || r.KeyMaterialState != wantState {
			t.Errorf("rotation %d = %+v, want material %s %s", i, r, mats[i+1], wantState)
		}
	}
	all := listRotations(t, env, id, types.IncludeKeyMaterialAllKeyMaterial, 2)
	if len(all) != 4 || aws.ToString(all[0].KeyMaterialId) != m1 || all[0].RotationType != "" || all[0].RotationDate != nil ||
		all[0].KeyMaterialState != types.KeyMaterialStateNonCurrent {
		t.Errorf("ListKeyRotations(ALL_KEY_MATERIAL) = %+v", all)
	}

	_, err = env.KMS.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(id), Marker: aws.String("junk")})
	wantError(t, err, "InvalidMarkerException", anyMessage)
	_, err = env.KMS.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(id), Limit: aws.Int32(0)})
	wantError(t, err, "ValidationException",
		"1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1")
}

func TestRotateKeyOnDemandLimit(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	md := createKey(t, env, nil)
	id, arn := aws.ToString(md.KeyId), aws.ToString(md.Arn)
	blob := encrypt(t, env, id, []byte("oldest"), nil)
	for i := range 25 {
		_, err := env.KMS.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
		mustOK(t, err, fmt.Sprintf("RotateKeyOnDemand #%d", i+1))
	}
	last := currentMaterial(t, env, id)
	_, err := env.KMS.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	wantError(t, err, "LimitExceededException",
		"The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: "+arn)
	wantType[*types.LimitExceededException](t, err)
	if got := currentMaterial(t, env, id); got != last {
		t.Errorf("refused rotation changed the material")
	}
	if got := listRotations(t, env, id, "", 0); len(got) != 25 {
		t.Errorf("ListKeyRotations = %d entries, want 25", len(got))
	}
	decryptsWith(t, env, blob, "oldest", aws.ToString(md.CurrentKeyMaterialId))

	// Automatic rotation is not limited by the on-demand quota.
	_, err = env.KMS.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(id), RotationPeriodInDays: aws.Int32(90)})
	mustOK(t, err, "EnableKeyRotation")
	env.Clock.Advance(91 * day)
	env.RunJobs(t)
	if got := currentMaterial(t, env, id); got == last {
		t.Error("automatic rotation did not happen after the on-demand limit was reached")
	}
}

func TestAutomaticRotation(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	md := createKey(t, env, nil)
	id, arn := aws.ToString(md.KeyId), aws.ToString(md.Arn)
	m1 := aws.ToString(md.CurrentKeyMaterialId)
	old := encrypt(t, env, id, []byte("before rotation"), map[string]string{"x": "y"})

	_, err := env.KMS.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(id), RotationPeriodInDays: aws.Int32(90)})
	mustOK(t, err, "EnableKeyRotation")
	next1 := *rotationStatus(t, env, id).NextRotationDate
	if !near(next1, env.Clock.Now().Add(90*day), time.Second) {
		t.Errorf("NextRotationDate = %v, want now+90d", next1)
	}

	env.Clock.Advance(89 * day)
	env.RunJobs(t)
	if got := currentMaterial(t, env, id); got != m1 {
		t.Fatalf("key rotated after 89 of 90 days")
	}

	env.Clock.Advance(2 * day)
	env.RunJobs(t)
	m2 := currentMaterial(t, env, id)
	if m2 == m1 || !materialIDRE.MatchString(m2) {
		t.Fatalf("key did not rotate after 91 days: material %s", m2)
	}
	rotatedAt := env.Clock.Now()
	rot := listRotations(t, env, arn, "", 0)
	if len(rot) != 1 || rot[0].RotationType != types.RotationTypeAutomatic || aws.ToString(rot[0].KeyMaterialId) != m2 ||
		rot[0].RotationDate == nil || !near(*rot[0].RotationDate, rotatedAt, time.Second) {
		t.Errorf("ListKeyRotations after automatic rotation = %+v", rot)
	}
	st := rotationStatus(t, env, id)
	if !st.KeyRotationEnabled || aws.ToInt32(st.RotationPeriodInDays) != 90 || !st.NextRotationDate.After(next1) ||
		!near(*st.NextRotationDate, rotatedAt.Add(90*day), time.Second) {
		t.Errorf("rotation status after rotation = %+v, want next ≈ %v", st, rotatedAt.Add(90*day))
	}
	out, err := env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: old, EncryptionContext: map[string]string{"x": "y"}})
	mustOK(t, err, "Decrypt pre-rotation ciphertext")
	if string(out.Plaintext) != "before rotation" || aws.ToString(out.KeyMaterialId) != m1 {
		t.Errorf("old ciphertext = %q with %s", out.Plaintext, aws.ToString(out.KeyMaterialId))
	}
	decryptsWith(t, env, encrypt(t, env, id, []byte("after"), nil), "after", m2)

	// Running the jobs again at the same time does nothing more.
	env.RunJobs(t)
	if got := currentMaterial(t, env, id); got != m2 {
		t.Errorf("second RunJobs rotated again")
	}
	// The next period brings the next rotation.
	env.Clock.Advance(90 * day)
	env.RunJobs(t)
	if got := listRotations(t, env, id, "", 0); len(got) != 2 || got[1].RotationType != types.RotationTypeAutomatic {
		t.Errorf("after a second period: %+v", got)
	}
	decryptsWith(t, env, encrypt(t, env, id, []byte("x"), nil), "x", currentMaterial(t, env, id))
	_, err = env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: old, EncryptionContext: map[string]string{"x": "y"}})
	mustOK(t, err, "Decrypt oldest ciphertext after two rotations")
}

func TestDisabledKeyRotatesAfterEnable(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	md := createKey(t, env, nil)
	id := aws.ToString(md.KeyId)
	m1 := aws.ToString(md.CurrentKeyMaterialId)
	_, err := env.KMS.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(id), RotationPeriodInDays: aws.Int32(90)})
	mustOK(t, err, "EnableKeyRotation")
	_, err = env.KMS.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)})
	mustOK(t, err, "DisableKey")

	env.Clock.Advance(100 * day)
	env.RunJobs(t)
	if got := currentMaterial(t, env, id); got != m1 {
		t.Fatalf("disabled key rotated")
	}
	if st := rotationStatus(t, env, id); !st.KeyRotationEnabled {
		t.Errorf("disabled key lost its rotation setting: %+v", st)
	}
	env.RunJobs(t)
	if got := listRotations(t, env, id, "", 0); len(got) != 0 {
		t.Fatalf("disabled key has rotations %+v", got)
	}

	_, err = env.KMS.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)})
	mustOK(t, err, "EnableKey")
	env.RunJobs(t)
	m2 := currentMaterial(t, env, id)
	if m2 == m1 {
		t.Fatal("key did not rotate at the first RunJobs after EnableKey")
	}
	rot := listRotations(t, env, id, "", 0)
	if len(rot) != 1 || rot[0].RotationType != types.RotationTypeAutomatic {
		t.Errorf("ListKeyRotations = %+v", rot)
	}
	if st := rotationStatus(t, env, id); !near(*st.NextRotationDate, env.Clock.Now().Add(90*day), time.Second) {
		t.Errorf("NextRotationDate after the catch-up rotation = %v, want now+90d", st.NextRotationDate)
	}
	env.RunJobs(t)
	if got := currentMaterial(t, env, id); got != m2 {
		t.Error("rotated twice")
	}
}

// TestConcurrentUseDuringRotation encrypts and decrypts from several
// goroutines while the key rotates and its alias moves; every ciphertext
// must decrypt and every response must name the right key.
func TestConcurrentUseDuringRotation(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	a := createKey(t, env, nil)
	b := createKey(t, env, nil)
	createAlias(t, env, "alias/busy", aws.ToString(a.KeyId))
	arns := map[string]bool{aws.ToString(a.Arn): true, aws.ToString(b.Arn): true}

	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := range 6 {
		wg.Go(func() {
			for i := range 25 {
				pt := fmt.Sprintf("worker %d message %d", w, i)
				ec := map[string]string{"w": fmt.Sprint(w)}
				enc, err := env.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/busy"), Plaintext: []byte(pt), EncryptionContext: ec})
				if err != nil {
					errs <- fmt.Errorf("Encrypt: %w", err)
					return
				}
				dec, err := env.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
				if err != nil {
					errs <- fmt.Errorf("Decrypt: %w", err)
					return
				}
				if string(dec.Plaintext) != pt || aws.ToString(dec.KeyId) != aws.ToString(enc.KeyId) || !arns[aws.ToString(enc.KeyId)] {
					errs <- fmt.Errorf("round trip %q via %s gave %q via %s", pt, aws.ToString(enc.KeyId), dec.Plaintext, aws.ToString(dec.KeyId))
					return
				}
			}
		})
	}
	for i := range 6 {
		for _, k := range []*types.KeyMetadata{a, b} {
			if _, err := env.KMS.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: k.KeyId}); err != nil {
				errs <- fmt.Errorf("RotateKeyOnDemand: %w", err)
			}
		}
		target := a
		if i%2 == 0 {
			target = b
		}
		if _, err := env.KMS.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/busy"), TargetKeyId: target.KeyId}); err != nil {
			errs <- fmt.Errorf("UpdateAlias: %w", err)
		}
		if _, err := env.KMS.TagResource(ctx, &kms.TagResourceInput{KeyId: a.KeyId, Tags: tags("round", fmt.Sprint(i))}); err != nil {
			errs <- fmt.Errorf("TagResource: %w", err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, k := range []*types.KeyMetadata{a, b} {
		if got := listRotations(t, env, aws.ToString(k.KeyId), "", 0); len(got) != 6 {
			t.Errorf("key %s has %d rotations, want 6", aws.ToString(k.KeyId), len(got))
		}
	}
}

// TestLifecycleSurvivesRestart closes the server and opens its data
// directory again: rotated material, the rotation schedule and a pending
// deletion are all still there and still acted on.
func TestLifecycleSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	env := testenv.Start(t, testenv.WithDataDir(dir))
	ctx := t.Context()
	rot := createKey(t, env, nil)
	doomed := createKey(t, env, nil)
	rotID, doomedID := aws.ToString(rot.KeyId), aws.ToString(doomed.KeyId)
	createAlias(t, env, "alias/rot", rotID)
	createAlias(t, env, "alias/doomed", doomedID)
	old := encrypt(t, env, rotID, []byte("v1"), nil)
	_, err := env.KMS.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(rotID)})
	mustOK(t, err, "RotateKeyOnDemand")
	mid := encrypt(t, env, rotID, []byte("v2"), nil)
	m2 := currentMaterial(t, env, rotID)
	_, err = env.KMS.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(rotID), RotationPeriodInDays: aws.Int32(90)})
	mustOK(t, err, "EnableKeyRotation")
	next := *rotationStatus(t, env, rotID).NextRotationDate
	sched, err := env.KMS.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(doomedID), PendingWindowInDays: aws.Int32(7)})
	mustOK(t, err, "ScheduleKeyDeletion")
	env.Close()

	env = testenv.Start(t, testenv.WithDataDir(dir))
	if got := currentMaterial(t, env, "alias/rot"); got != m2 {
		t.Errorf("CurrentKeyMaterialId after restart = %s, want %s", got, m2)
	}
	decryptsWith(t, env, old, "v1", aws.ToString(rot.CurrentKeyMaterialId))
	decryptsWith(t, env, mid, "v2", m2)
	if st := rotationStatus(t, env, rotID); !st.KeyRotationEnabled || aws.ToInt32(st.RotationPeriodInDays) != 90 || !st.NextRotationDate.Equal(next) {
		t.Errorf("rotation status after restart = %+v, want enabled, 90, %v", st, next)
	}
	if got := describe(t, env, "alias/doomed"); got.KeyState != types.KeyStatePendingDeletion || !got.DeletionDate.Equal(*sched.DeletionDate) {
		t.Errorf("pending deletion after restart = %s %v", got.KeyState, got.DeletionDate)
	}

	// The new server's clock starts where the old one did; move it on.
	env.Clock.Advance(8 * day)
	env.RunJobs(t)
	_, err = env.KMS.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String(doomedID)})
	wantError(t, err, "NotFoundException", "Key '"+aws.ToString(doomed.Arn)+"' does not exist")
	env.Clock.Advance(83 * day)
	env.RunJobs(t)
	if got := currentMaterial(t, env, rotID); got == m2 {
		t.Error("rotation schedule was not kept across the restart")
	}
	decryptsWith(t, env, old, "v1", aws.ToString(rot.CurrentKeyMaterialId))
}
