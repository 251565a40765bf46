package e2e

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/internal/testenv"
)

// TestDeletedKeyShredded deletes a key through the API and the deletion
// job, then reads every file of the data directory (trent.db, -wal, -shm)
// for its wrapped backing keys: with the root key at hand they would
// unwrap, so a copy left in the WAL or in free pages defeats the deletion.
// It scans while the server runs (the WAL) and after it closed (free pages
// of the database file). Before the deletion the same scan finds the
// wrapped keys, and after it the kept key's, so the scan is not blind.
func TestDeletedKeyShredded(t *testing.T) {
	testenv.SkipOnPostgres(t, "scans the SQLite file for the deleted key's wrapped material (PostgreSQL: TestShreddingLeavesOnlyWAL in internal/store/postgres)")
	dir := t.TempDir()
	env := testenv.Start(t, testenv.WithDataDir(dir))
	ctx := t.Context()
	doomed := aws.ToString(createKey(t, env, nil).KeyId)
	kept := aws.ToString(createKey(t, env, nil).KeyId)
	_, err := env.KMS.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(doomed)})
	mustOK(t, err, "RotateKeyOnDemand")
	encrypt(t, env, doomed, []byte("gone with the key"), nil)

	wrappedNeedles := func(id string) map[string][]byte {
		t.Helper()
		vs, err := env.App.Store.KeyVersions(ctx, id)
		if err != nil || len(vs) == 0 {
			t.Fatalf("KeyVersions(%s): %d versions, %v", id, len(vs), err)
		}
		needles := map[string][]byte{}
		for _, v := range vs {
			name := fmt.Sprintf("wrapped v%d of %s", v.Version, id)
			needles[name] = v.Wrapped
			// A surviving fragment is as good as the whole to someone
			// who knows the format; 16 bytes cannot match by chance.
			for i := 0; i+16 <= len(v.Wrapped); i += 8 {
				needles[fmt.Sprintf("%s (bytes %d-%d)", name, i, i+16)] = v.Wrapped[i : i+16]
			}
		}
		return needles
	}
	doomedNeedles, keptNeedles := wrappedNeedles(doomed), wrappedNeedles(kept)
	if len(doomedNeedles) < 2*2 {
		t.Fatalf("%d needles for two wrapped versions", len(doomedNeedles))
	}
	found := func(files map[string][]byte, needles map[string][]byte) []string {
		var hits []string
		for name, b := range files {
			for what, n := range needles {
				if bytes.Contains(b, n) {
					hits = append(hits, what+" in "+name)
				}
			}
		}
		return hits
	}
	if hits := found(snapshotDir(t, dir), doomedNeedles); len(hits) == 0 {
		t.Fatal("before the deletion the wrapped keys are in no file: the scan is blind")
	}

	_, err = env.KMS.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(doomed), PendingWindowInDays: aws.Int32(7)})
	mustOK(t, err, "ScheduleKeyDeletion")
	env.Clock.Advance(7*day + time.Minute)
	env.RunJobs(t)
	_, err = env.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(doomed)})
	if err == nil {
		t.Fatal("the key survived the deletion job")
	}

	running := snapshotDir(t, dir)
	if hits := found(running, doomedNeedles); len(hits) != 0 {
		t.Errorf("server running, key deleted: %d remnants, e.g. %q", len(hits), hits[0])
	}
	env.Close()
	closed := snapshotDir(t, dir)
	if hits := found(closed, doomedNeedles); len(hits) != 0 {
		t.Errorf("server closed, key deleted: %d remnants, e.g. %q", len(hits), hits[0])
	}
	if hits := found(closed, keptNeedles); len(hits) == 0 {
		t.Error("the kept key's wrapped versions are in no file: the scan is blind")
	}
	t.Logf("files while running: %v; after close: %v", keysOf(running), keysOf(closed))
}
