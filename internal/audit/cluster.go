package audit

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/trent-kms/trent/internal/durable"
)

// # Many nodes, one installation (PostgreSQL)
//
// Each node keeps its own log, in its own data dir, exactly as a single
// node does: its own hash chain, its own digests, fsynced before each
// answer. Nothing on the request path touches the database. What the
// nodes share is the signing key (wrapped in the database) and two tables
// that a Shipper (ship.go) fills asynchronously from the node's durable
// files:
//
//   - audit_events: every durable event line of every node, keyed by
//     (node, trentSeq), which LookupEvents reads on any node
//     (ClusterSearcher), so that a request served by one node is found
//     through another;
//   - audit_heads: per node, the newest digest (number, file, signature,
//     the head it covers) and the last event shipped, so that
//     VerifyCluster can tell a node whose files are missing or cut short
//     from one that is intact — which a node's files alone cannot.
//
// A node is named by a random id made once and kept in its audit
// directory (NodeIDFile), and that id is in each of its event lines (a
// third field of the log's own, "trentNode", after trentPrevHash, so
// covered by the hash chain and left out of CloudTrailEvent like the other
// two), in each of its digests (signed) and in each of its rows. It is kept beside the log rather than elsewhere
// in the data dir so that a copy of the audit directory still says whose
// log it is, and so that a log moved aside takes its id with it: a new log
// is a new node, and never reuses sequence numbers another log shipped.

// NodeIDFile holds the node id of the log in its directory.
const NodeIDFile = "node-id"

var nodeIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ValidNodeID reports whether s has the form of a node id.
func ValidNodeID(s string) bool { return nodeIDRE.MatchString(s) }

// NodeID returns the node id stored in dir (an audit directory), making
// one (n- and 16 random hex digits, mode 0600, durably) when there is none.
func NodeID(dir string) (string, error) {
	id, err := ReadNodeID(dir)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return id, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("audit: %w", err)
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("audit: node id: %w", err)
	}
	id = "n-" + hex.EncodeToString(b[:])
	tmp := filepath.Join(dir, "."+NodeIDFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", fmt.Errorf("audit: node id: %w", err)
	}
	err = durable.WriteAndClose(f, []byte(id+"\n"))
	if err == nil {
		// A link, not a rename: of two processes starting on one directory
		// at once, one id wins and both read it.
		if err = os.Link(tmp, filepath.Join(dir, NodeIDFile)); errors.Is(err, fs.ErrExist) {
			err = nil
		}
	}
	os.Remove(tmp)
	if err == nil {
		err = OS{}.SyncDir(dir)
	}
	if err != nil {
		return "", fmt.Errorf("audit: node id: %w", err)
	}
	return ReadNodeID(dir)
}

// ReadNodeID returns the node id stored in dir; an error wrapping
// fs.ErrNotExist when there is none.
func ReadNodeID(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, NodeIDFile))
	if err != nil {
		return "", err
	}
	id := strings.TrimSpace(string(b))
	if !ValidNodeID(id) {
		return "", fmt.Errorf("audit: %s: %q is not a node id", filepath.Join(dir, NodeIDFile), id)
	}
	return id, nil
}

// DigestHead is a digest as the cluster records it: its number, file and
// signature, and the head of the log it covers through.
type DigestHead struct {
	Seq       uint64
	File      string
	Signature string // base64, as the next digest quotes it
	Head      Head
}

// NewestDigest returns the newest digest of the log whose file is durable
// (nil before the first).
func (l *Log) NewestDigest() *DigestHead { return l.newestDigest.Load() }

// NodeID is the node id the log was opened with ("" for a single node).
func (l *Log) NodeID() string { return l.opts.NodeID }

// Dir is the directory of the log.
func (l *Log) Dir() string { return l.dir }

// notifyDurable tells Options.OnDurable that more of the log is durable.
// Called by the writer.
func (l *Log) notifyDurable() {
	if f := l.opts.OnDurable; f != nil {
		f()
	}
}

// digestDurable publishes the digest whose directory entry just became
// durable. Called by the writer.
func (l *Log) digestDurable() {
	if d := l.owedDigest; d != nil {
		l.owedDigest = nil
		l.newestDigest.Store(d)
		l.notifyDurable()
	}
}

// appendLine is the package's appendLine, with the node id as a third
// field of the log's own when the log has one.
func (l *Log) appendLine(dst, body []byte, seq uint64, prev *[32]byte) ([]byte, [32]byte) {
	if l.opts.NodeID == "" {
		return appendLine(dst, body, seq, prev)
	}
	return appendNodeLine(dst, body, seq, prev, l.opts.NodeID)
}

// appendNodeLine is appendLine with "trentNode" after "trentPrevHash". The
// id needs no escaping (ValidNodeID).
func appendNodeLine(dst, body []byte, seq uint64, prev *[32]byte, node string) ([]byte, [32]byte) {
	start := len(dst)
	dst = append(dst, body[:len(body)-1]...) // without its closing brace
	dst = append(dst, `,"trentSeq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, `,"trentPrevHash":"`...)
	dst = hex.AppendEncode(dst, prev[:])
	dst = append(dst, `","trentNode":"`...)
	dst = append(dst, node...)
	dst = append(dst, "\"}\n"...)
	return dst, sha256.Sum256(dst[start:])
}
