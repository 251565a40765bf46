package e2e

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trent-kms/trent/internal/testenv"
)

const aliasPrefixMessage = `Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html`

// listAliases returns every alias (of keyID, if not empty), following
// markers with the given page size (0: the server's default).
func listAliases(t testing.TB, env *testenv.Env, keyID string, limit int32) []types.AliasListEntry {
	t.Helper()
	in := &kms.ListAliasesInput{}
	if keyID != "" {
		in.KeyId = aws.String(keyID)
	}
	if limit > 0 {
		in.Limit = aws.Int32(limit)
	}
	return listAll(t, "ListAliases", limit, func(marker *string) (page[types.AliasListEntry], error) {
		in.Marker = marker
		out, err := env.KMS.ListAliases(t.Context(), in)
		if err != nil {
			return page[types.AliasListEntry]{}, err
		}
		return page[types.AliasListEntry]{out.Aliases, out.Truncated, out.NextMarker}, nil
	})
}

// aliasTargets maps alias names to target key ids.
func aliasTargets(entries []types.AliasListEntry) map[string]string {
	m := map[string]string{}
	for _, a := range entries {
		m[aws.ToString(a.AliasName)] = aws.ToString(a.TargetKeyId)
	}
	return m
}

func TestAliasLifecycle(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	a := createKey(t, env, nil)
	b := createKey(t, env, nil)
	aID, bID := aws.ToString(a.KeyId), aws.ToString(b.KeyId)

	createAlias(t, env, "alias/app", aID)
	entries := listAliases(t, env, "", 0)
	if len(entries) != 1 {
		t.Fatalf("ListAliases = %+v, want one alias", entries)
	}
	e := entries[0]
	if aws.ToString(e.AliasName) != "alias/app" || aws.ToString(e.AliasArn) != aliasARN(env, "alias/app") ||
		aws.ToString(e.TargetKeyId) != aID || e.CreationDate == nil || e.LastUpdatedDate == nil ||
		!near(*e.CreationDate, env.Clock.Now(), time.Second) {
		t.Errorf("alias entry = %+v", e)
	}

	// Encrypt through the alias name and the alias ARN; the response names
	// the key by its ARN.
	for _, keyID := range []string{"alias/app", aliasARN(env, "alias/app")} {
		out, err := env.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: []byte("x")})
		mustOK(t, err, "Encrypt via "+keyID)
		if aws.ToString(out.KeyId) != aws.ToString(a.Arn) {
			t.Errorf("Encrypt via %s: KeyId %s, want %s", keyID, aws.ToString(out.KeyId), aws.ToString(a.Arn))
		}
	}

	// UpdateAlias points it at b, by key ARN.
	env.Clock.Advance(time.Hour)
	_, err := env.KMS.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: b.Arn})
	mustOK(t, err, "UpdateAlias")
	e = listAliases(t, env, "", 0)[0]
	if aws.ToString(e.TargetKeyId) != bID || !e.LastUpdatedDate.After(*e.CreationDate) {
		t.Errorf("after UpdateAlias: %+v", e)
	}
	out, err := env.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/app"), Plaintext: []byte("x")})
	mustOK(t, err, "Encrypt via updated alias")
	if aws.ToString(out.KeyId) != aws.ToString(b.Arn) {
		t.Errorf("Encrypt via updated alias: KeyId %s, want %s", aws.ToString(out.KeyId), aws.ToString(b.Arn))
	}
	if got := aws.ToString(describe(t, env, "alias/app").KeyId); got != bID {
		t.Errorf("DescribeKey(alias/app) = %s, want %s", got, bID)
	}

	_, err = env.KMS.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/app")})
	mustOK(t, err, "DeleteAlias")
	if got := listAliases(t, env, "", 0); len(got) != 0 {
		t.Errorf("ListAliases after DeleteAlias = %+v", got)
	}
	missing := "Alias " + aliasARN(env, "alias/app") + " is not found."
	_, err = env.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/app"), Plaintext: []byte("x")})
	wantError(t, err, "NotFoundException", missing)
	_, err = env.KMS.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/app")})
	wantError(t, err, "NotFoundException", missing)
	_, err = env.KMS.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: aws.String(aID)})
	wantError(t, err, "NotFoundException", missing)

	// The name is free again, and the keys are untouched.
	createAlias(t, env, "alias/app", bID)
	describe(t, env, aID)
}

