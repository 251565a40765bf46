package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

// TestBackupAndRestore: `trent backup` copies a production installation's
// store while it serves and takes writes; after later changes (a new key,
// a disabled one) `trent restore` puts the backup back once the server is
// stopped (refused while it runs), and the server starts on it: what the
// backup held decrypts and is in its state of then, the later key is
// gone, the audit log verifies across the restore. Another
// installation's backup is refused over it. The same backup restored into
// a new data dir (another machine) serves with the seal key file alone.
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

	// Another installation's backup is not restored over this one.
	dir2, backup2 := filepath.Join(tmp, "data2"), filepath.Join(tmp, "backup2.db")
	if out, stderr, code := runCLI(t, "", nil, "init", "--data-dir", dir2, "--seal-key-file", filepath.Join(tmp, "seal2.key")); code != 0 {
		t.Fatalf("init of a second installation: exit %d\n%s%s", code, out, stderr)
	}
	if out, stderr, code := runCLI(t, "", nil, "backup", "--data-dir", dir2, "--to", backup2); code != 0 {
		t.Fatalf("backup of the second installation: exit %d\n%s%s", code, out, stderr)
	}
	if out, stderr, code := runCLI(t, "", nil, "restore", "--data-dir", dir, "--from", backup2); code == 0 || !strings.Contains(stderr, "is a backup of installation") {
		t.Fatalf("restore of another installation's backup: exit %d\n%s%s; want a refusal", code, out, stderr)
	}

	// Another machine: a new data dir, the backup and the seal key file.
	other := filepath.Join(t.TempDir(), "data")
	if out, stderr, code := runCLI(t, "", nil, "restore", "--data-dir", other, "--from", backup); code != 0 || strings.Contains(out, "replaced") {
		t.Fatalf("trent restore into a new data dir: exit %d\n%s%s", code, out, stderr)
	}
	p = s.serve(t, other)
	check(p)
}

// TestServeBacksItsStoreUp: `trent serve --backup-to` writes a backup at
// once when there is none, then every --backup-interval, keeping the
// newest --backup-keep; a restart does not back up again before the
// interval since the newest has passed; the newest backup restores into
// a new data dir that serves the key made before it; monitoring sees
// the last success; a backup directory inside the data dir is refused.
func TestServeBacksItsStoreUp(t *testing.T) {
	defer catch(t)
	tmp := t.TempDir()
	dir, backups := filepath.Join(tmp, "data"), filepath.Join(tmp, "backups")
	id, secret := randomAccessKey(t)
	env := []string{"TRENT_ROOT_ACCESS_KEY_ID=" + id, "TRENT_ROOT_SECRET_ACCESS_KEY=" + secret}
	ctx := t.Context()
	list := func() []string {
		m, _ := filepath.Glob(filepath.Join(backups, "trent-*.db"))
		return m
	}

	// Made before the server backs up, so that every backup holds it.
	p := startTrent(t, env, "--data-dir", dir)
	key := must(p.Client(id, secret).CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("backed up")}))
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}
	p = startTrent(t, env, "--data-dir", dir, "--backup-to", backups, "--backup-interval", "300ms", "--backup-keep", "2",
		"--metrics-listen", "127.0.0.1:0")
	for deadline := time.Now().Add(30 * time.Second); strings.Count(p.Stderr(), "backup: wrote a backup") < 4; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than 4 scheduled backups in 30 s:\n%s", p.Stderr())
		}
	}
	_, rest, _ := strings.Cut(p.Stderr(), "serving Prometheus metrics on ")
	metricsURL, _, _ := strings.Cut(rest, "\n")
	_, fams, _ := scrape(t, metricsURL, nil)
	if at := value(fams, "trent_backup_last_success_timestamp_seconds", nil); at < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("trent_backup_last_success_timestamp_seconds = %v, want the last few seconds", at)
	}
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}
	kept := list()
	if len(kept) != 2 {
		t.Fatalf("%d backups in %s, want the newest 2: %v", len(kept), backups, kept)
	}

	// A restart a moment later: the next backup is due an interval after
	// the newest, an hour from now.
	p = startTrent(t, env, "--data-dir", dir, "--backup-to", backups, "--backup-interval", "1h")
	time.Sleep(time.Second)
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(p.Stderr(), "backup: wrote") || len(list()) != 2 {
		t.Fatalf("a restart within the interval backed up again: %v\n%s", list(), p.Stderr())
	}

	// The newest restores into a new data dir, with the dev seal key file.
	other := filepath.Join(t.TempDir(), "data")
	if out, stderr, code := runCLI(t, "", nil, "restore", "--data-dir", other, "--from", kept[1]); code != 0 || !strings.Contains(out, "no dev-seal.key") {
		t.Fatalf("trent restore of a dev backup into a new data dir: exit %d\n%s%s; want a warning about the dev seal key file", code, out, stderr)
	}
	devKey, err := os.ReadFile(filepath.Join(dir, "dev-seal.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "dev-seal.key"), devKey, 0o600); err != nil {
		t.Fatal(err)
	}
	p = startTrent(t, env, "--data-dir", other)
	if d := must(p.Client(id, secret).DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: key.KeyMetadata.KeyId})); aws.ToString(d.KeyMetadata.Description) != "backed up" {
		t.Fatalf("the restored key: %+v", d.KeyMetadata)
	}

	out, err := testcmd.Command(t, trentBinary(t), "serve", "--dev", "--listen", "127.0.0.1:0", "--data-dir", dir,
		"--backup-to", filepath.Join(dir, "backups")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "inside the data dir") {
		t.Fatalf("serve with --backup-to inside the data dir: %v\n%s; want a refusal at start", err, out)
	}
}
