package e2e

import (
	"context"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/jackc/pgx/v5"

	"github.com/trent-kms/trent/internal/testenv"
)

// TestTestenvBackend checks that testenv.Start serves the backend that
// TRENT_TEST_BACKEND names, so that the end-to-end tests' second run
// (`make unit`, TRENT_TEST_BACKEND=postgres) really is on PostgreSQL: there
// a key created and described through the API is a row of the keys table
// in the environment's database, and no SQLite file is in its data dir;
// on SQLite the data dir holds the store and there is no database.
func TestTestenvBackend(t *testing.T) {
	env := testenv.Start(t)
	out, err := env.KMS.CreateKey(t.Context(), &kms.CreateKeyInput{Description: aws.String("backend check")})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.KeyMetadata.KeyId)
	_, statErr := os.Stat(env.DataDir + "/trent.db")
	if !testenv.OnPostgres() {
		if env.DatabaseURL != "" || statErr != nil {
			t.Fatalf("SQLite backend: database URL %q, trent.db: %v", env.DatabaseURL, statErr)
		}
		return
	}
	if env.DatabaseURL == "" || statErr == nil {
		t.Fatalf("%s=postgres but the environment has database URL %q and trent.db (stat: %v)", testenv.BackendEnv, env.DatabaseURL, statErr)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var desc []byte
	if err := conn.QueryRow(ctx, "SELECT description FROM keys WHERE id = $1", id).Scan(&desc); err != nil || string(desc) != "backend check" {
		t.Fatalf("key %s in the PostgreSQL database: description %q, %v", id, desc, err)
	}
}

// TestNULInDescriptionAndTags: a description and tags holding NUL
// (U+0000), which the API takes, are stored and given back byte for byte
// on both backends. PostgreSQL's text type cannot hold NUL, so before the
// store kept these columns as bytes such requests failed there with
// KMSInternalException.
func TestNULInDescriptionAndTags(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	nul := "a\x00b"
	out, err := env.KMS.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String(nul),
		Tags: []types.Tag{{TagKey: aws.String(nul), TagValue: aws.String(nul + nul)}}})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	id := out.KeyMetadata.KeyId
	if _, err := env.KMS.UpdateKeyDescription(ctx, &kms.UpdateKeyDescriptionInput{KeyId: id, Description: aws.String(nul + "c")}); err != nil {
		t.Fatalf("UpdateKeyDescription: %v", err)
	}
	if _, err := env.KMS.TagResource(ctx, &kms.TagResourceInput{KeyId: id, Tags: []types.Tag{{TagKey: aws.String("\x00"), TagValue: aws.String("")}}}); err != nil {
		t.Fatalf("TagResource: %v", err)
	}
	d, err := env.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: id})
	if err != nil || aws.ToString(d.KeyMetadata.Description) != nul+"c" {
		t.Fatalf("DescribeKey: description %q, %v", aws.ToString(d.KeyMetadata.Description), err)
	}
	tags, err := env.KMS.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: id})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tg := range tags.Tags {
		got[aws.ToString(tg.TagKey)] = aws.ToString(tg.TagValue)
	}
	if len(got) != 2 || got[nul] != nul+nul || got["\x00"] != "" {
		t.Fatalf("tags %q", got)
	}
}
