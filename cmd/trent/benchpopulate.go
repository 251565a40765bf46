package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/trent-kms/trent/internal/app"
)

// benchPopulate is `trent bench populate`, not listed in the help: it fills
// a dev-mode data directory with symmetric keys straight through the store
// (kms.Service.PopulateKeys), many keys to a transaction, so that Trent can
// be measured at a million keys without a million CreateKey calls. The
// keys are as CreateKey without parameters makes them, but no audit event
// records their creation: it is for test data only. The server must not be
// running on the directory.
func benchPopulate(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench populate", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "dev-mode data directory to fill (made if missing; no server may be running on it)")
	n := fs.Int("keys", 0, "how many symmetric keys to add")
	keysFile := fs.String("keys-file", "", "append the new key ids to this file, one a line (for trent bench --keys-file)")
	workers := fs.Int("workers", 512, "concurrent writes (the store commits up to 128 at once)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	case *dataDir == "":
		return errors.New("--data-dir is required")
	case *n < 1 || *n > 100_000_000:
		return fmt.Errorf("--keys must be between 1 and 100000000, not %d", *n)
	case *workers < 1 || *workers > 10000:
		return fmt.Errorf("--workers must be between 1 and 10000, not %d", *workers)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.Open(ctx, app.Config{DataDir: *dataDir, Dev: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	defer a.Close()
	began := time.Now()
	ids, err := a.KMS.PopulateKeys(ctx, a.Account, a.Region, *n, *workers, func(done int) {
		if done%100_000 == 0 {
			fmt.Fprintf(stdout, "stored %d keys, %.0f keys/s\n", done, float64(done)/time.Since(began).Seconds())
		}
	})
	if err != nil {
		return err
	}
	took := time.Since(began)
	fmt.Fprintf(stdout, "stored %d keys in %.1fs: %.0f keys/s (account %s, region %s)\n", *n, took.Seconds(), float64(*n)/took.Seconds(), a.Account, a.Region)
	if *keysFile != "" {
		f, err := os.OpenFile(*keysFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("write the key ids: %w", err)
		}
		_, err = f.WriteString(strings.Join(ids, "\n") + "\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write the key ids: %w", err)
		}
	}
	return nil
}
