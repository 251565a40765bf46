package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// resealShares decodes rekey's or seal migrate's --format json output.
func resealShares(t *testing.T, out string) (sealType string, shares []string) {
	t.Helper()
	m, _ := jsonKeys(t, out)
	for _, s := range m["unseal_shares"].([]any) {
		shares = append(shares, s.(string))
	}
	return m["seal_type"].(string), shares
}

// TestPostgresOfflineCommands runs the offline commands on an
// installation in PostgreSQL with the real binary:
//   - `account create --database-url` while a node serves: the new
//     account's root access key works through that node at once;
//   - `seal migrate` and `rekey --database-url` are refused while a node
//     serves unsealed, and change nothing;
//   - with the node stopped: seal migrate keyfile → shamir, then rekey;
//     a node started afterwards is sealed, refuses the migrate's shares
//     (superseded by the rekey), unseals with the rekey's, and decrypts
//     what was encrypted before; account create on the shamir
//     installation takes shares on standard input.
func TestPostgresOfflineCommands(t *testing.T) {
	ctx := context.Background()
	in := initOnDatabase(t)
	url, sealKey := in.URL, in.SealKey
	cli := func(stdin string, args ...string) (string, string, int) {
		t.Helper()
		return runCLI(t, stdin, nil, args...)
	}
	node := filepath.Join(t.TempDir(), "node")
	a := in.serveAt(t, node)

	// account create while the node serves; the URL from the environment.
	out, stderr, code := runCLI(t, "", []string{"TRENT_DATABASE_URL=" + url}, "account", "create", "--seal-key-file", sealKey, "--id", "777788889999", "--format", "json")
	if code != 0 {
		t.Fatalf("account create --database-url: exit %d\n%s%s", code, out, stderr)
	}
	m, _ := jsonKeys(t, out)
	id, secret := m["access_key_id"].(string), m["secret_access_key"].(string)
	if m["account_id"] != "777788889999" || id == "" || secret == "" {
		t.Fatalf("account create --format json: %s", out)
	}
	ca := a.Client(id, secret)
	ck, err := ca.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("new account")})
	if err != nil {
		t.Fatalf("CreateKey with the new account's key through the running node: %v", err)
	}
	if !strings.Contains(aws.ToString(ck.KeyMetadata.Arn), ":777788889999:key/") {
		t.Fatalf("key ARN %s is not in the new account", aws.ToString(ck.KeyMetadata.Arn))
	}
	enc, err := ca.Encrypt(ctx, &kms.EncryptInput{KeyId: ck.KeyMetadata.KeyId, Plaintext: []byte("before the reseal")})
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	if _, stderr, code := cli("", "account", "create", "--database-url", url, "--seal-key-file", sealKey, "--id", "777788889999"); code == 0 ||
		!strings.Contains(stderr, "777788889999") {
		t.Fatalf("account create of an existing id: exit %d\n%s", code, stderr)
	}

	// Refused while the node serves unsealed.
	for _, args := range [][]string{
		{"seal", "migrate", "--database-url", url, "--to", "shamir", "--key-shares", "3", "--key-threshold", "2", "--seal-key-file", sealKey},
		{"rekey", "--database-url", url},
	} {
		if out, stderr, code := cli("", args...); code == 0 || !strings.Contains(stderr, "serve this installation unsealed") {
			t.Fatalf("trent %s while a node serves: exit %d, want a refusal\n%s%s", args[0], code, out, stderr)
		}
	}
	if _, err := ca.Encrypt(ctx, &kms.EncryptInput{KeyId: ck.KeyMetadata.KeyId, Plaintext: []byte("x")}); err != nil {
		t.Fatalf("Encrypt after the refusals: %v", err)
	}
	if err := a.Stop(t); err != nil {
		t.Fatalf("stop: %v", err)
	}

	// Node stopped: keyfile → shamir, then rekey.
	out, stderr, code = cli("", "seal", "migrate", "--database-url", url, "--to", "shamir", "--key-shares", "3", "--key-threshold", "2",
		"--seal-key-file", sealKey, "--format", "json")
	if code != 0 {
		t.Fatalf("seal migrate --database-url: exit %d\n%s%s", code, out, stderr)
	}
	st, migrated := resealShares(t, out)
	if st != "shamir" || len(migrated) != 3 {
		t.Fatalf("seal migrate: seal %s, %d shares", st, len(migrated))
	}
	out, stderr, code = cli(migrated[0]+"\n"+migrated[2]+"\n", "rekey", "--database-url", url, "--key-shares", "2", "--key-threshold", "2", "--format", "json")
	if code != 0 {
		t.Fatalf("rekey --database-url: exit %d\n%s%s", code, out, stderr)
	}
	_, rekeyed := resealShares(t, out)
	if len(rekeyed) != 2 {
		t.Fatalf("rekey: %d shares, want 2", len(rekeyed))
	}

	b := startTrentArgs(t, nil, "serve", "--database-url", url, "--listen", "127.0.0.1:0", "--data-dir", node)
	if s := sealStatus(t, b.URL); s["sealed"] != true || s["seal_type"] != "shamir" {
		t.Fatalf("status after the migrate: %v", s)
	}
	unseal(t, b.URL, migrated[0])
	if _, stderr, code := unseal(t, b.URL, migrated[1]); code == 0 {
		t.Fatalf("the migrate's shares unsealed the node after the rekey:\n%s", stderr)
	}
	for i, s := range rekeyed {
		if out, stderr, code := unseal(t, b.URL, s); code != 0 {
			t.Fatalf("unseal with rekeyed share %d: exit %d\n%s%s", i+1, code, out, stderr)
		}
	}
	dec, err := b.Client(id, secret).Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != "before the reseal" {
		t.Fatalf("Decrypt after migrate and rekey: %v", err)
	}
	// The node is unsealed again: a second rekey is refused.
	if _, stderr, code := cli(rekeyed[0]+"\n"+rekeyed[1]+"\n", "rekey", "--database-url", url); code == 0 || !strings.Contains(stderr, "serve this installation unsealed") {
		t.Fatalf("rekey beside an unsealed shamir node: exit %d\n%s", code, stderr)
	}
	// account create on the shamir installation: shares on standard input.
	out, stderr, code = cli(rekeyed[0]+"\n"+rekeyed[1]+"\n", "account", "create", "--database-url", url, "--format", "json")
	if code != 0 {
		t.Fatalf("account create on a shamir database: exit %d\n%s%s", code, out, stderr)
	}
	m, _ = jsonKeys(t, out)
	if _, err := b.Client(m["access_key_id"].(string), m["secret_access_key"].(string)).ListKeys(ctx, &kms.ListKeysInput{}); err != nil {
		t.Fatalf("ListKeys with the second new account's key: %v", err)
	}
}
