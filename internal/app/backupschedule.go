package app

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/trent-kms/trent/internal/fspath"
	"github.com/trent-kms/trent/internal/store/sqlite"
)

// DefaultBackupEvery and DefaultBackupKeep are a scheduled backup's
// defaults: a day's keys at risk at most, a week of backups kept.
const (
	DefaultBackupEvery = 24 * time.Hour
	DefaultBackupKeep  = 7
)

// BackupSchedule makes a server on SQLite back its store up by itself
// (serve --backup-to), as `trent backup` from cron does: where there is
// no cron (a container), or to keep a count of backups without a script.
type BackupSchedule struct {
	To    string        // the directory of the backups; "" for none
	Every time.Duration // 0: DefaultBackupEvery
	Keep  int           // how many of its backups to keep; 0: DefaultBackupKeep
}

// backupTimeFormat names a scheduled backup, trent-<time>.db: sorted by
// name, they are sorted by time; milliseconds, so that a short interval
// (a test's) never gives two one name.
const backupTimeFormat = "20060102T150405.000Z"

// startBackups backs the store at dbPath up into s.To every s.Every,
// sealed or not (the store holds only wrapped secrets), until the
// returned function is called. The first backup is due s.Every after the
// newest one in s.To, or at once if there is none, so that restarts
// neither skip backups nor add them.
func (n *Node) startBackups(dbPath string, s BackupSchedule) (stop func(), err error) {
	abs, err := filepath.Abs(s.To)
	if err != nil {
		return nil, err
	}
	if in, err := fspath.Inside(n.DataDir, abs); err != nil {
		return nil, fmt.Errorf("--backup-to: %w", err)
	} else if in {
		return nil, fmt.Errorf("--backup-to %s is inside the data dir %s: a backup must survive the loss of the data dir's disk", s.To, n.DataDir)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("--backup-to: %w", err)
	}
	every, keep := cmp.Or(s.Every, DefaultBackupEvery), cmp.Or(s.Keep, DefaultBackupKeep)
	next := time.Now()
	if names, err := scheduledBackups(abs); err != nil {
		return nil, fmt.Errorf("--backup-to: %w", err)
	} else if len(names) > 0 {
		t, _ := time.Parse(backupTimeFormat, strings.TrimSuffix(strings.TrimPrefix(names[len(names)-1], "trent-"), ".db"))
		next = t.Add(every)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	n.backupsOn.Store(true)
	go func() {
		defer close(done)
		for {
			t := time.NewTimer(time.Until(next))
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			err := n.backupOnce(ctx, dbPath, abs, keep)
			if ctx.Err() != nil {
				return // stopping: not a failure
			}
			n.backupStats.done(err)
			if err != nil {
				n.log.Error("backup: the scheduled backup of the store failed; it is tried again at the next interval", "to", abs, "err", err)
			}
			next = time.Now().Add(every)
		}
	}()
	return func() { cancel(); <-done }, nil
}

// backupOnce writes one backup into dir and removes the oldest of the
// scheduled backups there beyond keep.
func (n *Node) backupOnce(ctx context.Context, dbPath, dir string, keep int) error {
	name := filepath.Join(dir, "trent-"+time.Now().UTC().Format(backupTimeFormat)+".db")
	if err := sqlite.Backup(ctx, dbPath, name); err != nil {
		return err
	}
	names, err := scheduledBackups(dir)
	if err != nil {
		return err
	}
	var removed []string
	for _, old := range names[:max(len(names)-keep, 0)] {
		if err := os.Remove(filepath.Join(dir, old)); err != nil {
			return fmt.Errorf("remove the old backup %s: %w", old, err)
		}
		removed = append(removed, old)
	}
	fi, err := os.Stat(name)
	if err != nil {
		return err
	}
	n.log.Info("backup: wrote a backup of the store; restore it with trent restore", "file", name, "bytes", fi.Size(), "removed", removed)
	return nil
}

// scheduledBackups lists the backups the schedule wrote in dir, oldest
// first; other files there are left alone.
func scheduledBackups(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		ts, ok := strings.CutPrefix(e.Name(), "trent-")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		if ts, ok = strings.CutSuffix(ts, ".db"); !ok {
			continue
		}
		if _, err := time.Parse(backupTimeFormat, ts); err == nil {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}
