package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
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

// minStaleTemp is the least age of a temporary file of a scheduled
// backup that is taken for one a stopped backup left: SQLite writes the
// file as it copies, but the sync and quick_check after it, which leave
// its time alone, can take minutes on a large store — another server's,
// if two share the directory.
const minStaleTemp = time.Hour

// startBackups backs the store at dbPath up into s.To every s.Every,
// sealed or not (the store holds only wrapped secrets), until the
// returned function is called. The first backup is due s.Every after the
// newest of this installation's backups in s.To, or at once if there is
// none, so that restarts neither skip backups nor add them; that backup's
// time is the last success the metrics show until the next.
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
	ctx, cancel := context.WithCancel(context.Background())
	ids, err := sqlite.ReadSettings(ctx, dbPath, settingInstallation)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("--backup-to: read the installation id: %w", err)
	}
	sched := &backupSchedule{
		log: n.log, dbPath: dbPath, dir: abs,
		every: cmp.Or(s.Every, DefaultBackupEvery), keep: max(cmp.Or(s.Keep, DefaultBackupKeep), 1),
		installation: string(ids[settingInstallation]),
	}
	now := time.Now()
	last, err := sched.lastBackup(ctx, now)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("--backup-to: %w", err)
	}
	next := now
	if !last.IsZero() {
		next = last.Add(sched.every) // at most now+every: last is not in the future
		n.backupStats.lastSuccess.Store(last.UnixNano())
	}
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
			err := sched.backupOnce(ctx, time.Now())
			if ctx.Err() != nil {
				return // stopping: not a failure
			}
			n.backupStats.done(err)
			if err != nil {
				n.log.Error("backup: the scheduled backup of the store failed; it is tried again at the next interval", "to", abs, "err", err)
			}
			next = time.Now().Add(sched.every)
		}
	}()
	return func() { cancel(); <-done }, nil
}

// backupSchedule is what a server's scheduled backups need; its methods
// run on one goroutine at a time.
type backupSchedule struct {
	log          *slog.Logger
	dbPath, dir  string
	every        time.Duration
	keep         int    // at least 1
	installation string // the store's id, which its backups carry
	// toldOthers: the log has said once that dir holds another
	// installation's backups.
	toldOthers bool
}

// lastBackup returns the time of the newest of this installation's
// backups in dir that is not after now (zero if there is none), warning
// of those named in the future.
func (s *backupSchedule) lastBackup(ctx context.Context, now time.Time) (time.Time, error) {
	own, err := s.ownBackups(ctx)
	if err != nil {
		return time.Time{}, err
	}
	past, future := splitAt(own, backupName(now))
	s.warnFuture(future)
	if len(past) == 0 {
		return time.Time{}, nil
	}
	return backupNameTime(past[len(past)-1]), nil
}

// backupOnce removes what stopped backups left in dir, writes one backup
// there, named after now, and removes the oldest of this installation's
// backups beyond keep: never the one it wrote, nor one named after it
// (in the future: a clock that was ahead, a file copied in), which would
// otherwise count as the newest and push out backups made since.
func (s *backupSchedule) backupOnce(ctx context.Context, now time.Time) error {
	s.removeStaleTemps(now)
	written := backupName(now)
	path := filepath.Join(s.dir, written)
	if err := sqlite.Backup(ctx, s.dbPath, path); err != nil {
		return err
	}
	removed, err := s.prune(ctx, written)
	if err != nil {
		return err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("the backup just written: %w", err)
	}
	s.log.Info("backup: wrote a backup of the store; restore it with trent restore", "file", path, "bytes", fi.Size(), "removed", removed)
	return nil
}

// prune removes the oldest of this installation's backups named up to
// written, the one just made, beyond keep, and returns their names.
func (s *backupSchedule) prune(ctx context.Context, written string) ([]string, error) {
	own, err := s.ownBackups(ctx)
	if err != nil {
		return nil, err
	}
	past, future := splitAt(own, written)
	s.warnFuture(future)
	var removed []string
	for _, old := range past[:max(len(past)-s.keep, 0)] {
		if old == written {
			continue
		}
		if err := os.Remove(filepath.Join(s.dir, old)); err != nil {
			return removed, fmt.Errorf("remove the old backup %s: %w", old, err)
		}
		removed = append(removed, old)
	}
	return removed, nil
}

