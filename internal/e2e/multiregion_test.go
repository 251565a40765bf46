package e2e

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trent-kms/trent/internal/testenv"
)

// Multi-Region keys through the AWS SDK: two clients of one Trent, one per
// region, as a program using multi-Region keys has.

// mrEnv is a Trent with a client for its home region (the primary's) and
// one for another region (the replica's).
type mrEnv struct {
	*testenv.Env
	home, away        *kms.Client
	homeRegion, other string
}

func startMR(t *testing.T) *mrEnv {
	t.Helper()
	env := testenv.Start(t)
	other := "eu-west-1"
	if env.Region == other {
		other = "ap-southeast-2"
	}
	return &mrEnv{Env: env, home: env.KMS, away: regionClient(env, env.AccessKeyID, env.Secret, other),
		homeRegion: env.Region, other: other}
}

// regionClient is a client of env's server that signs for region.
func regionClient(env *testenv.Env, id, secret, region string) *kms.Client {
	return kms.NewFromConfig(testenv.Config(env.URL, region, id, secret, ""))
}

func (e *mrEnv) arn(region, id string) string {
	return "arn:aws:kms:" + region + ":" + e.Account + ":key/" + id
}

// createMR creates a multi-Region primary in the home region.
func (e *mrEnv) createMR(t *testing.T, in *kms.CreateKeyInput) *types.KeyMetadata {
	t.Helper()
	if in == nil {
		in = &kms.CreateKeyInput{}
	}
	in.MultiRegion = aws.Bool(true)
	out, err := e.home.CreateKey(t.Context(), in)
	mustOK(t, err, "CreateKey MultiRegion")
	return out.KeyMetadata
}

// replicate replicates id into the other region.
func (e *mrEnv) replicate(t *testing.T, id string) *kms.ReplicateKeyOutput {
	t.Helper()
	out, err := e.home.ReplicateKey(t.Context(), &kms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String(e.other)})
	mustOK(t, err, "ReplicateKey")
	return out
}

func describeIn(t *testing.T, c *kms.Client, id string) *types.KeyMetadata {
	t.Helper()
	out, err := c.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String(id)})
	mustOK(t, err, "DescribeKey "+id)
	return out.KeyMetadata
}

// wantConfig checks md's MultiRegionConfiguration.
func wantConfig(t *testing.T, md *types.KeyMetadata, typ types.MultiRegionKeyType, primaryARN, primaryRegion string, replicas ...string) {
	t.Helper()
	if md.MultiRegion == nil || !*md.MultiRegion {
		t.Fatalf("%s: MultiRegion = %v, want true", aws.ToString(md.Arn), md.MultiRegion)
	}
	c := md.MultiRegionConfiguration
	if c == nil {
		t.Fatalf("%s: no MultiRegionConfiguration", aws.ToString(md.Arn))
	}
	if c.MultiRegionKeyType != typ || c.PrimaryKey == nil || aws.ToString(c.PrimaryKey.Arn) != primaryARN || aws.ToString(c.PrimaryKey.Region) != primaryRegion {
		t.Errorf("%s: type %s, primary %+v; want %s, %s in %s", aws.ToString(md.Arn), c.MultiRegionKeyType, c.PrimaryKey, typ, primaryARN, primaryRegion)
	}
	var got []string
	for _, r := range c.ReplicaKeys {
		got = append(got, aws.ToString(r.Arn)+"@"+aws.ToString(r.Region))
	}
	if !slices.Equal(got, replicas) {
		t.Errorf("%s: ReplicaKeys %v, want %v", aws.ToString(md.Arn), got, replicas)
	}
}

var mrkIDPattern = regexp.MustCompile(`^mrk-[0-9a-f]{32}$`)

