package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/trent-kms/trent/internal/app"
	"github.com/trent-kms/trent/internal/seal/pkcs11"
)

// `trent rekey` and `trent seal migrate` seal the root key of a stopped
// installation again (internal/app/reseal.go); `trent rotate-root`
// (rotate.go) replaces the root key itself, online.

// resealJSON is rekey's and seal migrate's `--format json` object.
type resealJSON struct {
	SealType     string   `json:"seal_type"`
	UnsealShares []string `json:"unseal_shares,omitempty"`
}

// readShares returns a function that reads n unseal shares from in, one
// per line; on a terminal it prompts for each on stderr without echo.
func readShares(in *os.File, stderr io.Writer) func(n int) ([]string, error) {
	return func(n int) ([]string, error) {
		var out []string
		tty := term.IsTerminal(int(in.Fd()))
		var r *bufio.Reader
		if !tty {
			r = bufio.NewReaderSize(io.LimitReader(in, int64(n)*(maxShareLine+1)), maxShareLine+1)
		}
		for i := range n {
			var line []byte
			if tty {
				fmt.Fprintf(stderr, "Current unseal share %d of %d (not echoed): ", i+1, n)
				b, err := term.ReadPassword(int(in.Fd()))
				fmt.Fprintln(stderr)
				if err != nil {
					return nil, fmt.Errorf("read share %d: %w", i+1, err)
				}
				line = b
			} else {
				b, err := r.ReadSlice('\n')
				if errors.Is(err, bufio.ErrBufferFull) {
					clear(b)
					return nil, fmt.Errorf("line %d of standard input is too long to be a share", i+1)
				}
				if err != nil && !errors.Is(err, io.EOF) {
					return nil, fmt.Errorf("read share %d from standard input: %w", i+1, err)
				}
				line = bytes.Clone(b)
				clear(b)
			}
			s := strings.TrimSpace(string(line))
			clear(line)
			if s == "" {
				return nil, fmt.Errorf("%d current unseal shares are needed, one per line on standard input; got %d", n, i)
			}
			out = append(out, s)
		}
		return out, nil
	}
}

