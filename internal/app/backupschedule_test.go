package app

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/store/sqlite"
)

// testSchedule is the backup schedule of the installation whose store is
// dbPath, into dir, logging into the returned buffer.
func testSchedule(t *testing.T, dbPath, dir string, every time.Duration, keep int) (*backupSchedule, *bytes.Buffer) {
	t.Helper()
	ids, err := sqlite.ReadSettings(context.Background(), dbPath, settingInstallation)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	return &backupSchedule{
		log: slog.New(slog.NewTextHandler(&logs, nil)), dbPath: dbPath, dir: dir,
		every: every, keep: keep, installation: string(ids[settingInstallation]),
	}, &logs
}

// backupAt writes a backup of dbPath into dir named as the schedule's of
// time at.
func backupAt(t *testing.T, dbPath, dir string, at time.Time) string {
	t.Helper()
	name := backupName(at)
	if err := sqlite.Backup(context.Background(), dbPath, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestBackupRetention: --backup-keep keeps the newest of this
// installation's backups, the one just written always; it leaves alone
// those named in the future (a clock that was ahead), which used to
// count as the newest and, with --backup-keep 1, had every backup remove
// itself; and another installation's in the same directory.
func TestBackupRetention(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, tc := range []struct {
		name string
		keep int
		// ago: this installation's backups there, named this long before
		// now (negative: in the future); others: another's.
		ago, others []time.Duration
		// wantKept: of ago (and of now, the one written), what is kept.
		wantKept []time.Duration
		wantLog  string
	}{
		{name: "none before", keep: 2, wantKept: []time.Duration{0}},
		{name: "beyond keep", keep: 2, ago: []time.Duration{3 * time.Hour, 2 * time.Hour, time.Hour}, wantKept: []time.Duration{time.Hour, 0}},
		{
			name: "keep 1 with one named in the future", keep: 1,
			ago:      []time.Duration{time.Hour, -time.Hour},
			wantKept: []time.Duration{0, -time.Hour}, wantLog: "named in the future",
		},
		{
			name: "another installation's", keep: 1,
			ago: []time.Duration{time.Hour}, others: []time.Duration{3 * time.Hour, 2 * time.Hour},
			wantKept: []time.Duration{0}, wantLog: "another installation",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, dbPath := devDataDir(t)
			_, otherPath := devDataDir(t)
			dir := t.TempDir()
			for _, d := range tc.ago {
				backupAt(t, dbPath, dir, now.Add(-d))
			}
			var others []string
			for _, d := range tc.others {
				others = append(others, backupAt(t, otherPath, dir, now.Add(-d)))
			}
			s, logs := testSchedule(t, dbPath, dir, time.Hour, tc.keep)
			if err := s.backupOnce(context.Background(), now); err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, d := range tc.wantKept {
				want = append(want, backupName(now.Add(-d)))
			}
			want = append(want, others...)
			slices.Sort(want)
			if got, err := scheduledBackups(dir); err != nil || !slices.Equal(got, want) {
				t.Errorf("kept %v %v, want %v", got, err, want)
			}
			if !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("the log says\n%s\nwant %q", logs, tc.wantLog)
			}
		})
	}
}

