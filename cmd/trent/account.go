package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/trent-kms/trent/internal/app"
	"github.com/trent-kms/trent/internal/ids"
	"github.com/trent-kms/trent/internal/seal"
)

// accountOptions are the flags of `trent account create`.
type accountOptions struct {
	dataDir, keyFile, pinFile, id, format string
	databaseURL                           string // PostgreSQL instead of dataDir
	dev                                   bool
}

func parseAccountCreate(args []string) (*accountOptions, error) {
	fs := flag.NewFlagSet("account create", flag.ContinueOnError)
	o := &accountOptions{}
	fs.StringVar(&o.dataDir, "data-dir", "", "data directory of the installation (required without --database-url)")
	fs.StringVar(&o.databaseURL, "database-url", "", "postgres://… URL of the database holding the installation instead of a data dir (nodes may keep serving it); else $"+envDatabaseURL)
	fs.StringVar(&o.keyFile, "seal-key-file", "", "key file that seals the root key (production installations)")
	fs.StringVar(&o.pinFile, "pkcs11-pin-file", "", "file holding the token PIN (pkcs11 installations); else $TRENT_PKCS11_PIN")
	fs.BoolVar(&o.dev, "dev", false, "the data directory is a --dev one")
	fs.StringVar(&o.id, "id", "", "12-digit account id (default: a random one)")
	fs.StringVar(&o.format, "format", "text", "output format: text or json")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if o.databaseURL == "" && o.dataDir == "" {
		o.databaseURL = os.Getenv(envDatabaseURL)
	}
	switch {
	case o.dataDir == "" && o.databaseURL == "":
		return nil, errors.New("--data-dir is required (or --database-url)")
	case o.dataDir != "" && o.databaseURL != "":
		return nil, errors.New("--data-dir and --database-url exclude each other: an installation on PostgreSQL has no data dir to open")
	case o.dev && o.databaseURL != "":
		return nil, errors.New("--dev does not apply with --database-url")
	case o.id != "" && !ids.IsAccountID(o.id):
		return nil, fmt.Errorf("--id must be 12 digits, not %q", o.id)
	case o.format != "text" && o.format != "json":
		return nil, fmt.Errorf("--format must be text or json, not %q", o.format)
	case o.dev && o.keyFile != "":
		return nil, errors.New("--seal-key-file is for production installations; a --dev one keeps its own")
	case o.dev && o.pinFile != "":
		return nil, errors.New("--pkcs11-pin-file is for pkcs11 installations; a --dev one is sealed by its own key file")
	case o.keyFile != "" && o.pinFile != "":
		return nil, errors.New("--seal-key-file and --pkcs11-pin-file exclude each other: an installation is sealed by a key file or by a PKCS#11 token")
	}
	// Whether --seal-key-file is needed depends on the seal type the data
	// dir records: app says so once the store is open.
	return o, nil
}

// accountCmd runs `trent account SUBCOMMAND`.
func accountCmd(args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: trent account create (--data-dir DIR | --database-url URL) (--seal-key-file FILE | --pkcs11-pin-file F | --dev) [--id 12-DIGITS] [--format json]\n  (a shamir installation: threshold-many unseal shares on standard input, one per line)")
	}
	lookupPIN := takePINEnv()
	o, err := parseAccountCreate(args[1:])
	if err != nil {
		return err
	}
	restrictUmask()
	if err := seal.HardenProcess(); err != nil {
		newLogger(slog.LevelInfo).Warn("could not fully protect key material in memory", "err", err)
	}
	ctx := context.Background()
	if o.databaseURL != "" {
		account, id, secret, err := app.CreateAccountOnDatabase(ctx, app.Config{DatabaseURL: o.databaseURL, SealKeyFile: o.keyFile,
			PKCS11PINFile: o.pinFile, LookupEnv: lookupPIN, UnsealShares: readShares(os.Stdin, os.Stderr)}, o.id)
		if err != nil {
			return fmt.Errorf("create account: %w", err)
		}
		return printAccount(stdout, o.format, account, id, secret)
	}
	if _, err := os.Stat(filepath.Join(o.dataDir, "trent.db")); err != nil {
		return fmt.Errorf("%s holds no Trent installation: %w", o.dataDir, err)
	}
	// The store may be open by a running server too: SQLite's WAL lets
	// both write, and the server finds the new key on its first use.
	a, err := app.Open(ctx, app.Config{DataDir: o.dataDir, Dev: o.dev, SealKeyFile: o.keyFile,
		PKCS11PINFile: o.pinFile, LookupEnv: lookupPIN, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		// A shamir installation: threshold-many shares from standard input.
		UnsealShares: readShares(os.Stdin, os.Stderr)})
	if err != nil {
		return err
	}
	defer a.Close()
	account, id, secret, err := a.IAM.CreateAccount(ctx, o.id)
	if err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	return printAccount(stdout, o.format, account, id, secret)
}

func printAccount(stdout io.Writer, format, account, id, secret string) error {
	if format == "json" {
		// The same object as `trent init --format json`, without shares.
		return json.NewEncoder(stdout).Encode(initJSON{AccountID: account, AccessKeyID: id, SecretAccessKey: secret})
	}
	fmt.Fprintf(stdout, "Created account %s.\n", account)
	fmt.Fprintf(stdout, "Root access key of account %s — shown only now, store it safely:\n", account)
	fmt.Fprintf(stdout, "  AWS_ACCESS_KEY_ID=%s\n  AWS_SECRET_ACCESS_KEY=%s\n", id, secret)
	return nil
}
