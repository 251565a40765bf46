package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/trent-kms/trent/internal/app"
)

// errBackupOnDatabase answers backup and restore given a database: its
// store is PostgreSQL's to back up.
var errBackupOnDatabase = errors.New("an installation on PostgreSQL is backed up and restored with PostgreSQL's own tools (pg_dump, base backups and WAL archiving; docs/postgres.md), not by trent")

// backupCmd is `trent backup --data-dir DIR --to FILE`: a consistent copy
// of a SQLite installation's store, taken while it serves or not.
func backupCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "the installation's data directory (required)")
	to := fs.String("to", "", "the file to write the copy to; it must not exist (required)")
	dbURL := fs.String("database-url", "", "not for backups: see the error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dbURL != "" {
		return errBackupOnDatabase
	}
	if *dataDir == "" || *to == "" {
		return errors.New("--data-dir and --to are required")
	}
	rep, err := app.Backup(context.Background(), *dataDir, *to)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backed up the store of %s (installation %s, %s, sealed by %s) to %s: %d bytes, one consistent snapshot, checked\n",
		*dataDir, rep.Installation, rep.Mode, rep.Seal, *to, rep.Bytes)
	fmt.Fprint(stdout, sealReminder(rep, *dataDir))
	fmt.Fprintf(stdout, "the audit log is not in it: archive it with trent audit archive\nrestore with: trent restore --data-dir DIR --from %s (Trent stopped)\n", *to)
	return nil
}

// sealReminder says what else a restore of the backup needs.
func sealReminder(rep app.BackupReport, dataDir string) string {
	switch {
	case rep.Mode == app.ModeDev:
		return fmt.Sprintf("it is unsealed by the dev seal key file %s, which is not in it\n", filepath.Join(dataDir, "dev-seal.key"))
	case rep.Seal == app.SealShamir:
		return "it is unsealed by the unseal shares current when it was taken: keep them with it (a later trent rekey does not change this backup)\n"
	case rep.Seal == app.SealPKCS11:
		return "it is unsealed by the HSM's key and the token settings current when it was taken: keep that key as long as the backup\n"
	default:
		return "it is unsealed by the seal key file current when it was taken (--seal-key-file), which is not in it: keep that file apart from the backup, as long as the backup\n"
	}
}

// restoreCmd is `trent restore --data-dir DIR --from FILE`: it puts a
// backup in place of a stopped installation's store.
func restoreCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "the data directory to restore into, stopped; made if missing (required)")
	from := fs.String("from", "", "a file trent backup wrote (required)")
	dbURL := fs.String("database-url", "", "not for restores: see the error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dbURL != "" {
		return errBackupOnDatabase
	}
	if *dataDir == "" || *from == "" {
		return errors.New("--data-dir and --from are required")
	}
	rep, err := app.Restore(context.Background(), *dataDir, *from)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored the store of %s (installation %s, %s, sealed by %s) from %s\n", *dataDir, rep.Installation, rep.Mode, rep.Seal, *from)
	if rep.Replaced != "" {
		fmt.Fprintf(stdout, "the store it replaced is %s: remove it once the restore is judged good (it holds wrapped key material)\n",
			filepath.Join(*dataDir, rep.Replaced))
	}
	if rep.DevKeyMissing {
		fmt.Fprintf(stdout, "warning: %s has no dev-seal.key: copy the one of the data dir the backup was taken from, or the server cannot unseal\n", *dataDir)
	}
	fmt.Fprint(stdout, "keys created after the backup are gone, and what was encrypted under them cannot be decrypted; keys deleted since are back\n")
	if _, err := os.Stat(app.AuditDir(*dataDir)); err == nil {
		fmt.Fprint(stdout, "the audit log goes on as it was: it records what happened after the backup, too\n")
	}
	return nil
}