// TestBackupSaysOnceItSharesTheDirectory: another installation's backups
// in --backup-to are logged about once, not at every backup.
func TestBackupSaysOnceItSharesTheDirectory(t *testing.T) {
	_, dbPath := devDataDir(t)
	_, otherPath := devDataDir(t)
	dir := t.TempDir()
	now := time.Now()
	backupAt(t, otherPath, dir, now.Add(-time.Hour))
	s, logs := testSchedule(t, dbPath, dir, time.Hour, 2)
	for i := range 3 {
		if err := s.backupOnce(context.Background(), now.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(logs.String(), "another installation"); n != 1 {
		t.Errorf("said %d times that the directory holds another installation's backups, want once:\n%s", n, logs)
	}
}

// TestBackupScheduleStart: the first backup is due an interval after the
// newest of this installation's, and the metrics show that one as the
// last success from the start (an alert on it fires even if no backup
// ever succeeds after); one named in the future neither delays the
// schedule (it used to, to an interval after the future time) nor counts
// as a success.
func TestBackupScheduleStart(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, tc := range []struct {
		name string
		ago  []time.Duration // this installation's backups there
		// others: another installation's, newer than this one's.
		others      []time.Duration
		wantLast    time.Duration // how long ago the last success was; -1: none
		wantBackups bool          // a backup is due at once
	}{
		{name: "none", wantLast: -1, wantBackups: true},
		{name: "one an hour ago", ago: []time.Duration{time.Hour}, wantLast: time.Hour},
		{name: "one named in the future", ago: []time.Duration{-365 * 24 * time.Hour}, wantLast: -1, wantBackups: true},
		{name: "past and future", ago: []time.Duration{2 * time.Hour, -time.Hour}, wantLast: 2 * time.Hour},
		{name: "another installation's", ago: []time.Duration{3 * time.Hour}, others: []time.Duration{time.Hour}, wantLast: 3 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dataDir, dbPath := devDataDir(t)
			_, otherPath := devDataDir(t)
			dir := t.TempDir()
			for _, d := range tc.ago {
				backupAt(t, dbPath, dir, now.Add(-d))
			}
			for _, d := range tc.others {
				backupAt(t, otherPath, dir, now.Add(-d))
			}
			before, _ := scheduledBackups(dir)
			n := &Node{DataDir: dataDir, log: slog.New(slog.DiscardHandler)}
			stop, err := n.startBackups(dbPath, BackupSchedule{To: dir, Every: 24 * time.Hour, Keep: 7})
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			last := n.backupStats.lastSuccess.Load()
			switch {
			case tc.wantBackups:
				for deadline := time.Now().Add(10 * time.Second); n.backupStats.lastSuccess.Load() == 0; time.Sleep(10 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("no backup 10 s after the start; the directory held %v", before)
					}
				}
			case tc.wantLast < 0 && last != 0:
				t.Errorf("last success at start %v, want none", time.Unix(0, last))
			case tc.wantLast >= 0 && last != now.Add(-tc.wantLast).UnixNano():
				t.Errorf("last success at start %v, want %v", time.Unix(0, last).UTC(), now.Add(-tc.wantLast))
			}
			stop()
			after, _ := scheduledBackups(dir)
			if wrote := len(after) > len(before); wrote != tc.wantBackups {
				t.Errorf("backups %v before the start, %v after; want one written at once: %v", before, after, tc.wantBackups)
			}
		})
	}
}

// TestBackupRemovesStaleTemps: a scheduled backup first removes the
// temporary files a stopped one left (store-sized), once they have not
// been written for an interval, and nothing else.
func TestBackupRemovesStaleTemps(t *testing.T) {
	_, dbPath := devDataDir(t)
	dir := t.TempDir()
	now := time.Now()
	stale := "." + backupName(now.Add(-3*time.Hour)) + ".tmp"
	files := map[string]time.Duration{ // name: how long since it was written
		stale:              2 * time.Hour,
		stale + "-journal": 2 * time.Hour,
		"." + backupName(now.Add(-time.Minute)) + ".tmp": time.Minute,   // being written
		".trent-2026-12-07.db.tmp":                       2 * time.Hour, // trent backup's, from cron
		"notes.tmp":                                      2 * time.Hour,
	}
	for name, age := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	s, logs := testSchedule(t, dbPath, dir, 30*time.Minute, 2)
	if err := s.backupOnce(context.Background(), now); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		_, err := os.Stat(filepath.Join(dir, name))
		if gone, want := err != nil, strings.HasPrefix(name, stale); gone != want {
			t.Errorf("%s: removed %v, want %v", name, gone, want)
		}
	}
	if n := strings.Count(logs.String(), "removed a temporary file"); n != 2 {
		t.Errorf("logged %d removals, want 2:\n%s", n, logs)
	}
}
