package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/trent-kms/trent/internal/testenv"
	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

// TestAccountCreate makes an account with the trent binary on a data dir
// and uses its root key through a server of that data dir: STS names the
// new account, and its keys live apart from the first account's.
func TestAccountCreate(t *testing.T) {
	testenv.SkipOnPostgres(t, "`trent account create --data-dir` opens the SQLite installation in the data dir")
	dir := t.TempDir()
	first := testenv.Start(t, testenv.WithDataDir(dir))
	first.Close() // the command may run beside a server; this one is stopped for a clean test

	out, err := testcmd.Command(t, trentBinary(t), "account", "create", "--dev", "--data-dir", dir, "--id", "444455556666", "--format", "json").Output()
	if err != nil {
		t.Fatalf("trent account create: %v", err)
	}
	var created struct {
		Account string `json:"account_id"`
		ID      string `json:"access_key_id"`
		Secret  string `json:"secret_access_key"`
	}
	if err := json.Unmarshal(out, &created); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	if created.Account != "444455556666" || !strings.HasPrefix(created.ID, "AKIA") || len(created.Secret) < 40 {
		t.Fatalf("created %+v", created)
	}
	// The same id again is refused.
	if out, err := testcmd.Command(t, trentBinary(t), "account", "create", "--dev", "--data-dir", dir, "--id", "444455556666").CombinedOutput(); err == nil {
		t.Fatalf("a second account 444455556666 was made: %s", out)
	}

	e := testenv.Start(t, testenv.WithDataDir(dir))
	ctx := context.Background()
	id, err := stsClient(e, created.ID, created.Secret, "").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity: %v", err)
	}
	if *id.Account != "444455556666" || *id.Arn != "arn:aws:iam::444455556666:root" {
		t.Errorf("caller = %s %s", *id.Account, *id.Arn)
	}
	c := e.Client(created.ID, created.Secret)
	k, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatalf("CreateKey in the new account: %v", err)
	}
	if *k.KeyMetadata.AWSAccountId != "444455556666" {
		t.Errorf("key account = %s", *k.KeyMetadata.AWSAccountId)
	}
	if _, err := e.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyMetadata.KeyId}); errCode(err) != "NotFoundException" {
		t.Errorf("the first account sees the new account's key by id: %v", err)
	}
}

// TestAccountCreateRefuses checks the command's flags before it touches anything.
func TestAccountCreateRefuses(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"account"},
		{"account", "create"},
		{"account", "create", "--dev", "--data-dir", dir, "--id", "123"},
		{"account", "create", "--dev", "--data-dir", dir, "--format", "yaml"},
		{"account", "create", "--data-dir", dir},
		{"account", "create", "--dev", "--data-dir", dir}, // no installation there
	} {
		if out, err := testcmd.Command(t, trentBinary(t), args...).CombinedOutput(); err == nil {
			t.Errorf("trent %v succeeded: %s", args, out)
		}
	}
}
