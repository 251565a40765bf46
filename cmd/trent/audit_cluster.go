package main

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/trent-kms/trent/internal/app"
	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/postgres"
)

// The audit subcommands with --database-url: an installation on
// PostgreSQL, whose nodes each keep their own log (docs/postgres.md).

// usesDatabase reports whether args name a database (-database-url or
// --database-url, with = or not).
func usesDatabase(args []string) bool {
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && name == "database-url" {
			return true
		}
		if a == "--" {
			break
		}
	}
	return false
}

// dirList is a flag that may be given several times.
type dirList []string

func (d *dirList) String() string     { return strings.Join(*d, ",") }
func (d *dirList) Set(v string) error { *d = append(*d, v); return nil }

var errNoStoredKey = errors.New("the database holds no audit public key yet: a node stores it when it first opens its log (or pass --public-key FILE to verify)")

// openAuditDB opens the installation's database, at url from
// --database-url, for reading its audit tables and public key (nil when
// none is stored).
func openAuditDB(ctx context.Context, url string) (*postgres.DB, *ecdsa.PublicKey, []byte, error) {
	if url == "" {
		return nil, nil, nil, errors.New("--database-url is empty")
	}
	db, err := postgres.Open(ctx, url)
	if err != nil {
		return nil, nil, nil, err
	}
	pemBytes, err := db.GetSetting(ctx, app.SettingAuditPublicKey)
	if errors.Is(err, store.ErrNotFound) {
		return db, nil, nil, nil
	}
	if err != nil {
		db.Close()
		return nil, nil, nil, err
	}
	pub, err := audit.ParsePublicKeyPEM(pemBytes)
	if err != nil {
		db.Close()
		return nil, nil, nil, fmt.Errorf("the database's audit public key: %w", err)
	}
	return db, pub, pemBytes, nil
}

// auditVerifyCluster is `trent audit verify --database-url URL [--data-dir
// DIR ...] [--public-key FILE]`: every node's log, against the heads and
// events the database recorded. It prints one line per node and fails if
// any node's log is missing, cut short, damaged or differs from the
// database's copy.
func auditVerifyCluster(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	var (
		dirs, archives dirList
		url            string
		keyFile        string
	)
	fs.StringVar(&url, "database-url", "", "postgres://… URL of the installation's database (required here)")
	fs.Var(&dirs, "data-dir", "a node's data directory, or a copy of its audit directory; repeat for every node")
	fs.Var(&archives, "archive", "a directory `trent audit archive` moved a node's older files to; matched to its node by id, may be repeated")
	fs.StringVar(&keyFile, "public-key", "", "PEM public key to check the digests against; without it, the key stored in the database is trusted")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	db, stored, _, err := openAuditDB(ctx, url)
	if err != nil {
		return err
	}
	defer db.Close()
	pub := stored
	if pub == nil && keyFile == "" {
		return errNoStoredKey
	}
	if keyFile != "" {
		if pub, err = readPublicKey(keyFile); err != nil {
			return err
		}
	} else {
		fp, err := audit.Fingerprint(pub)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "warning: trusting the public key stored in the database (SHA-256 %s); pass --public-key FILE to check against a key you hold\n", fp)
	}
	var auditDirs []string
	for _, d := range dirs {
		ad, err := auditDir(d)
		if err != nil {
			return err
		}
		auditDirs = append(auditDirs, ad)
	}
	auditDirs = append(auditDirs, archives...)
	reports, err := audit.VerifyCluster(ctx, db, pub, auditDirs)
	for _, r := range reports {
		if r.Problem != nil {
			fmt.Fprintf(stdout, "FAILED %s\n", r.Problem)
			continue
		}
		fmt.Fprintf(stdout, "node %s: verified %d events and %d digests in %d files of %s", r.Node, r.Report.Events, r.Report.Digests, r.Report.Files,
			strings.Join(append(slices.Clone(r.Archives), r.Dir), " and "))
		if h := r.Head; h != nil {
			fmt.Fprintf(stdout, "; reaches its recorded head (digest %d, event %d shipped); %d events in the database match", h.Digest.Seq, h.ShippedSeq, r.Rows)
			if r.FirstRow > 1 {
				fmt.Fprintf(stdout, " (from event %d: those before it were pruned from the database, or deleted)", r.FirstRow)
			}
		}
		fmt.Fprintln(stdout)
		if r.Pending > 0 {
			fmt.Fprintf(stdout, "note: node %s: the last %d events are not in the database yet (the node is running, or stopped before it could ship them; it ships them when it next starts)\n", r.Node, r.Pending)
		}
		if r.Report.Uncovered > 0 {
			fmt.Fprintf(stdout, "note: node %s: the last %d events are not yet covered by a digest\n", r.Node, r.Report.Uncovered)
		}
	}
	if err != nil {
		return fmt.Errorf("verify failed: %w", err)
	}
	fmt.Fprintf(stdout, "verified %d nodes\n", len(reports))
	return nil
}

// auditPublicKeyDB is `trent audit public-key --database-url URL`.
func auditPublicKeyDB(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("audit public-key", flag.ContinueOnError)
	var url string
	fs.StringVar(&url, "database-url", "", "postgres://… URL of the installation's database")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, _, pemBytes, err := openAuditDB(ctx, url)
	if err != nil {
		return err
	}
	defer db.Close()
	if pemBytes == nil {
		return errNoStoredKey
	}
	_, err = stdout.Write(pemBytes)
	return err
}

// auditPrune is `trent audit prune --database-url URL`: it deletes the
// database's copies of events older than --older-than (audit_events, what
// LookupEvents reads on PostgreSQL). The nodes' files stay the record.
func auditPrune(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("audit prune", flag.ContinueOnError)
	var url string
	fs.StringVar(&url, "database-url", "", "postgres://… URL of the installation's database (required)")
	olderThan := fs.Duration("older-than", 90*24*time.Hour, "delete the events at least this old (default: 90 days, what AWS's LookupEvents shows)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *olderThan < 0 {
		return errors.New("--older-than must not be negative")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	db, _, _, err := openAuditDB(ctx, url)
	if err != nil {
		return err
	}
	defer db.Close()
	pruned, err := db.PruneAuditEvents(ctx, time.Now().Add(-*olderThan))
	for _, p := range pruned {
		if p.Deleted == 0 {
			fmt.Fprintf(stdout, "node %s: nothing older than %s\n", p.Node, *olderThan)
			continue
		}
		fmt.Fprintf(stdout, "node %s: deleted %d events (through event %d) from the database; its files keep them\n", p.Node, p.Deleted, p.Through)
	}
	return err
}
