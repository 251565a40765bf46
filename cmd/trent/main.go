// Command trent is the Trent key management service: an AWS KMS-compatible
// server. `trent serve --dev` runs it with nothing to set up; `trent init`
// makes a production data directory and `trent serve` serves it.
package main

import (
	"context"
	"crypto/fips140"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/trent-kms/trent/internal/app"
	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/config"
	"github.com/trent-kms/trent/internal/iam"
	"github.com/trent-kms/trent/internal/ids"
	"github.com/trent-kms/trent/internal/kms"
	"github.com/trent-kms/trent/internal/seal"
	"github.com/trent-kms/trent/internal/seal/pkcs11"
	"github.com/trent-kms/trent/internal/seal/shamir"
	"github.com/trent-kms/trent/internal/server"
	"github.com/trent-kms/trent/internal/store/postgres"
	"github.com/trent-kms/trent/internal/throttle"
)

const usage = `trent — a self-hosted key management service that speaks the AWS KMS API

Usage:
  trent serve --dev [--listen ADDR] [--data-dir DIR] [--region R] [--fips]
      root access key: $TRENT_ROOT_ACCESS_KEY_ID and $TRENT_ROOT_SECRET_ACCESS_KEY
      (secret of 16+ characters) if both are set, else a new pair, printed
  trent init --data-dir DIR [--seal keyfile] --seal-key-file FILE [--account ID] [--region R] [--format json]
  trent init --data-dir DIR --seal shamir [--key-shares 5] [--key-threshold 3] [--account ID] [--region R] [--format json]
  trent init --data-dir DIR --seal pkcs11 --pkcs11-module PATH --pkcs11-token-label L
             --pkcs11-key-label K [--pkcs11-pin-file F] [--account ID] [--region R] [--format json]
      the token PIN: --pkcs11-pin-file or $TRENT_PKCS11_PIN
  trent serve --data-dir DIR [--seal-key-file FILE | --pkcs11-pin-file F] [--listen ADDR] [--fips]
  trent init --database-url postgres://… [seal flags as above] [--account ID] [--region R] [--format json]
  trent serve --database-url postgres://… --data-dir NODE-DIR [seal flags] [--listen ADDR]
      PostgreSQL holds the installation (also $TRENT_DATABASE_URL); NODE-DIR this node's audit log
      [--database-timeout 5s]: the longest one database call may take (docs/postgres.md)
      a shamir installation starts sealed; unseal it with trent unseal
      --fips: run in Go's FIPS 140-3 mode (GODEBUG=fips140=on); key specs outside the module are refused
  serve also takes [--key-cache-max-keys N] [--key-cache-max-bytes SIZE] [--key-cache-idle D]
      [--require-mlock]: how many keys stay unwrapped in memory, and for how long
      [--gc-min-heap 64MiB]: the heap size below which the garbage collector does not run
  serve also takes [--throttle[=false]] [--throttle-rates CLASS=RATE[:BURST],…]: AWS KMS's request
      quotas per account and region, on by default without --dev (docs/throttling.md)
  serve also takes [--audit-archive-to DIR [--audit-archive-older-than 2160h]] [--audit-prune-older-than D]
      [--audit-housekeeping-interval 1h]: what trent audit archive and prune do, on a schedule (docs/operations.md)
  serve also takes [--backup-to DIR [--backup-interval 24h] [--backup-keep 7]]: what trent backup does, on a schedule
  serve also takes [--config FILE] [--print-config] [--log-format text|json] [--metrics-listen ADDR]
      [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]] or, with --dev, [--tls]
      every serve flag is also $TRENT_<FLAG> and a key of the --config file (docs/operations.md)
  trent unseal --endpoint URL [--reset]      reads one unseal share from standard input
  trent status --endpoint URL [--format json]
  trent seal --endpoint URL                   signed with $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY
      (the root user of the installation's first account)
      unseal, status, seal and rotate-root take [--ca-bundle FILE] [--client-cert FILE --client-key FILE] for an https endpoint
  trent rekey (--data-dir DIR | --database-url URL) [--key-shares N --key-threshold T] [--format json]
      stopped shamir installation: new shares; reads threshold-many current shares from standard input
  trent seal migrate (--data-dir DIR | --database-url URL) --to keyfile|shamir|pkcs11 [current seal: --seal-key-file F |
             --pkcs11-pin-file F | shares on standard input] [new seal: --new-seal-key-file F |
             --key-shares N --key-threshold T | --pkcs11-module … [--new-pkcs11-pin-file F]] [--format json]
  trent rotate-root --endpoint URL [--format json]   signed as trent seal is; a new root key,
      every stored secret rewrapped while Trent serves (shamir: shares on standard input)
  trent account create (--data-dir DIR | --database-url URL) (--seal-key-file FILE | --pkcs11-pin-file F | --dev) [--id 12-DIGITS] [--format json]
      rekey, seal migrate on a database: refused while any node serves it unsealed
  trent bench --endpoint URL [--op Encrypt|Decrypt|GenerateDataKey|CreateKey] [--duration D] [--keys N [--spread cycle|hot] [--hot K] [--keys-file F]]
              [--connections N] [--max-requests N] [--key-id ID] [--wrk-script FILE] [--allow-remote]
  trent backup --data-dir DIR --to FILE      a consistent copy of a SQLite installation's store, serving or not
  trent restore --data-dir DIR --from FILE   put a backup in place of a stopped installation's store
  trent audit verify --data-dir DIR [--archive ARCHIVE-DIR ...] [--public-key FILE]
  trent audit archive --data-dir DIR --to ARCHIVE-DIR [--older-than 2160h] [--database-url URL]
  trent audit prune --database-url URL [--older-than 2160h]
  trent audit public-key --data-dir DIR
  trent k8s-kms-plugin --socket PATH --key-id KEY [--endpoint URL]
      a Kubernetes KMS v2 plugin for kube-apiserver; AWS credentials and region from the
      standard chain ($AWS_ACCESS_KEY_ID, $AWS_REGION, …; docs/kubernetes.md)

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
		err = initCmd(os.Args[2:], os.Stdout, os.Stderr)
	case "unseal":
		err = unsealCmd(os.Args[2:], os.Stdin, os.Stdout, os.Stderr)
	case "seal":
		if len(os.Args) > 2 && os.Args[2] == "migrate" {
			err = sealMigrateCmd(os.Args[3:], os.Stdin, os.Stdout, os.Stderr)
			break
		}
		err = sealCmd(os.Args[2:], os.Stdout, os.Getenv)
	case "status":
		err = statusCmd(os.Args[2:], os.Stdout)
	case "rekey":
		err = rekeyCmd(os.Args[2:], os.Stdin, os.Stdout, os.Stderr)
	case "rotate-root":
		err = rotateRootCmd(os.Args[2:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	case "account":
		err = accountCmd(os.Args[2:], os.Stdout)
	case "bench":
		err = bench(os.Args[2:], os.Stdout)
	case "audit":
		err = auditCmd(os.Args[2:], os.Stdout)
	case "backup":
		err = backupCmd(os.Args[2:], os.Stdout)
	case "restore":
		err = restoreCmd(os.Args[2:], os.Stdout)
	case "k8s-kms-plugin":
		err = k8sPluginCmd(os.Args[2:])
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "trent: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if errors.Is(err, flag.ErrHelp) {
		return // the flag package has printed the command's flags
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "trent %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func newLogger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// initOptions are init's flags, all checked before anything is created.
type initOptions struct {
	dataDir, keyFile, account, region, seal, format string
	databaseURL                                     string // PostgreSQL instead of dataDir
	shares, threshold                               int
	// The pkcs11 seal's token key and the file holding its PIN.
	module, tokenLabel, keyLabel, pinFile string
}

func parseInit(args []string) (*initOptions, error) {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	o := &initOptions{}
	fs.StringVar(&o.dataDir, "data-dir", "", "directory for the new installation (required)")
	fs.StringVar(&o.seal, "seal", app.SealKeyFile, "how the root key is sealed: keyfile (a key file outside the data dir), shamir (shares held by people) or pkcs11 (a key in an HSM)")
	fs.StringVar(&o.keyFile, "seal-key-file", "", "--seal keyfile: key file to create that seals the root key (required; outside the data dir, e.g. /etc/trent/seal.key)")
	fs.IntVar(&o.shares, "key-shares", 5, "--seal shamir: number of unseal shares to make (1 to 255)")
	fs.IntVar(&o.threshold, "key-threshold", 3, "--seal shamir: number of shares that unseal (2 or more, at most --key-shares; 1 only with 1 share)")
	fs.StringVar(&o.module, "pkcs11-module", "", "--seal pkcs11: the token's PKCS#11 library (required), e.g. /usr/lib/softhsm/libsofthsm2.so")
	fs.StringVar(&o.tokenLabel, "pkcs11-token-label", "", "--seal pkcs11: label of the token (required)")
	fs.StringVar(&o.keyLabel, "pkcs11-key-label", "", "--seal pkcs11: label of the AES-256 key in the token that seals the root key (required; created if absent)")
	fs.StringVar(&o.pinFile, "pkcs11-pin-file", "", "--seal pkcs11: file (mode 0600, one line) holding the token's user PIN; else $"+pkcs11.PINEnv)
	fs.StringVar(&o.account, "account", app.DefaultAccount, "12-digit account id")
	fs.StringVar(&o.region, "region", app.DefaultRegion, "region this installation serves")
	fs.StringVar(&o.format, "format", "text", "output format: text or json (one object: account_id, access_key_id, secret_access_key, and unseal_shares for shamir)")
	fs.StringVar(&o.databaseURL, "database-url", "", "postgres://… URL of a PostgreSQL database to hold the installation instead of a data dir; else $"+envDatabaseURL)
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.databaseURL == "" {
		o.databaseURL = os.Getenv(envDatabaseURL)
	}
	if o.dataDir == "" && o.databaseURL == "" {
		return nil, errors.New("--data-dir is required (or --database-url)")
	}
	if o.seal != app.SealPKCS11 {
		for _, f := range pkcs11InitFlags {
			if set[f] {
				return nil, fmt.Errorf("--%s applies to --seal pkcs11 only, not --seal %s", f, o.seal)
			}
		}
	}
	switch o.seal {
	case app.SealKeyFile:
		if set["key-shares"] || set["key-threshold"] {
			return nil, errors.New("--key-shares and --key-threshold apply to --seal shamir only")
		}
		if o.keyFile == "" {
			return nil, errSealKeyFileRequired
		}
		o.shares, o.threshold = 0, 0
	case app.SealShamir:
		if o.keyFile != "" {
			return nil, errors.New("--seal-key-file applies to --seal keyfile only: a shamir installation's unseal key exists only as shares")
		}
		if err := shamir.Check(o.shares, o.threshold); err != nil {
			return nil, fmt.Errorf("--key-shares %d --key-threshold %d: %w", o.shares, o.threshold, err)
		}
	case app.SealPKCS11:
		if set["key-shares"] || set["key-threshold"] {
			return nil, errors.New("--key-shares and --key-threshold apply to --seal shamir only")
		}
		if o.keyFile != "" {
			return nil, errors.New("--seal-key-file applies to --seal keyfile only: a pkcs11 installation's root key is sealed by a key in the token")
		}
		var missing []string
		for _, f := range []struct{ name, value string }{
			{"pkcs11-module", o.module}, {"pkcs11-token-label", o.tokenLabel}, {"pkcs11-key-label", o.keyLabel},
		} {
			if f.value == "" {
				missing = append(missing, "--"+f.name)
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("--seal pkcs11 needs --pkcs11-module, --pkcs11-token-label and --pkcs11-key-label; missing %s", strings.Join(missing, ", "))
		}
		// The labels' rules (length, no edge spaces), before anything
		// loads the module.
		if _, err := pkcs11.NewSettings(o.module, o.tokenLabel, o.keyLabel); err != nil {
			return nil, err
		}
		o.shares, o.threshold = 0, 0
	default:
		return nil, fmt.Errorf("--seal must be keyfile, shamir or pkcs11, not %q", o.seal)
	}
	if !ids.IsAccountID(o.account) {
		return nil, fmt.Errorf("--account must be 12 digits, not %q", o.account)
	}
	if err := checkRegion(o.region); err != nil {
		return nil, err
	}
	if o.format != "text" && o.format != "json" {
		return nil, fmt.Errorf("--format must be text or json, not %q", o.format)
	}
	return o, nil
}

// pkcs11InitFlags are init's flags for --seal pkcs11 only.
var pkcs11InitFlags = []string{"pkcs11-module", "pkcs11-token-label", "pkcs11-key-label", "pkcs11-pin-file"}

// takePINEnv reads TRENT_PKCS11_PIN and removes it from the process's
// environment (Go's and, with cgo, C's), so that nothing this process
// starts or loads later finds the PIN there. It returns a lookup for
// pkcs11.ResolvePIN that answers with what it read.
func takePINEnv() func(string) (string, bool) {
	pin, ok := os.LookupEnv(pkcs11.PINEnv)
	os.Unsetenv(pkcs11.PINEnv)
	return func(name string) (string, bool) {
		if name == pkcs11.PINEnv {
			return pin, ok
		}
		return "", false
	}
}

// errSealKeyFileRequired explains the rule to whoever meets it first.
var errSealKeyFileRequired = errors.New("--seal-key-file is required: the seal key file must live outside the data dir " +
	"(e.g. --seal-key-file /etc/trent/seal.key), so that a copy or backup of the data dir cannot unseal it")

// initJSON is `trent init --format json`'s one object. The names are an
// interface: scripts rely on them.
type initJSON struct {
	AccountID       string   `json:"account_id"`
	AccessKeyID     string   `json:"access_key_id"`
	SecretAccessKey string   `json:"secret_access_key"`
	UnsealShares    []string `json:"unseal_shares,omitempty"`
}

func initCmd(args []string, stdout, stderr io.Writer) error {
	lookupPIN := takePINEnv()
	o, err := parseInit(args)
	if err != nil {
		return err
	}
	// The PIN before anything is created: a missing or unreadable one
	// leaves no data dir behind.
	var pin string
	if o.seal == app.SealPKCS11 {
		if pin, err = pkcs11.ResolvePIN(o.pinFile, lookupPIN); err != nil {
			return err
		}
	}
	restrictUmask()
	// init holds the new root key, the unseal key and the root access
	// key's secret in memory: keep them out of swap and core dumps, as
	// serve does.
	if err := seal.HardenProcess(); err != nil {
		slog.New(slog.NewTextHandler(stderr, nil)).Warn("could not fully protect key material in memory", "err", err)
	}
	// What init prints is written before it commits: if it cannot be
	// written, no installation is left that nobody has the keys to.
	publish := func(r *app.InitResult) error {
		if o.format == "json" {
			return json.NewEncoder(stdout).Encode(initJSON{r.Account, r.AccessKeyID, r.SecretAccessKey, r.UnsealShares})
		}
		return printInit(stdout, r, o)
	}
	err = app.Init(context.Background(), app.InitOptions{
		DataDir: o.dataDir, DatabaseURL: o.databaseURL, Account: o.account, Region: o.region,
		Seal: o.seal, SealKeyFile: o.keyFile, KeyShares: o.shares, KeyThreshold: o.threshold,
		PKCS11Module: o.module, PKCS11TokenLabel: o.tokenLabel, PKCS11KeyLabel: o.keyLabel, PKCS11PIN: pin,
	}, publish)
	if err != nil {
		return err
	}
	if o.dataDir == "" {
		return nil
	}
	if err := app.CheckDataDir(o.dataDir); err != nil {
		// init leaves a directory it did not make as it found it (it
		// might be shared), but serve will refuse it.
		fmt.Fprintf(stderr, "Warning: `trent serve` will refuse this data dir: %v\n", err)
	}
	return nil
}

func printInit(w io.Writer, r *app.InitResult, o *initOptions) error {
	var b strings.Builder
	if o.databaseURL != "" {
		fmt.Fprintf(&b, "Initialized Trent in the PostgreSQL database (account %s, region %s, seal %s).\n", r.Account, r.Region, r.SealType)
		fmt.Fprintf(&b, "Serve it from each node with: trent serve --database-url URL --data-dir NODE-DIR (or $%s) and the seal's flags below.\n", envDatabaseURL)
	} else {
		fmt.Fprintf(&b, "Initialized Trent in %s (account %s, region %s, seal %s).\n", r.DataDir, r.Account, r.Region, r.SealType)
	}
	if len(r.UnsealShares) > 0 {
		fmt.Fprintf(&b, "Unseal shares — shown only now. Any %d of these %d unseal Trent; give each to a different person and keep none of them here:\n", r.Threshold, len(r.UnsealShares))
		for i, s := range r.UnsealShares {
			fmt.Fprintf(&b, "  Unseal share %d: %s\n", i+1, s)
		}
	}
	fmt.Fprintf(&b, "Root access key of account %s — shown only now, store it safely:\n", r.Account)
	fmt.Fprintf(&b, "  AWS_ACCESS_KEY_ID=%s\n  AWS_SECRET_ACCESS_KEY=%s\n", r.AccessKeyID, r.SecretAccessKey)
	switch r.SealType {
	case app.SealShamir:
		fmt.Fprintf(&b, "Serve it with: trent serve --data-dir %s\n", r.DataDir)
		fmt.Fprintf(&b, "It starts sealed: unseal it with `trent unseal --endpoint URL`, run %d times with a different share each.\n", r.Threshold)
	case app.SealPKCS11:
		if o.pinFile != "" {
			fmt.Fprintf(&b, "Serve it with: trent serve --data-dir %s --pkcs11-pin-file %s\n", r.DataDir, o.pinFile)
		} else {
			fmt.Fprintf(&b, "Serve it with: %s=… trent serve --data-dir %s (or --pkcs11-pin-file FILE)\n", pkcs11.PINEnv, r.DataDir)
		}
		fmt.Fprintf(&b, "It unseals itself at start with key %q of token %q.\n", o.keyLabel, o.tokenLabel)
	default:
		fmt.Fprintf(&b, "Serve it with: trent serve --data-dir %s --seal-key-file %s\n", r.DataDir, o.keyFile)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// regionPattern is the shape of every AWS region name: a two-letter area,
// one or more words, a number (us-east-1, us-gov-west-1, eu-isoe-west-1).
// The region is part of every key ARN and of the SigV4 credential scope,
// so a malformed one would make an installation no client can sign for.
var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)

func checkRegion(r string) error {
	if !regionPattern.MatchString(r) {
		return fmt.Errorf("--region %q is not a region name like us-east-1", r)
	}
	return nil
}

// checkListen checks an address as net.Listen("tcp", …) will use it, so a
// typo is reported before anything starts rather than after the store is
// open. Ports must be numbers: a service name would depend on
// /etc/services.
func checkListen(addr string) error { return checkAddr("--listen", addr) }

// checkAddr is checkListen for the flag named.
func checkAddr(flagName, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %q: want HOST:PORT, e.g. 127.0.0.1:8080: %w", flagName, addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%s %q: the port must be a number from 0 to 65535", flagName, addr)
	}
	if host == "" {
		return nil // all interfaces
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if !validHostname(host) {
		return fmt.Errorf("%s %q: %q is neither an IP address nor a host name", flagName, addr, host)
	}
	return nil
}

func validHostname(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// parseFlags parses a command's args, which must all be flags.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	return noArgs(fs)
}

func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (flags come before them, or they are not flags)", fs.Args())
	}
	return nil
}

// serveOptions are serve's flags, all checked before anything starts: a
// bad value found later would leave a listener, a store or a dev temp dir
// to clean up, and a panic cleans up nothing.
type serveOptions struct {
	dev, fips                        bool
	listen, dataDir, region, keyFile string
	databaseURL                      string // PostgreSQL; dataDir then holds the node's own files
	databaseTimeout                  time.Duration
	pinFile                          string
	logLevel                         slog.Level
	jobInterval                      time.Duration
	auditOrphanAge                   time.Duration
	// auditHousekeeping archives and prunes the audit log on a schedule.
	auditHousekeeping app.AuditHousekeeping
	// backup backs the SQLite store up on a schedule.
	backup app.BackupSchedule
	// keyCache bounds the keys kept unwrapped in memory.
	keyCache kms.CacheConfig
	// requireMlock makes a failure to lock memory fatal.
	requireMlock bool
	// gcMinHeap is the floor under the garbage collector's heap goal
	// (internal/gctune); 0 leaves Go's default.
	gcMinHeap int64
	// throttle limits request rates; nil when off.
	throttle *throttle.Config
	// The dev server's root access key from the environment, if given.
	rootID, rootSecret string
	// TLS, metrics, log format and the config file (serveops.go).
	ops opsOptions
}

// parseServe reads serve's options from the command line, the
// environment and the config file (internal/config), and checks them.
// An error about a flag's value says where the value came from.
func parseServe(args []string, getenv func(string) string) (*serveOptions, error) {
	o, res, err := parseServeSources(args, getenv)
	if err != nil && res != nil {
		err = res.Explain(err)
	}
	return o, err
}

func parseServeSources(args []string, getenv func(string) string) (*serveOptions, *config.Result, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	o := &serveOptions{}
	fs.BoolVar(&o.dev, "dev", false, "development mode: no setup, root key sealed by a file in the data dir")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&o.dataDir, "data-dir", "", "data directory (dev mode: a temporary directory removed at exit if empty)")
	fs.StringVar(&o.region, "region", "", "region to serve (dev mode; default us-east-1)")
	fs.StringVar(&o.keyFile, "seal-key-file", "", "key file that seals the root key (required for a keyfile-sealed installation; outside the data dir)")
	fs.StringVar(&o.pinFile, "pkcs11-pin-file", "", "file (mode 0600, one line) holding the token PIN of a pkcs11-sealed installation; else $"+pkcs11.PINEnv)
	fs.BoolVar(&o.fips, "fips", false, "run with Go's FIPS 140-3 module enforced (restarts trent with GODEBUG="+fipsSetting+"); key specs the module does not provide are refused")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&o.jobInterval, "job-interval", time.Minute, "how often due deletions and rotations run")
	fs.DurationVar(&o.auditOrphanAge, "audit-orphan-age", audit.DefaultOrphanAge, "PostgreSQL: how old a stopped node's audit intents must be before the node running the jobs writes their events")
	fs.StringVar(&o.auditHousekeeping.ArchiveTo, "audit-archive-to", "", "move the older part of this node's audit log to this directory every --audit-housekeeping-interval, as trent audit archive does (default: off)")
	fs.DurationVar(&o.auditHousekeeping.ArchiveOlderThan, "audit-archive-older-than", 90*24*time.Hour, "with --audit-archive-to: move what digests at least this old cover (90 days: what AWS's LookupEvents shows)")
	fs.DurationVar(&o.auditHousekeeping.PruneOlderThan, "audit-prune-older-than", 0, "PostgreSQL: delete LookupEvents' rows of events older than this every --audit-housekeeping-interval, as trent audit prune does; 0: never")
	fs.DurationVar(&o.auditHousekeeping.Every, "audit-housekeeping-interval", app.DefaultAuditHousekeeping, "how often --audit-archive-to and --audit-prune-older-than run")
	fs.StringVar(&o.backup.To, "backup-to", "", "SQLite: write a backup of the store into this directory every --backup-interval, as trent backup does, keeping the newest --backup-keep (default: off)")
	fs.DurationVar(&o.backup.Every, "backup-interval", app.DefaultBackupEvery, "with --backup-to: how often to back the store up")
	fs.IntVar(&o.backup.Keep, "backup-keep", app.DefaultBackupKeep, "with --backup-to: how many of its backups to keep")
	def := kms.DefaultCacheConfig
	fs.IntVar(&o.keyCache.MaxKeys, "key-cache-max-keys", def.MaxKeys, "most keys kept unwrapped in memory at once")
	maxBytes := fs.String("key-cache-max-bytes", strconv.FormatInt(def.MaxBytes>>20, 10)+"MiB", "most bytes of unwrapped key material kept in memory at once (a number, optionally with KiB, MiB or GiB)")
	fs.DurationVar(&o.keyCache.Idle, "key-cache-idle", def.Idle, "how long a key stays unwrapped in memory after its last use; 0 unwraps it per request")
	gcMinHeap := fs.String("gc-min-heap", strconv.FormatInt(defaultGCMinHeap>>20, 10)+"MiB", "let the heap grow to this size before the garbage collector runs (it still runs once the heap doubles past it); 0 for Go's default; ignored when GOGC is set")
	fs.BoolVar(&o.requireMlock, "require-mlock", false, "refuse to start if memory cannot be locked (mlockall), instead of warning")
	fs.StringVar(&o.databaseURL, "database-url", "", "postgres://… URL of the PostgreSQL database holding the installation (made by trent init --database-url); --data-dir then holds this node's own files; else $"+envDatabaseURL)
	fs.DurationVar(&o.databaseTimeout, "database-timeout", postgres.DefaultCallTimeout, "with --database-url: the longest one call to the database may take; a request whose call does not finish in time is answered DependencyTimeoutException (500)")
	throttleFlags := addThrottleFlags(fs)
	o.ops.register(fs)
	res, err := config.Parse(fs, args, serveConfigOptions(getenv))
	if err != nil {
		return nil, nil, err
	}
	o.ops.config = res
	if o.databaseURL != "" && o.dev {
		return nil, res, errors.New("--database-url does not apply with --dev: make the installation with trent init --database-url")
	}
	if err := noArgs(fs); err != nil {
		return nil, res, err
	}
	if err := o.ops.check(o.dev); err != nil {
		return nil, res, err
	}
	if o.throttle, err = throttleFlags.config(fs, o.dev); err != nil {
		return nil, res, err
	}
	if o.keyCache.MaxBytes, err = parseBytes(*maxBytes); err != nil {
		return nil, res, fmt.Errorf("--key-cache-max-bytes: %w", err)
	}
	if o.gcMinHeap, err = parseBytes(*gcMinHeap); err != nil || o.gcMinHeap < 0 {
		return nil, res, fmt.Errorf("--gc-min-heap: %q is not a size like 64MiB or 0", *gcMinHeap)
	}
	if o.keyCache.MaxKeys < 1 {
		return nil, res, fmt.Errorf("--key-cache-max-keys must be at least 1, not %d", o.keyCache.MaxKeys)
	}
	if o.keyCache.MaxBytes < 1 {
		return nil, res, fmt.Errorf("--key-cache-max-bytes must be at least 1, not %d", o.keyCache.MaxBytes)
	}
	if o.keyCache.Idle < 0 {
		return nil, res, fmt.Errorf("--key-cache-idle must not be negative (0 unwraps per request), not %v", o.keyCache.Idle)
	}
	if o.requireMlock && runtime.GOOS != "linux" {
		return nil, res, fmt.Errorf("--require-mlock: memory locking is implemented on Linux only, not %s", runtime.GOOS)
	}
	if err := o.logLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		return nil, res, fmt.Errorf("--log-level: %w", err)
	}
	if err := checkListen(o.listen); err != nil {
		return nil, res, err
	}
	if o.jobInterval <= 0 {
		return nil, res, fmt.Errorf("--job-interval must be positive, not %v", o.jobInterval)
	}
	if o.auditOrphanAge <= 0 {
		return nil, res, fmt.Errorf("--audit-orphan-age must be positive, not %v", o.auditOrphanAge)
	}
	if h := o.auditHousekeeping; h.ArchiveOlderThan < 0 || h.PruneOlderThan < 0 || h.Every <= 0 {
		return nil, res, fmt.Errorf("--audit-archive-older-than and --audit-prune-older-than must not be negative, --audit-housekeeping-interval must be positive (%v, %v, %v)", h.ArchiveOlderThan, h.PruneOlderThan, h.Every)
	}
	if o.auditHousekeeping.PruneOlderThan > 0 && o.databaseURL == "" {
		return nil, res, errors.New("--audit-prune-older-than applies with --database-url only: on SQLite LookupEvents reads the files, which --audit-archive-to moves")
	}
	if o.backup.Every <= 0 || o.backup.Keep < 1 {
		return nil, res, fmt.Errorf("--backup-interval must be positive and --backup-keep at least 1 (%v, %d)", o.backup.Every, o.backup.Keep)
	}
	if o.backup.To != "" && o.databaseURL != "" {
		return nil, res, errors.New("--backup-to backs up a SQLite store: on PostgreSQL use PostgreSQL's own backups (docs/postgres.md)")
	}
	if o.databaseTimeout <= 0 {
		return nil, res, fmt.Errorf("--database-timeout must be positive, not %v", o.databaseTimeout)
	}
	if o.dev {
		if o.region != "" {
			if err := checkRegion(o.region); err != nil {
				return nil, res, err
			}
		}
		if o.keyFile != "" {
			return nil, res, errors.New("--seal-key-file does not apply with --dev: a dev server keeps its key file in its data dir")
		}
		if o.pinFile != "" {
			return nil, res, errors.New("--pkcs11-pin-file does not apply with --dev: a dev server is sealed by a key file in its data dir")
		}
		if o.rootID, o.rootSecret, err = devRootFromEnv(getenv); err != nil {
			return nil, res, err
		}
	} else {
		if o.region != "" {
			return nil, res, errors.New("--region is set at `trent init`; it applies to serve only with --dev")
		}
		if o.dataDir == "" {
			return nil, res, errors.New("--data-dir is required without --dev")
		}
		if o.keyFile != "" && o.pinFile != "" {
			return nil, res, errors.New("--seal-key-file and --pkcs11-pin-file exclude each other: an installation is sealed by a key file or by a PKCS#11 token")
		}
		// Whether --seal-key-file or a PIN is needed depends on the seal
		// type the data dir records: app checks it once the store is open.
	}
	return o, res, nil
}

// parseBytes reads a size: a whole number of bytes, or of KiB, MiB or GiB
// with that suffix ("64MiB").
func parseBytes(v string) (int64, error) {
	num, unit := v, int64(1)
	for _, u := range []struct {
		suffix string
		n      int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if rest, ok := strings.CutSuffix(v, u.suffix); ok {
			num, unit = rest, u.n
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > math.MaxInt64/unit {
		return 0, fmt.Errorf("%q is not a size like 67108864 or 64MiB", v)
	}
	return n * unit, nil
}

func serve(args []string) error {
	o, err := parseServe(args, os.Getenv)
	if err != nil {
		return err
	}
	if o.ops.printConfig {
		return printServeConfig(os.Stdout, o, os.Getenv)
	}
	if o.fips {
		// First: the restarted process must find the environment as this
		// one got it (the PIN included) and redo everything below.
		if err := enterFIPS(); err != nil {
			return err
		}
	}
	lookupPIN := takePINEnv()
	log := o.ops.logger(o.logLevel)
	widenProcs(os.Getenv, log)
	floorHeap(os.Getenv, o.gcMinHeap, log)
	// FIPS mode is on with --fips or when the operator set GODEBUG
	// fips140 directly; either way Trent refuses what the module lacks.
	log.Info("FIPS 140-3 mode", "enabled", fips140.Enabled(), "enforced", fips140.Enforced(), "module", fips140.Version())
	if !o.dev && (os.Getenv(envRootAccessKeyID) != "" || os.Getenv(envRootSecret) != "") {
		log.Warn("ignoring " + envRootAccessKeyID + " and " + envRootSecret + ": they set the root access key of a --dev server only")
	}
	restrictUmask()
	if err := seal.HardenProcess(); err != nil {
		if o.requireMlock && errors.Is(err, seal.ErrMemoryNotLocked) {
			return fmt.Errorf("--require-mlock: %w", err)
		}
		log.Warn("could not fully protect key material in memory", "err", err)
	}
	// Listen before making anything: a taken port then costs nothing to
	// undo.
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	ops, err := o.ops.listen(log)
	if err != nil {
		return err
	}
	defer ops.close()
	dir := o.dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "trent-dev-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	node, err := app.Start(ctx, app.Config{DataDir: dir, DatabaseURL: o.databaseURL, DatabaseTimeout: o.databaseTimeout, Dev: o.dev, Region: o.region, SealKeyFile: o.keyFile,
		PKCS11PINFile: o.pinFile, LookupEnv: lookupPIN, Logger: log, JobInterval: o.jobInterval,
		AuditOrphanAge: o.auditOrphanAge, AuditHousekeeping: o.auditHousekeeping, Backup: o.backup, KeyCache: &o.keyCache, Throttle: o.throttle, Metrics: ops.metrics})
	if err != nil {
		return err
	}
	defer node.Close()

	// A dev server's root key: the one from the environment, or a new
	// one whose secret is printed below. Dev mode unseals at start.
	keyID, secret := o.rootID, ""
	if o.dev {
		a := node.App()
		if keyID != "" {
			err = a.Directory.ImportAccessKey(ctx, a.Account, keyID, o.rootSecret)
		} else {
			keyID, secret, err = a.Directory.CreateAccessKey(ctx, a.Account)
		}
		if err != nil {
			return fmt.Errorf("dev root access key: %w", err)
		}
	}

	front := node.Handler()
	srv := server.HTTPServer(front, log)
	url, err := ops.secure(srv, ln, dir, log)
	if err != nil {
		return err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- ops.serve(srv, ln) }()
	ops.serveMetrics(serveErr, front)

	where := dir
	if o.databaseURL != "" {
		where = "PostgreSQL, this node's files in " + dir
	}
	fmt.Fprintf(os.Stderr, "trent: serving the AWS KMS API on %s (%s mode, account %s, region %s, seal %s, data in %s)\n", url, node.Mode, node.Account, node.Region, node.SealType, where)
	ops.announce(os.Stderr)
	if st := node.Status(); st.Sealed {
		fmt.Fprintf(os.Stderr, "trent: sealed: every request is refused until %d of the unseal shares are given, one at a time, with: trent unseal --endpoint %s\n", st.Threshold, url)
	}
	if o.dev {
		if secret != "" {
			fmt.Fprintf(os.Stderr, "trent: point the AWS CLI at it with:\n  export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_REGION=%s AWS_DEFAULT_REGION=%s\n  aws --endpoint-url %s%s kms list-keys\n", keyID, secret, node.Region, node.Region, url, ops.cliFlags())
		} else {
			fmt.Fprintf(os.Stderr, "trent: using the access key %s=%s from the environment; give clients that pair as AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and try: aws --endpoint-url %s%s --region %s kms list-keys\n", envRootAccessKeyID, keyID, url, ops.cliFlags(), node.Region)
		}
	}

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = errors.Join(srv.Shutdown(shutdownCtx), ops.shutdown(shutdownCtx))
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// The environment variables a dev server takes its root access key from.
// Not AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: on a developer's machine
// those are often real AWS credentials, which a dev server would then store
// beside the key file that unwraps them. Scripts rely on these names.
const (
	envDatabaseURL     = "TRENT_DATABASE_URL"
	envRootAccessKeyID = "TRENT_ROOT_ACCESS_KEY_ID"
	envRootSecret      = "TRENT_ROOT_SECRET_ACCESS_KEY"
)

// devRootFromEnv returns the dev server's root access key from the
// environment: both variables set, or neither (then id is "" and the
// server makes a pair). Its errors never quote the secret.
func devRootFromEnv(getenv func(string) string) (id, secret string, err error) {
	id, secret = getenv(envRootAccessKeyID), getenv(envRootSecret)
	switch {
	case id == "" && secret == "":
		return "", "", nil
	case id == "":
		return "", "", fmt.Errorf("%s is set but %s is not: set both, or neither to have a pair made", envRootSecret, envRootAccessKeyID)
	case secret == "":
		return "", "", fmt.Errorf("%s is set but %s is not: set both, or neither to have a pair made", envRootAccessKeyID, envRootSecret)
	}
	if err := iam.CheckAccessKeyPair(id, secret); err != nil {
		return "", "", fmt.Errorf("%s/%s: %w", envRootAccessKeyID, envRootSecret, err)
	}
	return id, secret, nil
}
