package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/internal/testenv"
)

// TestBenchPopulate fills a data dir with bench populate, twice (the ids
// file grows), then serves it: every listed key is there, and one of them
// encrypts and decrypts through the API as a key CreateKey made.
func TestBenchPopulate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	idsFile := filepath.Join(t.TempDir(), "ids")
	for _, n := range []string{"30", "20"} {
		var out bytes.Buffer
		if err := bench([]string{"populate", "--data-dir", dir, "--keys", n, "--keys-file", idsFile, "--workers", "8"}, &out); err != nil {
			t.Fatalf("bench populate --keys %s: %v\n%s", n, err, out.String())
		}
		if !strings.Contains(out.String(), "stored "+n+" keys") {
			t.Fatalf("output lacks the count:\n%s", out.String())
		}
	}
	b, err := os.ReadFile(idsFile)
	if err != nil {
		t.Fatal(err)
	}
	ids := strings.Fields(string(b))
	if len(ids) != 50 {
		t.Fatalf("%d ids in the file, want 50", len(ids))
	}

	e := testenv.Start(t, testenv.WithDataDir(dir))
	ctx := context.Background()
	listed := map[string]bool{}
	p := kms.NewListKeysPaginator(e.KMS, &kms.ListKeysInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range page.Keys {
			listed[aws.ToString(k.KeyId)] = true
		}
	}
	for _, id := range ids {
		if !listed[id] {
			t.Fatalf("key %s of the ids file is not listed", id)
		}
	}
	enc, err := e.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(ids[17]), Plaintext: []byte("populated")})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := e.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil {
		t.Fatal(err)
	}
	if string(dec.Plaintext) != "populated" || aws.ToString(dec.KeyId) != aws.ToString(enc.KeyId) {
		t.Fatalf("Decrypt = %q with %s", dec.Plaintext, aws.ToString(dec.KeyId))
	}
	for _, args := range [][]string{{"populate"}, {"populate", "--data-dir", dir}, {"populate", "--data-dir", dir, "--keys", "0"}} {
		if err := bench(args, &bytes.Buffer{}); err == nil {
			t.Errorf("bench %q: no error", args)
		}
	}
}