func printReseal(w io.Writer, format string, r *app.ResealResult, verb string) error {
	if format == "json" {
		return json.NewEncoder(w).Encode(resealJSON{r.To, r.UnsealShares})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: the root key is now sealed by %s (it was %s); no stored key was touched.\n", verb, where(r.DataDir), r.To, r.From)
	if len(r.UnsealShares) > 0 {
		fmt.Fprintf(&b, "New unseal shares — shown only now. Any %d of these %d unseal Trent; the old shares open nothing any more. Give each to a different person and keep none of them here:\n", r.Threshold, len(r.UnsealShares))
		for i, s := range r.UnsealShares {
			fmt.Fprintf(&b, "  Unseal share %d: %s\n", i+1, s)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// rekeyCmd runs `trent rekey --data-dir DIR [--key-shares N]
// [--key-threshold T] [--format json]`, reading threshold-many current
// shares from standard input.
func rekeyCmd(args []string, stdin *os.File, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rekey", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "data directory of a stopped shamir installation (required without --database-url)")
	databaseURL := databaseURLFlag(fs)
	shares := fs.Int("key-shares", 0, "number of new shares (default: as now)")
	threshold := fs.Int("key-threshold", 0, "shares needed to unseal (default: as now)")
	format := fs.String("format", "text", "output format: text or json (one object: seal_type, unseal_shares)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := offlineTarget(dataDir, databaseURL); err != nil {
		return err
	}
	switch {
	case *format != "text" && *format != "json":
		return fmt.Errorf("--format must be text or json, not %q", *format)
	case (*shares == 0) != (*threshold == 0):
		return errors.New("give both --key-shares and --key-threshold, or neither (to keep the current ones)")
	}
	o := app.ResealOptions{DataDir: *dataDir, DatabaseURL: *databaseURL, ReadShares: readShares(stdin, stderr),
		To: app.InitOptions{Seal: app.SealShamir, KeyShares: *shares, KeyThreshold: *threshold}}
	o.Check = func(from string) error {
		if from != app.SealShamir {
			return fmt.Errorf("%s is sealed by %s, not Shamir shares: use `trent seal migrate --to shamir`", where(*dataDir), from)
		}
		return nil
	}
	return app.Reseal(context.Background(), o, func(r *app.ResealResult) error {
		return printReseal(stdout, *format, r, "Rekeyed")
	})
}

// sealMigrateCmd runs `trent seal migrate --data-dir DIR --to TYPE …`.
func sealMigrateCmd(args []string, stdin *os.File, stdout, stderr io.Writer) error {
	lookupPIN := takePINEnv()
	fs := flag.NewFlagSet("seal migrate", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "data directory of a stopped installation (required without --database-url)")
	databaseURL := databaseURLFlag(fs)
	to := fs.String("to", "", "the new seal: keyfile, shamir or pkcs11 (required)")
	keyFile := fs.String("seal-key-file", "", "the current seal key file (an installation sealed by a key file)")
	pinFile := fs.String("pkcs11-pin-file", "", "file holding the token PIN (current pkcs11 seal, and the new one unless --new-pkcs11-pin-file); or $"+pkcs11.PINEnv)
	newKeyFile := fs.String("new-seal-key-file", "", "the key file to create (--to keyfile), outside the data dir")
	shares := fs.Int("key-shares", 0, "number of shares (--to shamir)")
	threshold := fs.Int("key-threshold", 0, "shares needed to unseal (--to shamir)")
	module := fs.String("pkcs11-module", "", "PKCS#11 module (--to pkcs11)")
	tokenLabel := fs.String("pkcs11-token-label", "", "token label (--to pkcs11)")
	keyLabel := fs.String("pkcs11-key-label", "", "label of the token key that seals the root key, created if absent (--to pkcs11)")
	newPINFile := fs.String("new-pkcs11-pin-file", "", "file holding the new token's PIN (--to pkcs11), if not the current one's")
	format := fs.String("format", "text", "output format: text or json (one object: seal_type, unseal_shares)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := offlineTarget(dataDir, databaseURL); err != nil {
		return err
	}
	switch {
	case *to == "":
		return errors.New("--to is required: keyfile, shamir or pkcs11")
	case *format != "text" && *format != "json":
		return fmt.Errorf("--format must be text or json, not %q", *format)
	case *to != app.SealKeyFile && *newKeyFile != "":
		return errors.New("--new-seal-key-file applies to --to keyfile only")
	case *to == app.SealKeyFile && *newKeyFile == "":
		return errors.New("--to keyfile needs --new-seal-key-file: the key file to create, outside the data dir")
	}
	o := app.ResealOptions{DataDir: *dataDir, DatabaseURL: *databaseURL, SealKeyFile: *keyFile, PKCS11PINFile: *pinFile, LookupEnv: lookupPIN,
		ReadShares: readShares(stdin, stderr),
		To: app.InitOptions{Seal: *to, SealKeyFile: *newKeyFile, KeyShares: *shares, KeyThreshold: *threshold,
			PKCS11Module: *module, PKCS11TokenLabel: *tokenLabel, PKCS11KeyLabel: *keyLabel}}
	if *to == app.SealPKCS11 {
		pf := *newPINFile
		if pf == "" {
			pf = *pinFile
		}
		pin, err := pkcs11.ResolvePIN(pf, lookupPIN)
		if err != nil {
			return err
		}
		o.To.PKCS11PIN = pin
	} else if *newPINFile != "" {
		return errors.New("--new-pkcs11-pin-file applies to --to pkcs11 only")
	}
	o.Check = func(from string) error {
		if from == app.SealShamir && *to == app.SealShamir {
			return errors.New("the installation is sealed by Shamir shares already: new shares are made by `trent rekey`")
		}
		return nil
	}
	return app.Reseal(context.Background(), o, func(r *app.ResealResult) error {
		return printReseal(stdout, *format, r, "Migrated")
	})
}

// databaseURLFlag adds --database-url to an offline command's flags.
func databaseURLFlag(fs *flag.FlagSet) *string {
	return fs.String("database-url", "", "postgres://… URL of the database holding the installation instead of a data dir; "+
		"refused while a node serves it unsealed; else $"+envDatabaseURL)
}

// offlineTarget checks that an offline command names one installation:
// a data dir or a database (the flag, else $TRENT_DATABASE_URL).
func offlineTarget(dataDir, databaseURL *string) error {
	if *dataDir == "" && *databaseURL == "" {
		*databaseURL = os.Getenv(envDatabaseURL)
	}
	switch {
	case *dataDir == "" && *databaseURL == "":
		return errors.New("--data-dir is required (or --database-url)")
	case *dataDir != "" && *databaseURL != "":
		return errors.New("--data-dir and --database-url exclude each other: an installation on PostgreSQL has no data dir to open")
	}
	return nil
}

// where names the installation in messages.
func where(dataDir string) string {
	if dataDir == "" {
		return "the database"
	}
	return dataDir
}