func TestCreateAliasErrors(t *testing.T) {
	env := testenv.Start(t)
	md := createKey(t, env, nil)
	id := aws.ToString(md.KeyId)
	createAlias(t, env, "alias/taken", id)
	unknown := "134f2428-cec1-4b25-a1ae-9048164dba47"
	for _, tc := range []struct {
		name, alias, target, code, msg string
	}{
		{"no prefix", "foo", id, "ValidationException", aliasPrefixMessage},
		{"duplicate", "alias/taken", id, "AlreadyExistsException", anyMessage},
		{"missing key", "alias/new", unknown, "NotFoundException", "Key '" + keyARN(env, unknown) + "' does not exist"},
		{"malformed key", "alias/new", "fake-key-id", "NotFoundException", "Invalid keyId 'fake-key-id'"},
		// AWS's words, as moto and nsmithuk/local-kms record them.
		{"target alias", "alias/new", "alias/taken", "ValidationException", "Aliases must refer to keys. Not aliases"},
		{"target alias ARN", "alias/new", aliasARN(env, "alias/taken"), "ValidationException", "Aliases must refer to keys. Not aliases"},
		{"bad characters", "alias/has space", id, "ValidationException",
			"1 validation error detected: Value 'alias/has space' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"},
		{"too long", "alias/" + strings.Repeat("a", 251), id, "ValidationException",
			"1 validation error detected: Value 'alias/" + strings.Repeat("a", 251) + "' at 'aliasName' failed to satisfy constraint: Member must have length less than or equal to 256"},
		// AWS reserves alias/aws/ for AWS managed keys; the exception it
		// sends is not recorded, so only refusal is checked.
		{"reserved", "alias/aws/mine", id, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := env.KMS.CreateAlias(t.Context(), &kms.CreateAliasInput{AliasName: aws.String(tc.alias), TargetKeyId: aws.String(tc.target)})
			if tc.code == "" {
				if err == nil {
					t.Error("CreateAlias succeeded")
				}
				return
			}
			wantError(t, err, tc.code, tc.msg)
			if tc.code == "AlreadyExistsException" {
				wantType[*types.AlreadyExistsException](t, err)
			}
		})
	}
	// An alias name at the length limit is accepted.
	createAlias(t, env, "alias/"+strings.Repeat("b", 250), id)
	if got := aliasTargets(listAliases(t, env, "", 0)); len(got) != 2 || got["alias/taken"] != id {
		t.Errorf("aliases = %v, want alias/taken and the long one only", got)
	}

	_, err := env.KMS.UpdateAlias(t.Context(), &kms.UpdateAliasInput{AliasName: aws.String("foo"), TargetKeyId: aws.String(id)})
	wantError(t, err, "ValidationException", aliasPrefixMessage)
	_, err = env.KMS.UpdateAlias(t.Context(), &kms.UpdateAliasInput{AliasName: aws.String("alias/taken"), TargetKeyId: aws.String(unknown)})
	wantError(t, err, "NotFoundException", "Key '"+keyARN(env, unknown)+"' does not exist")
	_, err = env.KMS.UpdateAlias(t.Context(), &kms.UpdateAliasInput{AliasName: aws.String("alias/taken"), TargetKeyId: aws.String("alias/taken")})
	wantError(t, err, "ValidationException", "Aliases must refer to keys. Not aliases")
	_, err = env.KMS.DeleteAlias(t.Context(), &kms.DeleteAliasInput{AliasName: aws.String("foo")})
	wantError(t, err, "ValidationException", aliasPrefixMessage)
}