// TestMultiRegionReplicateAndUse: a primary made in one region, replicated
// into another; a ciphertext made in either region decrypts in the other,
// and the replica has its own ARN, description, tags, aliases and state.
func TestMultiRegionReplicateAndUse(t *testing.T) {
	e := startMR(t)
	ctx := t.Context()
	md := e.createMR(t, &kms.CreateKeyInput{Description: aws.String("primary")})
	id := aws.ToString(md.KeyId)
	if !mrkIDPattern.MatchString(id) {
		t.Fatalf("KeyId %q is not mrk- and 32 hex digits", id)
	}
	homeARN, awayARN := e.arn(e.homeRegion, id), e.arn(e.other, id)
	if aws.ToString(md.Arn) != homeARN {
		t.Fatalf("Arn %s, want %s", aws.ToString(md.Arn), homeARN)
	}
	wantConfig(t, md, types.MultiRegionKeyTypePrimary, homeARN, e.homeRegion)
	ec := map[string]string{"purpose": "mrk"}
	blob := encrypt(t, e.Env, id, []byte("made at home"), ec)

	// Not in the other region until replicated (AWS's recorded answer).
	_, err := e.away.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	wantError(t, err, "NotFoundException", "Key '"+awayARN+"' does not exist")

	out, err := e.home.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String(e.other),
		Description: aws.String("replica"), Tags: []types.Tag{{TagKey: aws.String("side"), TagValue: aws.String("away")}}})
	mustOK(t, err, "ReplicateKey")
	rmd := out.ReplicaKeyMetadata
	if aws.ToString(rmd.KeyId) != id || aws.ToString(rmd.Arn) != awayARN || rmd.KeyState != types.KeyStateCreating || rmd.Enabled ||
		aws.ToString(rmd.Description) != "replica" || rmd.KeySpec != types.KeySpecSymmetricDefault {
		t.Errorf("ReplicaKeyMetadata = %+v", rmd)
	}
	wantConfig(t, rmd, types.MultiRegionKeyTypeReplica, homeARN, e.homeRegion, awayARN+"@"+e.other)
	if p := aws.ToString(out.ReplicaPolicy); !bytes.Contains([]byte(p), []byte(`"arn:aws:iam::`+e.Account+`:root"`)) {
		t.Errorf("ReplicaPolicy %s is not the default policy", p)
	}
	if len(out.ReplicaTags) != 1 || aws.ToString(out.ReplicaTags[0].TagKey) != "side" {
		t.Errorf("ReplicaTags = %+v", out.ReplicaTags)
	}

	// DescribeKey in both regions.
	away := describeIn(t, e.away, id)
	if away.KeyState != types.KeyStateEnabled || aws.ToString(away.Arn) != awayARN || aws.ToString(away.KeyId) != id {
		t.Errorf("replica: %s %s %s", away.KeyState, aws.ToString(away.Arn), aws.ToString(away.KeyId))
	}
	wantConfig(t, away, types.MultiRegionKeyTypeReplica, homeARN, e.homeRegion, awayARN+"@"+e.other)
	home := describeIn(t, e.home, id)
	wantConfig(t, home, types.MultiRegionKeyTypePrimary, homeARN, e.homeRegion, awayARN+"@"+e.other)
	if aws.ToString(home.CurrentKeyMaterialId) == "" || aws.ToString(home.CurrentKeyMaterialId) != aws.ToString(away.CurrentKeyMaterialId) {
		t.Errorf("CurrentKeyMaterialId home %q, away %q: want one material", aws.ToString(home.CurrentKeyMaterialId), aws.ToString(away.CurrentKeyMaterialId))
	}
	if aws.ToString(home.Description) != "primary" {
		t.Errorf("primary's description became %q", aws.ToString(home.Description))
	}

	// Made at home, decrypted away: without KeyId, by id, by the replica's ARN.
	for _, keyID := range []*string{nil, aws.String(id), aws.String(awayARN)} {
		dec, err := e.away.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec, KeyId: keyID})
		mustOK(t, err, "Decrypt away")
		if string(dec.Plaintext) != "made at home" || aws.ToString(dec.KeyId) != awayARN {
			t.Errorf("Decrypt away (KeyId %v) = %q by %s", aws.ToString(keyID), dec.Plaintext, aws.ToString(dec.KeyId))
		}
	}
	// The primary's ARN names another region: not usable away.
	_, err = e.away.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec, KeyId: aws.String(homeARN)})
	wantError(t, err, "NotFoundException", "Invalid arn "+e.homeRegion)
	// The context still binds.
	_, err = e.away.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
	wantError(t, err, "InvalidCiphertextException", "")

	// Made away, decrypted at home; data keys too; ReEncrypt away.
	enc, err := e.away.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("made away")})
	mustOK(t, err, "Encrypt away")
	dec, err := e.home.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	mustOK(t, err, "Decrypt home")
	if string(dec.Plaintext) != "made away" || aws.ToString(dec.KeyId) != homeARN {
		t.Errorf("Decrypt home = %q by %s", dec.Plaintext, aws.ToString(dec.KeyId))
	}
	dk, err := e.home.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256})
	mustOK(t, err, "GenerateDataKey")
	dec, err = e.away.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob})
	mustOK(t, err, "Decrypt data key away")
	if !bytes.Equal(dec.Plaintext, dk.Plaintext) {
		t.Error("the data key decrypted away differs")
	}
	re, err := e.away.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: blob, SourceEncryptionContext: ec, DestinationKeyId: aws.String(id)})
	mustOK(t, err, "ReEncrypt away")
	if aws.ToString(re.SourceKeyId) != awayARN || aws.ToString(re.KeyId) != awayARN {
		t.Errorf("ReEncrypt away: source %s, destination %s", aws.ToString(re.SourceKeyId), aws.ToString(re.KeyId))
	}
	dec, err = e.home.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: re.CiphertextBlob}) // ReEncrypt gave it no context
	mustOK(t, err, "Decrypt the re-encrypted blob at home")
	if string(dec.Plaintext) != "made at home" {
		t.Errorf("re-encrypted blob decrypts to %q", dec.Plaintext)
	}

	// Independent properties: tags, aliases, enabled state.
	homeTags, err := e.home.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(id)})
	mustOK(t, err, "ListResourceTags home")
	if len(homeTags.Tags) != 0 {
		t.Errorf("the replica's tags reached the primary: %+v", homeTags.Tags)
	}
	_, err = e.away.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/away"), TargetKeyId: aws.String(id)})
	mustOK(t, err, "CreateAlias away")
	aliases, err := e.away.ListAliases(ctx, &kms.ListAliasesInput{KeyId: aws.String(id)})
	mustOK(t, err, "ListAliases away")
	if len(aliases.Aliases) != 1 || aws.ToString(aliases.Aliases[0].TargetKeyId) != id {
		t.Errorf("ListAliases away = %+v", aliases.Aliases)
	}
	_, err = e.home.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/away"), Plaintext: []byte("x")})
	wantError(t, err, "NotFoundException", "Alias "+"arn:aws:kms:"+e.homeRegion+":"+e.Account+":alias/away is not found.")
	_, err = e.away.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)})
	mustOK(t, err, "DisableKey away")
	_, err = e.away.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec})
	wantError(t, err, "DisabledException", awayARN+" is disabled.")
	encrypt(t, e.Env, id, []byte("still works at home"), nil)

	// ListKeys shows the shared id in each region.
	for _, c := range []*kms.Client{e.home, e.away} {
		keys, err := c.ListKeys(ctx, &kms.ListKeysInput{})
		mustOK(t, err, "ListKeys")
		if len(keys.Keys) != 1 || aws.ToString(keys.Keys[0].KeyId) != id {
			t.Errorf("ListKeys = %+v", keys.Keys)
		}
	}
	// A single-Region key says so.
	single := createKey(t, e.Env, nil)
	if single.MultiRegion == nil || *single.MultiRegion || single.MultiRegionConfiguration != nil {
		t.Errorf("single-Region key: MultiRegion %v, configuration %+v", single.MultiRegion, single.MultiRegionConfiguration)
	}
}

