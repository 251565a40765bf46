package audit

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// RecordedHead is a node's row of the cluster's heads table: its newest
// digest, and the newest event it shipped to the event table.
type RecordedHead struct {
	Node            string
	PublicKeySHA256 string
	Digest          DigestHead // Seq 0: no digest recorded yet
	DigestAt        time.Time
	ShippedSeq      uint64 // 0: nothing shipped yet
	ShippedHash     string // hex
	ShippedAt       time.Time
}

// ClusterSource is what VerifyCluster reads of the database
// (internal/store/postgres implements it).
type ClusterSource interface {
	AuditHeads(ctx context.Context) ([]RecordedHead, error)
	AuditEventHashes(ctx context.Context, node string, f func(seq uint64, hash [32]byte) error) error
}

// NodeReport is what VerifyCluster found for one node.
type NodeReport struct {
	Node string
	Dir  string // "" when no directory given holds the node's log
	// Archives are the other directories given that hold the node's log:
	// its older part, moved there by Archive.
	Archives []string
	Report   Report
	Head     *RecordedHead // nil: the heads table does not know the node
	Rows     int           // rows of the event table checked against the files
	// FirstRow is the node's oldest event in the event table: 1, or the
	// first after those pruned (trent audit prune).
	FirstRow uint64
	Pending  int   // events in the files not yet in the event table
	Problem  error // nil when the node's log is intact and complete
}

// VerifyCluster checks every node of an installation on PostgreSQL: each
// directory's log as Verify does; that every node the heads table names
// has its log among dirs; that each node's files reach the newest digest
// and the newest shipped event the table recorded for it, with the same
// digest signature and event hashes — which is what catches a log cut
// short together with its newest digests, or deleted whole, since those
// leave files that agree with themselves — and that every row of the
// event table (which LookupEvents reads) is the line in the node's files.
// It returns one report per node, sorted by node id; err is non-nil when
// any node has a problem (or when dirs or the database cannot be read).
func VerifyCluster(ctx context.Context, src ClusterSource, pub crypto.PublicKey, dirs []string) ([]NodeReport, error) {
	key, err := p384(pub)
	if err != nil {
		return nil, err
	}
	fp, err := Fingerprint(key)
	if err != nil {
		return nil, err
	}
	heads, err := src.AuditHeads(ctx)
	if err != nil {
		return nil, err
	}
	byNode := map[string]*NodeReport{}
	var reports []*NodeReport
	for _, dir := range dirs {
		node, err := nodeOfDir(dir)
		if err != nil {
			return nil, err
		}
		if r, ok := byNode[node]; ok {
			// One log in two places: the node's directory and an archive
			// of its older part (a plain copy fails as files in both).
			r.Archives = append(r.Archives, dir)
			continue
		}
		r := &NodeReport{Node: node, Dir: dir}
		byNode[node] = r
		reports = append(reports, r)
	}
	for i := range heads {
		h := &heads[i]
		r, ok := byNode[h.Node]
		if !ok {
			r = &NodeReport{Node: h.Node}
			byNode[h.Node] = r
			reports = append(reports, r)
		}
		r.Head = h
	}
	for _, r := range reports {
		if len(r.Archives) > 0 {
			r.Dir, r.Archives = liveFirst(r.Dir, r.Archives)
		}
	}
	slices.SortFunc(reports, func(a, b *NodeReport) int { return strings.Compare(a.Node, b.Node) })

	failed := 0
	out := make([]NodeReport, 0, len(reports))
	for _, r := range reports {
		r.Problem = verifyNode(ctx, src, key, fp, r)
		if r.Problem != nil {
			failed++
		}
		out = append(out, *r)
	}
	if failed > 0 {
		return out, fmt.Errorf("%d of %d nodes failed verification", failed, len(out))
	}
	return out, nil
}