func TestListAliasesFilterAndPagination(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	a := createKey(t, env, nil)
	b := createKey(t, env, nil)
	aID, bID := aws.ToString(a.KeyId), aws.ToString(b.KeyId)
	want := map[string]string{}
	for i := range 9 {
		target := aID
		if i%3 == 0 {
			target = bID
		}
		name := fmt.Sprintf("alias/p-%02d", i)
		createAlias(t, env, name, target)
		want[name] = target
	}

	for _, limit := range []int32{0, 1, 2, 4, 100} {
		got := listAliases(t, env, "", limit)
		if len(got) != len(want) {
			t.Errorf("limit %d: %d aliases, want %d", limit, len(got), len(want))
		}
		if m := aliasTargets(got); fmt.Sprint(m) != fmt.Sprint(want) {
			t.Errorf("limit %d: aliases %v, want %v", limit, m, want)
		}
	}
	// Pages: 9 aliases at 2 a page is 5 pages.
	pages := 0
	in := &kms.ListAliasesInput{Limit: aws.Int32(2)}
	for {
		out, err := env.KMS.ListAliases(ctx, in)
		mustOK(t, err, "ListAliases")
		pages++
		if !out.Truncated {
			break
		}
		in.Marker = out.NextMarker
	}
	if pages != 5 {
		t.Errorf("9 aliases at 2 a page took %d pages, want 5", pages)
	}

	for _, keyID := range []string{aID, aws.ToString(a.Arn)} {
		var names []string
		for _, e := range listAliases(t, env, keyID, 2) {
			if aws.ToString(e.TargetKeyId) != aID {
				t.Errorf("ListAliases(KeyId %s) returned %+v", keyID, e)
			}
			names = append(names, aws.ToString(e.AliasName))
		}
		sort.Strings(names)
		if len(names) != 6 {
			t.Errorf("ListAliases(KeyId %s) = %v, want 6 aliases", keyID, names)
		}
	}
	if got := listAliases(t, env, bID, 0); len(got) != 3 {
		t.Errorf("ListAliases(KeyId b) = %d aliases, want 3", len(got))
	}
	lone := createKey(t, env, nil)
	if got := listAliases(t, env, aws.ToString(lone.KeyId), 0); len(got) != 0 {
		t.Errorf("ListAliases of a key without aliases = %+v", got)
	}

	unknown := "134f2428-cec1-4b25-a1ae-9048164dba47"
	keysMarker := func() *string {
		out, err := env.KMS.ListKeys(ctx, &kms.ListKeysInput{Limit: aws.Int32(1)})
		mustOK(t, err, "ListKeys")
		return out.NextMarker
	}()
	for _, tc := range []struct {
		name string
		in   kms.ListAliasesInput
		code string
		msg  string
	}{
		{"unknown key", kms.ListAliasesInput{KeyId: aws.String(unknown)}, "NotFoundException", "Key '" + keyARN(env, unknown) + "' does not exist"},
		{"alias as KeyId", kms.ListAliasesInput{KeyId: aws.String("alias/p-01")}, "NotFoundException", anyMessage},
		{"limit 0", kms.ListAliasesInput{Limit: aws.Int32(0)}, "ValidationException",
			"1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"limit 101", kms.ListAliasesInput{Limit: aws.Int32(101)}, "ValidationException",
			"1 validation error detected: Value '101' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100"},
		{"bad marker", kms.ListAliasesInput{Marker: aws.String("bogus")}, "InvalidMarkerException", anyMessage},
		{"ListKeys marker", kms.ListAliasesInput{Marker: keysMarker}, "InvalidMarkerException", anyMessage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := env.KMS.ListAliases(ctx, &tc.in)
			wantError(t, err, tc.code, tc.msg)
		})
	}
}

func TestAliasesPerKeyLimit(t *testing.T) {
	env := testenv.Start(t)
	id := aws.ToString(createKey(t, env, nil).KeyId)
	other := aws.ToString(createKey(t, env, nil).KeyId)
	for i := range 50 {
		createAlias(t, env, fmt.Sprintf("alias/many-%02d", i), id)
	}
	_, err := env.KMS.CreateAlias(t.Context(), &kms.CreateAliasInput{AliasName: aws.String("alias/one-too-many"), TargetKeyId: aws.String(id)})
	wantError(t, err, "LimitExceededException", anyMessage)
	if got := listAliases(t, env, id, 0); len(got) != 50 {
		t.Errorf("key has %d aliases, want 50", len(got))
	}
	// Other keys are not affected, but an alias cannot be moved onto the
	// full key either.
	createAlias(t, env, "alias/one-too-many", other)
	_, err = env.KMS.UpdateAlias(t.Context(), &kms.UpdateAliasInput{AliasName: aws.String("alias/one-too-many"), TargetKeyId: aws.String(id)})
	wantError(t, err, "LimitExceededException", anyMessage)
	if got := aliasTargets(listAliases(t, env, other, 0)); got["alias/one-too-many"] != other {
		t.Errorf("refused UpdateAlias moved the alias: %v", got)
	}
	// A freed slot can be used again.
	_, err = env.KMS.DeleteAlias(t.Context(), &kms.DeleteAliasInput{AliasName: aws.String("alias/many-00")})
	mustOK(t, err, "DeleteAlias")
	createAlias(t, env, "alias/many-50", id)
}