// TestMultiRegionErrors: what AWS refuses.
func TestMultiRegionErrors(t *testing.T) {
	e := startMR(t)
	ctx := t.Context()
	id := aws.ToString(e.createMR(t, nil).KeyId)
	homeARN, awayARN := e.arn(e.homeRegion, id), e.arn(e.other, id)
	replicate := func(c *kms.Client, keyID, region string) error {
		_, err := c.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(keyID), ReplicaRegion: aws.String(region)})
		return err
	}
	wantError(t, replicate(e.home, id, e.homeRegion), "AlreadyExistsException", anyMessage)
	e.replicate(t, id)
	wantError(t, replicate(e.home, id, e.other), "AlreadyExistsException", anyMessage)
	// Only the primary replicates (AWS's recorded message).
	wantError(t, replicate(e.away, id, "ap-south-1"), "UnsupportedOperationException", awayARN+" is not a multi-region primary key.")
	single := aws.ToString(createKey(t, e.Env, nil).KeyId)
	wantError(t, replicate(e.home, single, e.other), "UnsupportedOperationException", e.arn(e.homeRegion, single)+" is not a multi-region primary key.")
	wantError(t, replicate(e.home, id, "EU-WEST-1"), "ValidationException",
		"1 validation error detected: Value 'EU-WEST-1' at 'replicaRegion' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([a-z]+-){2,3}\\d+$")
	wantError(t, replicate(e.home, "alias/x", e.other), "NotFoundException", anyMessage)

	// UpdatePrimaryRegion: to a region without a replica, from a replica.
	_, err := e.home.UpdatePrimaryRegion(ctx, &kms.UpdatePrimaryRegionInput{KeyId: aws.String(id), PrimaryRegion: aws.String("ap-south-1")})
	wantError(t, err, "NotFoundException", "Key '"+e.arn("ap-south-1", id)+"' does not exist")
	_, err = e.away.UpdatePrimaryRegion(ctx, &kms.UpdatePrimaryRegionInput{KeyId: aws.String(id), PrimaryRegion: aws.String(e.homeRegion)})
	wantError(t, err, "UnsupportedOperationException", awayARN+" is not a multi-region primary key.")
	_, err = e.home.UpdatePrimaryRegion(ctx, &kms.UpdatePrimaryRegionInput{KeyId: aws.String(single), PrimaryRegion: aws.String(e.other)})
	wantError(t, err, "UnsupportedOperationException", e.arn(e.homeRegion, single)+" is not a multi-region primary key.")

	// Rotation is the primary's.
	_, err = e.away.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(id)})
	wantError(t, err, "UnsupportedOperationException", awayARN+" is not a multi-region primary key.")
	_, err = e.away.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	wantError(t, err, "UnsupportedOperationException", awayARN+" is not a multi-region primary key.")

	// (Imported material: multiregion_import_test.go.)

	// A disabled primary does not replicate or move.
	_, err = e.home.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)})
	mustOK(t, err, "DisableKey")
	wantError(t, replicate(e.home, id, "ap-south-1"), "DisabledException", homeARN+" is disabled.")
	_, err = e.home.UpdatePrimaryRegion(ctx, &kms.UpdatePrimaryRegionInput{KeyId: aws.String(id), PrimaryRegion: aws.String(e.other)})
	wantError(t, err, "DisabledException", homeARN+" is disabled.")
	// Nothing was made by the refused calls.
	md := describeIn(t, e.home, id)
	wantConfig(t, md, types.MultiRegionKeyTypePrimary, homeARN, e.homeRegion, awayARN+"@"+e.other)
}

