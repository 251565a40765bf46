package main

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/store/postgres"
)

const auditUsage = `usage:
  trent audit verify --data-dir DIR [--archive ARCHIVE-DIR ...] [--public-key FILE]
  trent audit archive --data-dir DIR --to ARCHIVE-DIR [--older-than 2160h] [--database-url URL]
  trent audit prune --database-url URL [--older-than 2160h]
  trent audit verify --database-url URL [--data-dir NODE-DIR ...] [--archive ARCHIVE-DIR ...] [--public-key FILE]
  trent audit public-key --data-dir DIR
  trent audit public-key --database-url URL`

// auditCmd runs `trent audit SUBCOMMAND`. Both subcommands read files
// only: they work with Trent stopped, on a copy of the files.
func auditCmd(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(auditUsage)
	}
	switch db := usesDatabase(args[1:]); {
	case args[0] == "verify" && db:
		return auditVerifyCluster(args[1:], stdout)
	case args[0] == "verify":
		return auditVerify(args[1:], stdout)
	case args[0] == "prune":
		return auditPrune(args[1:], stdout)
	case args[0] == "archive":
		return auditArchive(args[1:], stdout)
	case args[0] == "public-key" && db:
		return auditPublicKeyDB(args[1:], stdout)
	case args[0] == "public-key":
		return auditPublicKey(args[1:], stdout)
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], auditUsage)
}

func parseAuditFlags(name string, args []string, withKey bool) (dataDir, keyFile string, archives []string, err error) {
	fs := flag.NewFlagSet("audit "+name, flag.ContinueOnError)
	fs.StringVar(&dataDir, "data-dir", "", "Trent's data directory, or a copy of its audit directory (required)")
	if withKey {
		fs.StringVar(&keyFile, "public-key", "", "PEM public key to check the digests against; without it, the key stored beside the files is trusted")
		fs.Var((*dirList)(&archives), "archive", "a directory `trent audit archive` moved the log's older part to (may be repeated)")
	}
	if err := parseFlags(fs, args); err != nil {
		return "", "", nil, err
	}
	if dataDir == "" {
		return "", "", nil, errors.New("--data-dir is required")
	}
	return dataDir, keyFile, archives, nil
}

// shippedThrough is the newest event of the node whose audit log is in
// dir that its database holds, the bound of what may be archived: a node
// reads only its own files to ship, never an archive. A log that is no
// node's (SQLite) has no bound, and a node's log needs its database.
func shippedThrough(dir, dbURL string) (uint64, error) {
	node, err := audit.ReadNodeID(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist) && dbURL == "":
		return math.MaxUint64, nil
	case errors.Is(err, fs.ErrNotExist):
		return 0, fmt.Errorf("%s is not the log of a node of an installation on PostgreSQL (no %s): --database-url does not apply", dir, audit.NodeIDFile)
	case err != nil:
		return 0, err
	case dbURL == "":
		return 0, fmt.Errorf("%s is the log of node %s of an installation on PostgreSQL: give its --database-url, so that only events it has shipped into the database move", dir, node)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := postgres.Open(ctx, dbURL)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	h, err := db.ShippedHead(ctx, node)
	if err != nil {
		return 0, fmt.Errorf("read what node %s has shipped: %w", node, err)
	}
	return h.Seq, nil
}

// auditDir finds the log: DIR/audit, or DIR itself when it holds the
// files (a copy an auditor was handed).
func auditDir(dataDir string) (string, error) {
	d := filepath.Join(dataDir, "audit")
	if fi, err := os.Stat(d); err == nil && fi.IsDir() {
		return d, nil
	}
	if _, err := os.Stat(filepath.Join(dataDir, audit.PublicKeyFile)); err == nil {
		return dataDir, nil
	}
	if m, _ := filepath.Glob(filepath.Join(dataDir, "audit-*.jsonl")); len(m) > 0 {
		return dataDir, nil
	}
	return "", fmt.Errorf("%s holds no audit log: neither %s nor audit files", dataDir, d)
}