// ownBackups lists the scheduled backups in dir that carry this
// installation's id, oldest first. Another installation's (two servers
// given one --backup-to) are neither counted nor removed, nor is a file
// whose id cannot be read; the first time it finds another's it says so.
func (s *backupSchedule) ownBackups(ctx context.Context) ([]string, error) {
	names, err := scheduledBackups(s.dir)
	if err != nil {
		return nil, err
	}
	var own, others []string
	for _, name := range names {
		ids, err := sqlite.ReadSettings(ctx, filepath.Join(s.dir, name), settingInstallation)
		switch {
		case err != nil:
			s.log.Warn("backup: cannot read the installation id of a file named as a scheduled backup; it is left alone", "file", filepath.Join(s.dir, name), "err", err)
		case string(ids[settingInstallation]) == s.installation:
			own = append(own, name)
		default:
			others = append(others, name)
		}
	}
	if len(others) > 0 && !s.toldOthers {
		s.toldOthers = true
		s.log.Warn("backup: --backup-to holds backups of another installation; --backup-keep counts and removes only this one's, give each its own directory",
			"to", s.dir, "installation", s.installation, "others", len(others))
	}
	return own, nil
}

// warnFuture logs the backups named after now.
func (s *backupSchedule) warnFuture(future []string) {
	if len(future) > 0 {
		s.log.Warn("backup: --backup-to holds backups named in the future (a clock that was ahead, or files copied in); the schedule and --backup-keep ignore them, remove them if they are not wanted",
			"to", s.dir, "files", future)
	}
}

// removeStaleTemps removes the temporary files of scheduled backups
// (sqlite.Backup's .<name>.tmp and SQLite's -journal beside it) that no
// backup writes any more: a backup that was stopped (the server killed)
// leaves a file as large as the store. One written within the last
// interval (or minStaleTemp) may be another server's backup at work.
func (s *backupSchedule) removeStaleTemps(now time.Time) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		s.log.Warn("backup: cannot list --backup-to for stale temporary files", "to", s.dir, "err", err)
		return
	}
	cutoff := now.Add(-max(s.every, minStaleTemp))
	for _, e := range ents {
		if !isBackupTemp(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil || fi.ModTime().After(cutoff) {
			continue
		}
		path := filepath.Join(s.dir, e.Name())
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("backup: cannot remove a temporary file a stopped backup left", "file", path, "err", err)
			continue
		}
		s.log.Info("backup: removed a temporary file a stopped backup left", "file", path, "bytes", fi.Size())
	}
}

// isBackupTemp reports whether name is a temporary file of a scheduled
// backup: .trent-<time>.db.tmp, or its -journal.
func isBackupTemp(name string) bool {
	rest, ok := strings.CutPrefix(name, ".")
	if !ok {
		return false
	}
	rest = strings.TrimSuffix(rest, "-journal")
	base, ok := strings.CutSuffix(rest, ".tmp")
	return ok && !backupNameTime(base).IsZero()
}

// backupName is the name of a scheduled backup made at t.
func backupName(t time.Time) string {
	return "trent-" + t.UTC().Format(backupTimeFormat) + ".db"
}

// backupNameTime returns the time a scheduled backup's name gives, or
// zero if name is not one.
func backupNameTime(name string) time.Time {
	ts, ok := strings.CutPrefix(name, "trent-")
	if !ok {
		return time.Time{}
	}
	if ts, ok = strings.CutSuffix(ts, ".db"); !ok {
		return time.Time{}
	}
	t, err := time.Parse(backupTimeFormat, ts)
	if err != nil {
		return time.Time{}
	}
	return t
}

// splitAt splits names, sorted, into those up to last and those after
// it: backup names sort as their times do.
func splitAt(names []string, last string) (upTo, after []string) {
	i, found := slices.BinarySearch(names, last)
	if found {
		i++
	}
	return names[:i], names[i:]
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
		if e.Type().IsRegular() && !backupNameTime(e.Name()).IsZero() {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}