// TestMultiRegionPrimaryAndRotation: rotation of the primary rotates the
// replicas (one material, one new version everywhere), automatic rotation
// follows the primary, and UpdatePrimaryRegion moves the primary.
func TestMultiRegionPrimaryAndRotation(t *testing.T) {
	e := startMR(t)
	ctx := t.Context()
	id := aws.ToString(e.createMR(t, nil).KeyId)
	homeARN, awayARN := e.arn(e.homeRegion, id), e.arn(e.other, id)
	_, err := e.home.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(id), RotationPeriodInDays: aws.Int32(90)})
	mustOK(t, err, "EnableKeyRotation")
	old := encrypt(t, e.Env, id, []byte("v1"), nil)
	e.replicate(t, id)

	rotationOf := func(c *kms.Client) *kms.GetKeyRotationStatusOutput {
		out, err := c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(id)})
		mustOK(t, err, "GetKeyRotationStatus")
		return out
	}
	if r := rotationOf(e.away); !r.KeyRotationEnabled || aws.ToInt32(r.RotationPeriodInDays) != 90 || aws.ToString(r.KeyId) != awayARN {
		t.Errorf("replica's rotation status = %+v, want the primary's", r)
	}
	material := func(c *kms.Client) string { return aws.ToString(describeIn(t, c, id).CurrentKeyMaterialId) }

	// On-demand rotation of the primary.
	m1 := material(e.home)
	_, err = e.home.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	mustOK(t, err, "RotateKeyOnDemand")
	if m2h, m2a := material(e.home), material(e.away); m2h == m1 || m2h != m2a {
		t.Errorf("after rotation: home %s, away %s (before %s): want one new material", m2h, m2a, m1)
	}
	newer := encrypt(t, e.Env, id, []byte("v2"), nil)
	for _, blob := range [][]byte{old, newer} {
		_, err := e.away.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
		mustOK(t, err, "Decrypt away after rotation")
	}

	// Automatic rotation: one rotation of the key, seen in both regions.
	e.Clock.Advance(91 * 24 * time.Hour)
	e.RunJobs(t)
	for _, c := range []*kms.Client{e.home, e.away} {
		rot, err := c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(id)})
		mustOK(t, err, "ListKeyRotations")
		var types []types.RotationType
		for _, r := range rot.Rotations {
			types = append(types, r.RotationType)
		}
		if len(types) != 2 || types[0] != "ON_DEMAND" || types[1] != "AUTOMATIC" {
			t.Errorf("rotations = %v, want ON_DEMAND then AUTOMATIC", types)
		}
	}
	if material(e.home) != material(e.away) {
		t.Error("automatic rotation left the regions on different material")
	}

	// Move the primary away; rotation moves with it.
	_, err = e.home.UpdatePrimaryRegion(ctx, &kms.UpdatePrimaryRegionInput{KeyId: aws.String(id), PrimaryRegion: aws.String(e.other)})
	mustOK(t, err, "UpdatePrimaryRegion")
	wantConfig(t, describeIn(t, e.away, id), types.MultiRegionKeyTypePrimary, awayARN, e.other, homeARN+"@"+e.homeRegion)
	wantConfig(t, describeIn(t, e.home, id), types.MultiRegionKeyTypeReplica, awayARN, e.other, homeARN+"@"+e.homeRegion)
	for _, c := range []*kms.Client{e.home, e.away} {
		if r := rotationOf(c); !r.KeyRotationEnabled || aws.ToInt32(r.RotationPeriodInDays) != 90 {
			t.Errorf("rotation status after the move = %+v", r)
		}
	}
	_, err = e.home.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	wantError(t, err, "UnsupportedOperationException", homeARN+" is not a multi-region primary key.")
	_, err = e.away.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	mustOK(t, err, "RotateKeyOnDemand on the new primary")
	if material(e.home) != material(e.away) {
		t.Error("rotation by the new primary left the regions on different material")
	}
	_, err = e.home.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String("ap-south-1")})
	wantError(t, err, "UnsupportedOperationException", homeARN+" is not a multi-region primary key.")
	_, err = e.away.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String("ap-south-1")})
	mustOK(t, err, "ReplicateKey from the new primary")
	third := regionClient(e.Env, e.AccessKeyID, e.Secret, "ap-south-1")
	for _, blob := range [][]byte{old, newer} {
		_, err := third.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
		mustOK(t, err, "Decrypt in the third region")
	}
}

