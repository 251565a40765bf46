// Command trent is the Trent key management service: an AWS KMS-compatible
// server. `trent serve --dev` runs it with nothing to set up; `trent init`
// makes a production data directory and `trent serve` serves it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/trent-kms/trent/internal/app"
	"github.com/trent-kms/trent/internal/jobs"
	"github.com/trent-kms/trent/internal/seal"
	"github.com/trent-kms/trent/internal/server"
)

const usage = `trent — a self-hosted key management service that speaks the AWS KMS API

Usage:
  trent serve --dev [--listen ADDR] [--data-dir DIR] [--region R]
  trent init --data-dir DIR [--seal-key-file FILE] [--account ID] [--region R]
  trent serve --data-dir DIR [--seal-key-file FILE] [--listen ADDR]
  trent bench --endpoint URL [--op Encrypt|Decrypt|GenerateDataKey] [--duration D]
              [--connections N] [--max-requests N] [--key-id ID] [--allow-remote]

Run 'trent <command> -h' for a command's flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "init":
		err = initCmd(os.Args[2:], os.Stdout)
	case "bench":
		err = bench(os.Args[2:], os.Stdout)
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "trent: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "trent %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

func initCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "directory for the new installation (required)")
	keyFile := fs.String("seal-key-file", "", "key file that seals the root key (default DATA-DIR/seal.key; keep it apart from backups of the data dir)")
	account := fs.String("account", app.DefaultAccount, "12-digit account id")
	region := fs.String("region", app.DefaultRegion, "region this installation serves")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dataDir == "" {
		return errors.New("--data-dir is required")
	}
	if !validAccount(*account) {
		return fmt.Errorf("--account must be 12 digits, not %q", *account)
	}
	id, secret, err := app.Init(context.Background(), *dataDir, *keyFile, *account, *region)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Initialized Trent in %s (account %s, region %s).\n", *dataDir, *account, *region)
	fmt.Fprintf(stdout, "Root access key of account %s — shown only now, store it safely:\n", *account)
	fmt.Fprintf(stdout, "  AWS_ACCESS_KEY_ID=%s\n  AWS_SECRET_ACCESS_KEY=%s\n", id, secret)
	fmt.Fprintf(stdout, "Serve it with: trent serve --data-dir %s\n", *dataDir)
	return nil
}

func validAccount(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	dev := fs.Bool("dev", false, "development mode: no setup, root key sealed by a file in the data dir")
	listen := fs.String("listen", "127.0.0.1:8080", "address to listen on")
	dataDir := fs.String("data-dir", "", "data directory (dev mode: a temporary directory removed at exit if empty)")
	region := fs.String("region", "", "region to serve (dev mode; default us-east-1)")
	keyFile := fs.String("seal-key-file", "", "key file that seals the root key (default DATA-DIR/seal.key)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	jobInterval := fs.Duration("job-interval", time.Minute, "how often due deletions and rotations run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := newLogger(*logLevel)
	if err != nil {
		return err
	}
	if err := seal.HardenProcess(); err != nil {
		log.Warn("could not fully protect key material in memory", "err", err)
	}
	if *region != "" && !*dev {
		return errors.New("--region is set at `trent init`; it applies to serve only with --dev")
	}
	dir := *dataDir
	if dir == "" {
		if !*dev {
			return errors.New("--data-dir is required without --dev")
		}
		tmp, err := os.MkdirTemp("", "trent-dev-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.Open(ctx, app.Config{DataDir: dir, Dev: *dev, Region: *region, SealKeyFile: *keyFile, Logger: log})
	if err != nil {
		return err
	}
	defer a.Close()

	var keyID, secret string
	if *dev {
		keyID, secret, err = devCredentials(ctx, a)
		if err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	srv := server.HTTPServer(a.Handler, log)
	jobCtx, stopJobs := context.WithCancel(context.Background())
	runner := &jobs.Runner{Interval: *jobInterval, Work: a.KMS.RunDue, Log: log}
	jobsDone := runner.Start(jobCtx)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	mode := "production"
	if *dev {
		mode = "dev"
	}
	fmt.Fprintf(os.Stderr, "trent: serving the AWS KMS API on %s (%s mode, account %s, region %s, data in %s)\n", url, mode, a.Account, a.Region, dir)
	if *dev {
		if secret != "" {
			fmt.Fprintf(os.Stderr, "trent: point the AWS CLI at it with:\n  export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_REGION=%s AWS_DEFAULT_REGION=%s\n  aws --endpoint-url %s kms list-keys\n", keyID, secret, a.Region, a.Region, url)
		} else {
			fmt.Fprintf(os.Stderr, "trent: using AWS_ACCESS_KEY_ID=%s from the environment; try: aws --endpoint-url %s --region %s kms list-keys\n", keyID, url, a.Region)
		}
	}

	select {
	case err := <-serveErr:
		stopJobs()
		<-jobsDone
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	stopJobs()
	<-jobsDone
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// devCredentials makes the account root's access key of a dev server: the
// pair in the environment if there is one, otherwise a new one whose
// secret is returned for printing.
func devCredentials(ctx context.Context, a *app.App) (id, secret string, err error) {
	envID, envSecret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if envID != "" && envSecret != "" {
		if err := a.Directory.ImportAccessKey(ctx, a.Account, envID, envSecret); err != nil {
			return "", "", fmt.Errorf("dev credentials from the environment: %w", err)
		}
		return envID, "", nil
	}
	return a.Directory.CreateAccessKey(ctx, a.Account)
}
