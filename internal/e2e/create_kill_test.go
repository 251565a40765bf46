package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// walCheckpointSeq reads the checkpoint sequence number from the header of
// the SQLite WAL in dir (bytes 12-15, big-endian): SQLite adds one each
// time it writes the WAL from its beginning again.
func walCheckpointSeq(t *testing.T, dir string) (seq uint32, size int64) {
	t.Helper()
	wals, err := filepath.Glob(filepath.Join(dir, "*.db-wal"))
	if err != nil || len(wals) != 1 {
		t.Fatalf("the WAL in %s: %v, %v", dir, wals, err)
	}
	f, err := os.Open(wals[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var hdr [16]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		return 0, 0 // not written yet
	}
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return binary.BigEndian.Uint32(hdr[12:]), fi.Size()
}

// TestCreateKeySurvivesKillAcrossWALRestarts has 16 clients create keys,
// as the CreateKey benchmark does, until the store has started its WAL
// over twice (each time overwriting the frames of earlier commits), then
// kills the server with SIGKILL
// (the WAL's header counts the restarts) while creations are in flight. Every key
// whose CreateKey was answered with a 200 must exist after the restart and
// encrypt (its wrapped material is there and unwraps; one in 16
// ciphertexts is decrypted too).
func TestCreateKeySurvivesKillAcrossWALRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("creates thousands of keys")
	}
	n := newCrashNode(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	load := createKeysUntilGone(ctx, n, 16, "load", nil)
	first, _ := walCheckpointSeq(t, n.dir)
	deadline := time.Now().Add(2 * time.Minute)
	var largest int64
	for {
		seq, size := walCheckpointSeq(t, n.dir)
		largest = max(largest, size)
		if seq >= first+2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the WAL was not started over twice in 2 minutes (%d keys created)", load.count())
		}
		time.Sleep(10 * time.Millisecond)
	}
	n.proc.Kill(t) // with CreateKeys in flight
	cancel()
	keys := load.wait()

	n.start(t)
	ids := make(chan string)
	errs := make(chan error, 16)
	var check sync.WaitGroup
	for range 16 {
		check.Add(1)
		go func() {
			defer check.Done()
			for id := range ids {
				decrypt := id[len(id)-1] == '0' // one in 16
				if err := usable(t.Context(), n.kms, id, decrypt); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	go func() {
		defer close(ids)
		for _, id := range keys {
			select {
			case ids <- id:
			case <-t.Context().Done():
				return
			}
		}
	}()
	check.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d CreateKeys acknowledged before the kill, all usable after it; the WAL was at most %.1f MiB", len(keys), float64(largest)/(1<<20))
}

// usable checks that the key id exists, is enabled and encrypts (its
// material unwraps), and with decrypt that the ciphertext decrypts.
func usable(ctx context.Context, c *kms.Client, id string, decrypt bool) error {
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	if err != nil {
		return fmt.Errorf("acknowledged key %s lost in the crash: %w", id, err)
	}
	if d.KeyMetadata.KeyState != types.KeyStateEnabled {
		return fmt.Errorf("acknowledged key %s is %s after the crash", id, d.KeyMetadata.KeyState)
	}
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte(id)})
	if err != nil {
		return fmt.Errorf("Encrypt under %s after the crash: %w", id, err)
	}
	if !decrypt {
		return nil
	}
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != id {
		return fmt.Errorf("Decrypt under %s after the crash: %q, %v", id, dec.Plaintext, err)
	}
	return nil
}