// TestMultiRegionDeletion: a primary with replicas waits for them
// (PendingReplicaDeletion); deleting a replica leaves the primary's
// material whole; the primary's waiting period starts when its last
// replica is gone.
func TestMultiRegionDeletion(t *testing.T) {
	e := startMR(t)
	ctx := t.Context()
	id := aws.ToString(e.createMR(t, nil).KeyId)
	homeARN, awayARN := e.arn(e.homeRegion, id), e.arn(e.other, id)
	blob := encrypt(t, e.Env, id, []byte("keep me"), nil)
	e.replicate(t, id)

	sched, err := e.home.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
	mustOK(t, err, "ScheduleKeyDeletion primary")
	if sched.KeyState != types.KeyStatePendingReplicaDeletion || sched.DeletionDate != nil || aws.ToInt32(sched.PendingWindowInDays) != 7 {
		t.Errorf("ScheduleKeyDeletion primary = %s, date %v, window %d", sched.KeyState, sched.DeletionDate, aws.ToInt32(sched.PendingWindowInDays))
	}
	md := describeIn(t, e.home, id)
	if md.KeyState != types.KeyStatePendingReplicaDeletion || md.Enabled || md.DeletionDate != nil || aws.ToInt32(md.PendingDeletionWindowInDays) != 7 {
		t.Errorf("primary: %s enabled %v date %v window %v", md.KeyState, md.Enabled, md.DeletionDate, md.PendingDeletionWindowInDays)
	}
	_, err = e.home.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	wantError(t, err, "KMSInvalidStateException", homeARN+" is pending replica deletion.")
	_, err = e.home.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String("ap-south-1")})
	wantError(t, err, "KMSInvalidStateException", homeARN+" is pending replica deletion.")
	// The replica is independent and still works.
	_, err = e.away.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
	mustOK(t, err, "Decrypt away")

	// Cancelling works as for PendingDeletion: the key is Disabled.
	_, err = e.home.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(id)})
	mustOK(t, err, "CancelKeyDeletion")
	if s := describeIn(t, e.home, id).KeyState; s != types.KeyStateDisabled {
		t.Errorf("after cancel: %s, want Disabled", s)
	}
	_, err = e.home.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
	mustOK(t, err, "ScheduleKeyDeletion primary again")

	// The replica goes through its own window; the same region cannot be
	// replicated into while it waits.
	rs, err := e.away.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
	mustOK(t, err, "ScheduleKeyDeletion replica")
	if rs.KeyState != types.KeyStatePendingDeletion || rs.DeletionDate == nil {
		t.Errorf("ScheduleKeyDeletion replica = %s, %v", rs.KeyState, rs.DeletionDate)
	}
	e.Clock.Advance(8 * 24 * time.Hour)
	e.RunJobs(t)
	_, err = e.away.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	wantError(t, err, "NotFoundException", "Key '"+awayARN+"' does not exist")
	md = describeIn(t, e.home, id)
	if md.KeyState != types.KeyStatePendingDeletion || md.DeletionDate == nil {
		t.Fatalf("primary after its last replica went: %s, date %v", md.KeyState, md.DeletionDate)
	}
	if want := e.Clock.Now().Add(7 * 24 * time.Hour); md.DeletionDate.Sub(want).Abs() > time.Second {
		t.Errorf("primary's deletion date %v, want %v (7 days after the replica went)", md.DeletionDate, want)
	}
	wantConfig(t, md, types.MultiRegionKeyTypePrimary, homeARN, e.homeRegion)

	// The replica's deletion did not touch the primary's material.
	_, err = e.home.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(id)})
	mustOK(t, err, "CancelKeyDeletion")
	_, err = e.home.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)})
	mustOK(t, err, "EnableKey")
	dec, err := e.home.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
	mustOK(t, err, "Decrypt at home after the replica's deletion")
	if string(dec.Plaintext) != "keep me" {
		t.Errorf("Decrypt = %q", dec.Plaintext)
	}
	// And the region can have a replica again.
	e.replicate(t, id)
	_, err = e.away.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
	mustOK(t, err, "Decrypt by the new replica")

	// The whole way: the primary waits for its replica, then for its own
	// window, then is gone.
	_, err = e.home.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
	mustOK(t, err, "ScheduleKeyDeletion primary, third time")
	_, err = e.away.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
	mustOK(t, err, "ScheduleKeyDeletion new replica")
	e.Clock.Advance(8 * 24 * time.Hour)
	e.RunJobs(t)
	if s := describeIn(t, e.home, id).KeyState; s != types.KeyStatePendingDeletion {
		t.Fatalf("primary after its replica went: %s", s)
	}
	e.Clock.Advance(8 * 24 * time.Hour)
	e.RunJobs(t)
	_, err = e.home.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	wantError(t, err, "NotFoundException", "Key '"+homeARN+"' does not exist")

	// A primary without replicas is deleted as any key.
	solo := aws.ToString(e.createMR(t, nil).KeyId)
	sched, err = e.home.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(solo), PendingWindowInDays: aws.Int32(7)})
	mustOK(t, err, "ScheduleKeyDeletion solo")
	if sched.KeyState != types.KeyStatePendingDeletion || sched.DeletionDate == nil {
		t.Errorf("solo primary: %s, %v", sched.KeyState, sched.DeletionDate)
	}
}

