package audit

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/trent-kms/trent/internal/durable"
	"github.com/trent-kms/trent/internal/fspath"
)

// ArchiveReport says what Archive moved.
type ArchiveReport struct {
	EventFiles int    // event files moved
	Digests    int    // digests moved
	Through    uint64 // the last event in the files moved; 0 when none was
	// Boundary is the newest digest moved: the log left in the directory
	// starts just after what it covers, and the next digest there chains
	// to it.
	Boundary string
}

// Archive moves the older part of the log in dir to the directory to, so
// that a log that only grows can be kept on a disk of fixed size: the
// digests written before before, except the newest digest, and the event
// files they cover whole. Each file is copied, synced, and only then
// removed from dir, so a crash leaves it in both places (Verify then says
// so) and running Archive again finishes the move. The lookup indexes of
// the files moved are removed: LookupEvents no longer sees their events,
// as AWS's sees only the last 90 days. (GetKeyLastUsage answers from the
// store's key-use table; it reads the files only to catch up after a
// restart, from its stored mark on.)
//
// It is safe while Trent runs: the writer only appends to the newest
// event file and adds digests, Open needs only the newest digest and
// what follows it, and readers of the files skip one that vanishes under
// them. Archivers of one log take turns (lockArchive): a second waits
// for the first's round to end, then finds its work done. Verify checks
// the log whole with both directories (Verify(dir, pub, to)); dir alone
// then fails at its first digest, whose predecessors are gone, which is
// what a deleted beginning of the log must look like.
func Archive(dir, to string, before time.Time) (ArchiveReport, error) {
	return ArchiveThrough(context.Background(), dir, to, before, math.MaxUint64)
}

