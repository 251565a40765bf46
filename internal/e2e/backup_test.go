package e2e

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// TestBackupAndRestore: `trent backup` copies a production installation's
// store while it serves and takes writes; after later changes (a new key,
// a disabled one) `trent restore` puts the backup back once the server is
// stopped (refused while it runs), and the server starts on it: what the
// backup held decrypts and is in its state of then, the later key is
// gone, the audit log verifies across the restore. The same backup
// restored into a new data dir (another machine) serves with the seal key
// file alone.
func TestBackupAndRestore(t *testing.T) {
	defer catch(t)
	tmp := t.TempDir()
	dir, keyFile, backup := filepath.Join(tmp, "data"), filepath.Join(tmp, "seal.key"), filepath.Join(tmp, "backup.db")
	out, stderr, code := runCLI(t, "", nil, "init", "--data-dir", dir, "--seal-key-file", keyFile, "--format", "json")
	if code != 0 {
		t.Fatalf("init: exit %d\n%s%s", code, out, stderr)
	}
	m, _ := jsonKeys(t, out)
	id, secret := m["access_key_id"].(string), m["secret_access_key"].(string)
	s := sealState{typ: "keyfile", keyFile: keyFile}
	ctx := t.Context()

	p := s.serve(t, dir)
	c := p.Client(id, secret)
	k1 := must(c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("before the backup")}))
	blob1 := must(c.Encrypt(ctx, &kms.EncryptInput{KeyId: k1.KeyMetadata.KeyId, Plaintext: []byte("kept")})).CiphertextBlob

	// Writes go on while the backup is taken.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var werr error
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String(fmt.Sprint("during ", i))}); err != nil {
				werr = err
				return
			}
			// Production mode throttles CreateKey to AWS's 5 a second.
			time.Sleep(250 * time.Millisecond)
		}
	})
	out, stderr, code = runCLI(t, "", nil, "backup", "--data-dir", dir, "--to", backup)
	close(stop)
	wg.Wait()
	if werr != nil {
		t.Fatalf("CreateKey during the backup: %v", werr)
	}
	if code != 0 || !strings.Contains(out, "one consistent snapshot, checked") || !strings.Contains(out, "seal key file") {
		t.Fatalf("trent backup while serving: exit %d\n%s%s", code, out, stderr)
	}
	if _, _, code := runCLI(t, "", nil, "backup", "--data-dir", dir, "--to", backup); code == 0 {
		t.Fatal("trent backup onto an existing file: exit 0, want a refusal")
	}

	// After the backup: a new key, and the first one disabled.
	k2 := must(c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("after the backup")}))
	must(c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: k1.KeyMetadata.KeyId}))

	if out, stderr, code := runCLI(t, "", nil, "restore", "--data-dir", dir, "--from", backup); code == 0 || !strings.Contains(stderr, "in use by a running Trent") {
		t.Fatalf("trent restore while the server runs: exit %d\n%s%s; want a refusal", code, out, stderr)
	}
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}
	out, stderr, code = runCLI(t, "", nil, "restore", "--data-dir", dir, "--from", backup)
	if code != 0 || !strings.Contains(out, "the store it replaced is") {
		t.Fatalf("trent restore: exit %d\n%s%s", code, out, stderr)
	}

	check := func(p *trentProc) {
		t.Helper()
		c := p.Client(id, secret)
		d, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob1})
		if err != nil || string(d.Plaintext) != "kept" {
			t.Fatalf("Decrypt of what was encrypted before the backup: %v", err)
		}
		if st := must(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k1.KeyMetadata.KeyId})).KeyMetadata.KeyState; st != types.KeyStateEnabled {
			t.Errorf("the key disabled after the backup is %s after the restore, want Enabled", st)
		}
		var nf *types.NotFoundException
		if _, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k2.KeyMetadata.KeyId}); !errors.As(err, &nf) {
			t.Errorf("DescribeKey of the key made after the backup: %v, want NotFoundException", err)
		}
	}
	p = s.serve(t, dir)
	check(p)
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}
	if out, stderr, code := runCLI(t, "", nil, "audit", "verify", "--data-dir", dir); code != 0 {
		t.Fatalf("audit verify across the restore: exit %d\n%s%s", code, out, stderr)
	}

	// Another machine: a new data dir, the backup and the seal key file.
	other := filepath.Join(t.TempDir(), "data")
	if out, stderr, code := runCLI(t, "", nil, "restore", "--data-dir", other, "--from", backup); code != 0 || strings.Contains(out, "replaced") {
		t.Fatalf("trent restore into a new data dir: exit %d\n%s%s", code, out, stderr)
	}
	p = s.serve(t, other)
	check(p)
}