// TestMultiRegionAsymmetricAndHMAC: asymmetric (RSA, ML-KEM) and HMAC
// multi-Region keys sign, verify, decapsulate and MAC across regions with
// one key pair or secret; the
// signature made at home verifies away and with Go's crypto/rsa against
// the replica's public key.
func TestMultiRegionAsymmetricAndHMAC(t *testing.T) {
	e := startMR(t)
	ctx := t.Context()
	rsaID := aws.ToString(e.createMR(t, &kms.CreateKeyInput{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeSignVerify}).KeyId)
	e.replicate(t, rsaID)
	msg := []byte("signed at home")
	sig, err := e.home.Sign(ctx, &kms.SignInput{KeyId: aws.String(rsaID), Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecRsassaPssSha256})
	mustOK(t, err, "Sign")
	ver, err := e.away.Verify(ctx, &kms.VerifyInput{KeyId: aws.String(rsaID), Message: msg, Signature: sig.Signature, SigningAlgorithm: types.SigningAlgorithmSpecRsassaPssSha256})
	mustOK(t, err, "Verify away")
	if !ver.SignatureValid {
		t.Error("signature made at home is not valid away")
	}
	pub, err := e.away.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(rsaID)})
	mustOK(t, err, "GetPublicKey away")
	homePub, err := e.home.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(rsaID)})
	mustOK(t, err, "GetPublicKey home")
	if !bytes.Equal(pub.PublicKey, homePub.PublicKey) {
		t.Error("the replica has another public key")
	}
	k, err := x509.ParsePKIXPublicKey(pub.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(msg)
	if err := rsa.VerifyPSS(k.(*rsa.PublicKey), crypto.SHA256, digest[:], sig.Signature, nil); err != nil {
		t.Errorf("crypto/rsa refuses the signature with the replica's public key: %v", err)
	}
	md := describeIn(t, e.away, rsaID)
	if md.KeySpec != types.KeySpecRsa2048 || md.KeyUsage != types.KeyUsageTypeSignVerify {
		t.Errorf("replica spec %s usage %s", md.KeySpec, md.KeyUsage)
	}

	macID := aws.ToString(e.createMR(t, &kms.CreateKeyInput{KeySpec: types.KeySpecHmac256, KeyUsage: types.KeyUsageTypeGenerateVerifyMac}).KeyId)
	e.replicate(t, macID)
	mac, err := e.away.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: aws.String(macID), Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	mustOK(t, err, "GenerateMac away")
	vm, err := e.home.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: aws.String(macID), Message: msg, Mac: mac.Mac, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	mustOK(t, err, "VerifyMac home")
	if !vm.MacValid {
		t.Error("MAC made away is not valid at home")
	}
	// ML-KEM: encapsulated at home, decapsulated away.
	kemID := aws.ToString(e.createMR(t, &kms.CreateKeyInput{KeySpec: types.KeySpecMlKem768, KeyUsage: types.KeyUsageTypeEncapsulateDecapsulate}).KeyId)
	e.replicate(t, kemID)
	enc, err := e.home.Encapsulate(ctx, &kms.EncapsulateInput{KeyId: aws.String(kemID), EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem})
	mustOK(t, err, "Encapsulate home")
	dec, err := e.away.Decapsulate(ctx, &kms.DecapsulateInput{KeyId: aws.String(kemID), EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem,
		SharedSecretCiphertextBlob: enc.SharedSecretCiphertextBlob})
	mustOK(t, err, "Decapsulate away")
	if !bytes.Equal(dec.SharedSecret, enc.SharedSecret) {
		t.Error("the replica decapsulates to another shared secret")
	}

	homeMac, err := e.home.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: aws.String(macID), Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	mustOK(t, err, "GenerateMac home")
	if !bytes.Equal(homeMac.Mac, mac.Mac) {
		t.Error("the regions' HMAC keys differ")
	}
}