func readPublicKey(path string) (*ecdsa.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := audit.ParsePublicKeyPEM(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// auditVerify checks the log and prints how much it checked, or returns
// the first problem (main prints it and exits 1).
func auditVerify(args []string, stdout io.Writer) error {
	dataDir, keyFile, archives, err := parseAuditFlags("verify", args, true)
	if err != nil {
		return err
	}
	dir, err := auditDir(dataDir)
	if err != nil {
		return err
	}
	var pub *ecdsa.PublicKey
	if keyFile != "" {
		if pub, err = readPublicKey(keyFile); err != nil {
			return err
		}
	} else {
		path := filepath.Join(dir, audit.PublicKeyFile)
		if pub, err = readPublicKey(path); err != nil {
			return fmt.Errorf("no --public-key given, and the stored one is unusable: %w", err)
		}
		fp, err := audit.Fingerprint(pub)
		if err != nil {
			return err
		}
		// Whoever could edit the files could have replaced this key too:
		// without --public-key, verify proves only that the files agree
		// with themselves.
		fmt.Fprintf(stdout, "warning: trusting the public key found beside the files (%s, SHA-256 %s); "+
			"pass --public-key FILE to check against a key you hold\n", path, fp)
	}
	rep, err := audit.Verify(dir, pub, archives...)
	if err != nil {
		return fmt.Errorf("verify failed: %w", err)
	}
	where := dir
	if len(archives) > 0 {
		where = strings.Join(append(archives, dir), " and ")
	}
	fmt.Fprintf(stdout, "verified %d events and %d digests in %d files of %s\n", rep.Events, rep.Digests, rep.Files, where)
	if rep.Uncovered > 0 {
		fmt.Fprintf(stdout, "note: the last %d events are not yet covered by a digest: their links are checked but not signed "+
			"(Trent is running, or stopped without closing the log; a deleted newest digest would look the same)\n", rep.Uncovered)
	}
	if t := rep.Torn; t != nil {
		fmt.Fprintf(stdout, "note: %s ends with an incomplete line (%d bytes at byte %d): a write cut short by a crash, never acknowledged; "+
			"Trent cuts it off when it next starts\n", t.File, t.Bytes, t.Offset)
	}
	for _, t := range rep.Truncations {
		fmt.Fprintf(stdout, "note: after a crash, Trent cut an incomplete line (%d bytes, SHA-256 %s) off %s at byte %d\n", t.Bytes, t.SHA256, t.File, t.Offset)
	}
	return nil
}

// auditPublicKey prints the audit signing key's public half. For now it is
// the PEM the log writes beside its files; once the signing key is stored
// wrapped by the root key, this can print it from there instead.
func auditPublicKey(args []string, stdout io.Writer) error {
	dataDir, _, _, err := parseAuditFlags("public-key", args, false)
	if err != nil {
		return err
	}
	dir, err := auditDir(dataDir)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, audit.PublicKeyFile)
	if _, err := readPublicKey(path); err != nil {
		return err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	_, err = stdout.Write(b)
	return err
}

// auditArchive moves the log's older part to another directory
// (audit.Archive), with Trent running or stopped.
func auditArchive(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("audit archive", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "Trent's data directory, or its audit directory (required)")
	to := fs.String("to", "", "the directory to move the older part of the log to; made 0700 if missing (required)")
	olderThan := fs.Duration("older-than", 90*24*time.Hour, "move what was covered by digests at least this old (default: 90 days, what AWS's LookupEvents shows)")
	dbURL := fs.String("database-url", "", "for a node of an installation on PostgreSQL (required there): the installation's database, so that only events the node has shipped into it move")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dataDir == "" || *to == "" {
		return errors.New("--data-dir and --to are required")
	}
	if *olderThan < 0 {
		return errors.New("--older-than must not be negative")
	}
	dir, err := auditDir(*dataDir)
	if err != nil {
		return err
	}
	through, err := shippedThrough(dir, *dbURL)
	if err != nil {
		return err
	}
	rep, err := audit.ArchiveThrough(context.Background(), dir, *to, time.Now().Add(-*olderThan), through)
	if err != nil {
		return err
	}
	if rep.Digests == 0 && through != math.MaxUint64 {
		fmt.Fprintf(stdout, "nothing to archive: no digest older than %s but the newest covers only events this node has shipped (the database holds them through event %d)\n", *olderThan, through)
		return nil
	}
	if rep.Digests == 0 {
		fmt.Fprintf(stdout, "nothing to archive: no digest older than %s but the newest\n", *olderThan)
		return nil
	}
	fmt.Fprintf(stdout, "moved %d event files (events through %d) and %d digests to %s; the log in %s continues after %s\n"+
		"verify it whole with: trent audit verify --data-dir %s --archive %s\n",
		rep.EventFiles, rep.Through, rep.Digests, *to, dir, rep.Boundary, *dataDir, *to)
	return nil
}