// ArchiveThrough is Archive that moves no event after through: a node of
// an installation on PostgreSQL keeps in its directory what its shipper
// has not copied into the database yet (Shipper.Through), which the
// shipper could not read from an archive. Cancelling ctx stops it between
// two chunks of a copy, as a crash would (a second run finishes).
func ArchiveThrough(ctx context.Context, dir, to string, before time.Time, through uint64) (ArchiveReport, error) {
	var rep ArchiveReport
	if err := CheckArchiveDir(dir, to); err != nil {
		return rep, err
	}
	// One archiver of the log at a time: a second (cron beside serve
	// --audit-archive-to) waits, then finds the move done.
	unlock, err := lockArchive(ctx, dir)
	if err != nil {
		return rep, err
	}
	defer unlock()
	ls, err := listDir(dir)
	if err != nil {
		return rep, fmt.Errorf("audit: archive: %w", err)
	}
	// The newest digest written before the cutoff that is not the newest
	// digest of all: it and everything before it go.
	k := -1
	for i, d := range ls.digests[:max(len(ls.digests)-1, 0)] {
		if d.time.Before(before) {
			k = i
		}
	}
	if k >= 0 && through != math.MaxUint64 {
		// The newest of those whose head the shipper has passed; heads
		// only grow, so a binary search reads a few digests, not all.
		var rerr error
		k = sort.Search(k+1, func(i int) bool {
			d, err := readDigest(ls.digests[i].path())
			if err != nil {
				rerr = cmp.Or(rerr, fmt.Errorf("audit: archive: digest %s: %w", ls.digests[i].name, err))
				return true
			}
			return d.Head.EventSeq > through
		}) - 1
		if rerr != nil {
			return rep, rerr
		}
	}
	if k < 0 {
		return rep, nil
	}
	boundary, err := readDigest(ls.digests[k].path())
	if err != nil {
		return rep, fmt.Errorf("audit: archive: digest %s: %w", ls.digests[k].name, err)
	}
	head := boundary.Head
	headFile, ok := parseName(eventFileRE, head.File)
	if !ok {
		return rep, nil // it covers no event: nothing to move yet
	}
	// Event files before the one the boundary's head is in: every event
	// in them is covered by the boundary or a digest before it. The head's
	// file stays, and with it every file being written.
	var files []nameInfo
	for _, f := range ls.events {
		if f.seq < headFile.seq {
			files = append(files, f)
		}
	}
	if err := os.MkdirAll(to, 0o700); err != nil {
		return rep, fmt.Errorf("audit: archive: %w", err)
	}
	if err := checkArchiveHoldsThisLog(dir, to, ls); err != nil {
		return rep, err
	}
	// Before anything moves: Open looks there for the events of the
	// intents a restored store holds.
	if err := noteArchiveDir(dir, to); err != nil {
		return rep, err
	}
	// What a copy a crash interrupted left: under the lock no copy into
	// to is under way. Readers of the archive skip them all the same.
	if _, err := durable.RemoveTemps(to); err != nil {
		return rep, fmt.Errorf("audit: archive: remove what an interrupted archive left in %s: %w", to, err)
	}
	for _, name := range []string{PublicKeyFile, NodeIDFile} {
		if err := copyAbsent(filepath.Join(dir, name), filepath.Join(to, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return rep, fmt.Errorf("audit: archive: %w", err)
		}
	}
	for _, f := range files {
		if err := moveFile(ctx, f, to); err != nil {
			return rep, err
		}
		os.Remove(filepath.Join(dir, indexFileName(f.name))) // not part of the log: see doc.go
		rep.EventFiles++
	}
	for _, d := range ls.digests[:k+1] {
		if err := moveFile(ctx, d, to); err != nil {
			return rep, err
		}
		rep.Digests++
	}
	if err := durable.SyncDir(dir); err != nil {
		return rep, fmt.Errorf("audit: archive: %w", err)
	}
	rep.Boundary = ls.digests[k].name
	if len(files) > 0 {
		// The files are consecutive: the last event moved is the one
		// before the first line of the head's file.
		first, ok, err := firstLineSeq(filepath.Join(dir, head.File))
		if err != nil || !ok || first < 2 {
			return rep, fmt.Errorf("audit: archive: moved %d files, but cannot read the first event of %s after them: %v", len(files), head.File, err)
		}
		rep.Through = first - 1
	}
	return rep, nil
}

// CheckArchiveDir refuses an archive directory that is the log's own, or
// inside it, however it is spelled (symbolic links are followed): a move
// into the log's own directory would find each file "already copied" and
// remove it.
func CheckArchiveDir(dir, to string) error {
	in, err := fspath.Inside(dir, to)
	if err != nil {
		return fmt.Errorf("audit: archive: %w", err)
	}
	if in {
		return fmt.Errorf("audit: archive: %s is inside the log's directory %s: archive it elsewhere", to, dir)
	}
	return nil
}

// moveFile copies f into dir, syncs it there, then removes it from its
// own directory. A copy an earlier, interrupted move left is accepted if
// it is the same file, and refused otherwise. It streams: a server
// archives while it serves (serve --audit-archive-to), and an event file
// is as large as MaxFileBytes.
func moveFile(ctx context.Context, f nameInfo, dir string) error {
	src, err := os.Open(f.path())
	if err != nil {
		return fmt.Errorf("audit: archive: %w", err)
	}
	defer src.Close()
	dst := filepath.Join(dir, f.name)
	switch old, err := os.Open(dst); {
	case err == nil:
		same, err := sameBytes(src, old)
		old.Close()
		if err != nil {
			return fmt.Errorf("audit: archive: compare %s with the copy in %s: %w", f.name, dir, err)
		}
		if !same {
			return fmt.Errorf("audit: archive: %s already holds a different %s: not moved", dir, f.name)
		}
	case errors.Is(err, fs.ErrNotExist):
		if err := copyNew(ctx, dst, src); err != nil {
			return fmt.Errorf("audit: archive: %w", err)
		}
	default:
		return fmt.Errorf("audit: archive: %w", err)
	}
	if err := durable.SyncDir(dir); err != nil {
		return fmt.Errorf("audit: archive: %w", err)
	}
	if err := os.Remove(f.path()); err != nil {
		return fmt.Errorf("audit: archive: %w", err)
	}
	return nil
}

// compareChunk is how much of each file sameBytes holds at once.
const compareChunk = 256 << 10

// sameBytes reports whether a and b read the same bytes to their ends.
func sameBytes(a, b io.Reader) (bool, error) {
	bufA, bufB := make([]byte, compareChunk), make([]byte, compareChunk)
	for {
		na, errA := io.ReadFull(a, bufA)
		nb, errB := io.ReadFull(b, bufB)
		if !bytes.Equal(bufA[:na], bufB[:nb]) {
			return false, nil
		}
		endA := errA == io.EOF || errors.Is(errA, io.ErrUnexpectedEOF)
		endB := errB == io.EOF || errors.Is(errB, io.ErrUnexpectedEOF)
		switch {
		case errA != nil && !endA:
			return false, errA
		case errB != nil && !endB:
			return false, errB
		case endA || endB:
			return endA && endB, nil
		}
	}
}

// copyNew copies r to path, durable a spareChunk at a time, as a spare's
// zeros are (spare.go): a server archives while it serves, and one fsync
// of a whole 64 MiB file would queue that much ahead of the log's own
// small write and flush.
func copyNew(ctx context.Context, path string, r io.Reader) error {
	return durable.CopyNew(ctx, path, r, spareChunk)
}

// ArchivedToFile, in a log's directory, names the directories Archive
// moved the log's older part to, one absolute path a line. It is not
// part of the log: Open reads it to look for the events of the intents
// a store restored from a backup holds (intent.go, archivedIntents).
const ArchivedToFile = "archived-to"

// archiveDirs returns the archive directories of the log in dir: extra,
// if set, and those its ArchivedToFile names, each once, absolute. The
// error is reading the file's; the directories are returned all the same.
func archiveDirs(dir, extra string) ([]string, error) {
	var dirs []string
	add := func(d string) {
		if d == "" {
			return
		}
		if abs, err := filepath.Abs(d); err == nil {
			d = abs
		}
		if !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	add(extra)
	b, err := os.ReadFile(filepath.Join(dir, ArchivedToFile))
	if errors.Is(err, fs.ErrNotExist) {
		return dirs, nil
	}
	if err != nil {
		return dirs, err
	}
	for line := range strings.Lines(string(b)) {
		add(strings.TrimSpace(line))
	}
	return dirs, nil
}

// noteArchiveDir adds to, made absolute, to dir's ArchivedToFile unless
// it is named there already. The caller holds the archive lock.
func noteArchiveDir(dir, to string) error {
	abs, err := filepath.Abs(to)
	if err != nil {
		return fmt.Errorf("audit: archive: %w", err)
	}
	noted, err := archiveDirs(dir, "")
	if err != nil {
		return fmt.Errorf("audit: archive: read %s: %w", ArchivedToFile, err)
	}
	if slices.Contains(noted, abs) {
		return nil
	}
	content := strings.Join(append(noted, abs), "\n") + "\n"
	if err := durable.CopyNew(context.Background(), filepath.Join(dir, ArchivedToFile), strings.NewReader(content), 0); err != nil {
		return fmt.Errorf("audit: archive: note the archive in %s: %w", ArchivedToFile, err)
	}
	if err := durable.SyncDir(dir); err != nil {
		return fmt.Errorf("audit: archive: %w", err)
	}
	return nil
}

// checkArchiveHoldsThisLog refuses an archive directory that holds
// another log's files: one under another key, of another node, or one
// whose files do not come before this log's (a new log under the same
// key, its old one moved aside). Moved into it, this log's files would
// sit beside another's, two files of each number, and Verify of the
// archive would fail for both.
func checkArchiveHoldsThisLog(dir, to string, ls listed) error {
	for _, name := range []string{PublicKeyFile, NodeIDFile} {
		theirs, err := os.ReadFile(filepath.Join(to, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue // a new archive, or one from before the file was kept: copied below
		}
		if err != nil {
			return fmt.Errorf("audit: archive: %w", err)
		}
		mine, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("audit: archive: %w", err)
		}
		if err != nil || !sameIdentity(name, mine, theirs) {
			what := "public key"
			if name == NodeIDFile {
				what = "node id"
			}
			return fmt.Errorf("audit: archive: %s holds another log's %s (%s): archive this log into a new directory", to, what, name)
		}
	}
	arc, err := listDir(to)
	if err != nil {
		return fmt.Errorf("audit: archive: %w", err)
	}
	// The archive's newest file comes before this directory's oldest, or
	// is one of this directory's own files, copied by a move a crash cut
	// short (or put back from a backup of the directory): the moves
	// compare those.
	for _, l := range []struct{ arc, here []nameInfo }{{arc.events, ls.events}, {arc.digests, ls.digests}} {
		if len(l.arc) == 0 || len(l.here) == 0 {
			continue
		}
		last, first := l.arc[len(l.arc)-1], l.here[0]
		if last.seq >= first.seq && !slices.ContainsFunc(l.here, func(n nameInfo) bool { return n.name == last.name }) {
			return fmt.Errorf("audit: archive: %s holds %s, which %s's %s does not follow: another log's files; archive this log into a new directory", to, last.name, dir, first.name)
		}
	}
	return nil
}

// sameIdentity reports whether two copies of the file name, a public key
// or a node id, say the same.
func sameIdentity(name string, a, b []byte) bool {
	if name == PublicKeyFile {
		ka, errA := ParsePublicKeyPEM(a)
		kb, errB := ParsePublicKeyPEM(b)
		if errA == nil && errB == nil {
			return ka.Equal(kb)
		}
	}
	return bytes.Equal(bytes.TrimSpace(a), bytes.TrimSpace(b))
}

// copyAbsent copies src to dst unless dst exists: an archive's copy was
// compared with src before (checkArchiveHoldsThisLog).
func copyAbsent(src, dst string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	return copyNew(context.Background(), dst, f)
}