// TestMultiRegionGrant: a grant on a replica is the replica's, and its
// token names the shared key id.
func TestMultiRegionGrant(t *testing.T) {
	e := startMR(t)
	ctx := t.Context()
	id := aws.ToString(e.createMR(t, nil).KeyId)
	e.replicate(t, id)
	grantee := "arn:aws:iam::" + e.Account + ":root"
	g, err := e.away.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(id), GranteePrincipal: aws.String(grantee),
		RetiringPrincipal: aws.String(grantee), Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
	mustOK(t, err, "CreateGrant away")
	list, err := e.away.ListGrants(ctx, &kms.ListGrantsInput{KeyId: aws.String(id)})
	mustOK(t, err, "ListGrants away")
	if len(list.Grants) != 1 || aws.ToString(list.Grants[0].KeyId) != e.arn(e.other, id) {
		t.Errorf("ListGrants away = %+v", list.Grants)
	}
	home, err := e.home.ListGrants(ctx, &kms.ListGrantsInput{KeyId: aws.String(id)})
	mustOK(t, err, "ListGrants home")
	if len(home.Grants) != 0 {
		t.Errorf("the replica's grant shows at home: %+v", home.Grants)
	}
	_, err = e.away.RetireGrant(ctx, &kms.RetireGrantInput{GrantToken: g.GrantToken})
	mustOK(t, err, "RetireGrant by token away")
}