// nodeOfDir returns the node id of the log in dir: its node-id file, which
// must agree with the digests' (a copy without the file takes theirs).
func nodeOfDir(dir string) (string, error) {
	id, err := ReadNodeID(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	ls, lerr := listDir(dir)
	if lerr != nil {
		return "", fmt.Errorf("%s: %w", dir, lerr)
	}
	if n := len(ls.digests); n > 0 {
		d, derr := readDigest(filepath.Join(dir, ls.digests[n-1].name))
		if derr == nil && d.NodeID != "" {
			if id == "" {
				id = d.NodeID
			} else if d.NodeID != id {
				return "", fmt.Errorf("%s: %s names node %s, but digest %s was signed for node %s", dir, NodeIDFile, id, ls.digests[n-1].name, d.NodeID)
			}
		}
	}
	if id == "" {
		return "", fmt.Errorf("%s holds no node id (%s) and no digest naming one: not a node's audit log", dir, NodeIDFile)
	}
	return id, nil
}

func verifyNode(ctx context.Context, src ClusterSource, key crypto.PublicKey, fp string, r *NodeReport) error {
	h := r.Head
	if r.Dir == "" {
		last := "nothing recorded"
		if h.ShippedSeq > 0 || h.Digest.Seq > 0 {
			last = fmt.Sprintf("it recorded event %d and digest %d", max(h.ShippedSeq, h.Digest.Head.EventSeq), h.Digest.Seq)
		}
		return fmt.Errorf("node %s: its log is missing: no directory given holds it (%s)", r.Node, last)
	}
	// The events the heads table names are looked up as Verify reads the
	// files; the event table's rows, in a second reading after it.
	var wanted []uint64
	if h != nil {
		wanted = []uint64{h.Digest.Head.EventSeq, h.ShippedSeq}
	}
	hashAt := map[uint64][32]byte{}
	dirs := append(slices.Clone(r.Archives), r.Dir)
	rep, err := verify(dirs, key, func(seq uint64, hash [32]byte) {
		if slices.Contains(wanted, seq) {
			hashAt[seq] = hash
		}
	})
	r.Report = rep
	if err != nil {
		return fmt.Errorf("node %s (%s): %w", r.Node, r.Dir, err)
	}
	have := uint64(rep.Events) // Verify passed: events 1..have, in order
	at := func(seq uint64) string { h := hashAt[seq]; return hex.EncodeToString(h[:]) }
	if h == nil {
		if have > 0 {
			return fmt.Errorf("node %s (%s): the database records nothing of this node's %d events: not a node of this installation, or its heads row was deleted", r.Node, r.Dir, have)
		}
		return nil
	}
	if h.PublicKeySHA256 != "" && h.PublicKeySHA256 != fp {
		return fmt.Errorf("node %s: the database records its digests as signed by key %s, not %s", r.Node, h.PublicKeySHA256, fp)
	}
	if d := h.Digest; d.Seq > 0 {
		if uint64(rep.Digests) < d.Seq {
			return fmt.Errorf("node %s (%s): truncated: its newest digest is number %d, but it wrote digest %d (%s, covering events through %d): digests and events after digest %d were deleted",
				r.Node, r.Dir, rep.Digests, d.Seq, d.File, d.Head.EventSeq, rep.Digests)
		}
		got, err := readDigestIn(dirs, d.File)
		if err != nil || got.Seq != d.Seq || got.sigText != d.Signature {
			return fmt.Errorf("node %s (%s): digest %d is not the one the node recorded (%s): replaced", r.Node, r.Dir, d.Seq, d.File)
		}
		if have < d.Head.EventSeq || d.Head.EventSeq > 0 && at(d.Head.EventSeq) != d.Head.EventHash {
			return fmt.Errorf("node %s (%s): truncated: its files hold %d events, but digest %d covers through event %d", r.Node, r.Dir, have, d.Seq, d.Head.EventSeq)
		}
	}
	if s := h.ShippedSeq; s > 0 {
		if have < s {
			return fmt.Errorf("node %s (%s): truncated: its files hold %d events, but it had shipped event %d to the database: events %d to %d were deleted",
				r.Node, r.Dir, have, s, have+1, s)
		}
		if at(s) != h.ShippedHash {
			return fmt.Errorf("node %s (%s): event %d differs from the one it shipped: replaced", r.Node, r.Dir, s)
		}
	}
	var rowProblem error
	rows := 0
	var lastRow uint64
	lines, err := newLineHashes(dirs)
	if err != nil {
		return fmt.Errorf("node %s (%s): %w", r.Node, r.Dir, err)
	}
	var firstRow uint64
	err = src.AuditEventHashes(ctx, r.Node, func(seq uint64, hash [32]byte) error {
		if rows == 0 {
			firstRow = seq
		}
		rows++
		lastRow = seq
		if seq == 0 || seq > have {
			rowProblem = fmt.Errorf("node %s (%s): the database holds its event %d, beyond the %d events in its files: truncated", r.Node, r.Dir, seq, have)
			return errStopRows
		}
		line, err := lines.at(seq)
		switch {
		case err != nil:
			rowProblem = fmt.Errorf("node %s (%s): %w", r.Node, r.Dir, err)
		case line != hash:
			rowProblem = fmt.Errorf("node %s (%s): event %d in the database differs from the line in its files: the database copy (what LookupEvents answers) was edited, or the file was", r.Node, r.Dir, seq)
		}
		if rowProblem != nil {
			return errStopRows
		}
		return nil
	})
	if rowProblem != nil {
		return rowProblem
	}
	if err != nil {
		return err
	}
	r.Rows, r.FirstRow = rows, firstRow
	// Rows before firstRow may have been pruned (older than what
	// LookupEvents keeps); within the rest none may be missing.
	if rows > 0 && uint64(rows) != lastRow-firstRow+1 {
		return fmt.Errorf("node %s: the database holds %d of its events %d to %d: rows were deleted", r.Node, rows, firstRow, lastRow)
	}
	r.Pending = int(have - lastRow)
	return nil
}

var errStopRows = errors.New("stop")

// lineHashes reads the hashes of a log's event lines in order, one file at
// a time, for lookups by event number that only go forward.
type lineHashes struct {
	files  []nameInfo
	next   int // the next file to read
	buf    []byte
	hashes [][32]byte // of the file read last
	first  uint64     // the event number of hashes[0]
}

func newLineHashes(dirs []string) (*lineHashes, error) {
	ls, err := listDirs(dirs)
	if err != nil {
		return nil, err
	}
	return &lineHashes{files: ls.events, first: 1}, nil
}

// at returns the hash of the seq-th line of the log (counting from 1): the
// hash of event seq in a log Verify passed. seq must not be smaller than
// the first event of the file the last call read.
func (l *lineHashes) at(seq uint64) ([32]byte, error) {
	for seq >= l.first+uint64(len(l.hashes)) {
		if l.next == len(l.files) {
			return [32]byte{}, fmt.Errorf("its files hold no event %d", seq)
		}
		l.first += uint64(len(l.hashes))
		var err error
		if l.buf, err = readInto(l.buf, l.files[l.next].path()); err != nil {
			return [32]byte{}, err
		}
		l.next++
		lines, _ := splitLines(l.buf)
		l.hashes = l.hashes[:0]
		for _, ln := range lines {
			l.hashes = append(l.hashes, sha256.Sum256(ln))
		}
	}
	if seq < l.first {
		return [32]byte{}, fmt.Errorf("event %d looked up after a later one", seq)
	}
	return l.hashes[seq-l.first], nil
}

// liveFirst returns, of a node's directories, the one holding its newest
// digest (the node's own, which reports name), and the others (archives).
func liveFirst(dir string, archives []string) (string, []string) {
	all := append([]string{dir}, archives...)
	best, bestSeq := 0, uint64(0)
	for i, d := range all {
		if ls, err := listDir(d); err == nil && len(ls.digests) > 0 && ls.digests[len(ls.digests)-1].seq > bestSeq {
			best, bestSeq = i, ls.digests[len(ls.digests)-1].seq
		}
	}
	live := all[best]
	return live, slices.Delete(all, best, best+1)
}

// readDigestIn reads the digest named name from whichever of dirs holds it.
func readDigestIn(dirs []string, name string) (*parsedDigest, error) {
	for _, dir := range dirs {
		d, err := readDigest(filepath.Join(dir, name))
		if !errors.Is(err, fs.ErrNotExist) {
			return d, err
		}
	}
	return nil, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
}