// TestMultiRegionRestart: what the store holds, not the cache, decrypts
// across regions after a restart: the replica's wrapped copies of the
// versions are the primary's material, rotation included.
func TestMultiRegionRestart(t *testing.T) {
	dir := t.TempDir()
	first := testenv.Start(t, testenv.WithDataDir(dir))
	e := &mrEnv{Env: first, home: first.KMS, away: regionClient(first, first.AccessKeyID, first.Secret, "eu-west-1"),
		homeRegion: first.Region, other: "eu-west-1"}
	ctx := t.Context()
	id := aws.ToString(e.createMR(t, nil).KeyId)
	v1 := encrypt(t, first, id, []byte("v1"), nil)
	e.replicate(t, id)
	_, err := e.home.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	mustOK(t, err, "RotateKeyOnDemand")
	v2 := encrypt(t, first, id, []byte("v2"), nil)
	first.Close()

	again := testenv.Start(t, testenv.WithDataDir(dir))
	for _, region := range []string{again.Region, "eu-west-1"} {
		c := regionClient(again, again.AccessKeyID, again.Secret, region)
		for want, blob := range map[string][]byte{"v1": v1, "v2": v2} {
			dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
			mustOK(t, err, "Decrypt "+want+" in "+region+" after a restart")
			if string(dec.Plaintext) != want {
				t.Errorf("%s in %s: %q", want, region, dec.Plaintext)
			}
		}
	}
}

// TestMultiRegionWireValidation: what the SDK would refuse before sending
// is refused by Trent too, with the API model's messages, and nothing is
// made.
func TestMultiRegionWireValidation(t *testing.T) {
	w := startWire(t)
	const mrk = "mrk-0123456789abcdef0123456789abcdef"
	for _, tc := range []struct{ op, body, msg string }{
		{"ReplicateKey", `{"KeyId":"` + mrk + `"}`, "1 validation error detected: Value null at 'replicaRegion' failed to satisfy constraint: Member must not be null"},
		{"ReplicateKey", `{"KeyId":"` + mrk + `","ReplicaRegion":""}`, anyMessage},
		{"ReplicateKey", `{"ReplicaRegion":"eu-west-1"}`, "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null"},
		{"UpdatePrimaryRegion", `{"KeyId":"` + mrk + `"}`, "1 validation error detected: Value null at 'primaryRegion' failed to satisfy constraint: Member must not be null"},
		{"UpdatePrimaryRegion", `{"KeyId":"` + mrk + `","PrimaryRegion":"eu-west-1-"}`, anyMessage},
	} {
		msg := wantWireError(t, w.post(t, tc.op, []byte(tc.body), true), 400, "ValidationException")
		if tc.msg != anyMessage && msg != tc.msg {
			t.Errorf("%s %s: %q, want %q", tc.op, tc.body, msg, tc.msg)
		}
	}
}
