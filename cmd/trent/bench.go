package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/trent-kms/trent/internal/benchload"
	"github.com/trent-kms/trent/internal/sigv4"
)

// bench measures a running Trent server: it loads one operation over
// keep-alive connections, signing every request, and prints throughput,
// latency percentiles and the error count. It refuses endpoints that are
// not loopback addresses unless --allow-remote is given.
func bench(args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "populate" {
		return benchPopulate(args[1:], stdout)
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	endpoint := fs.String("endpoint", "", "base URL of the Trent server, e.g. http://127.0.0.1:8080 (required)")
	accessKeyID := fs.String("access-key-id", os.Getenv("AWS_ACCESS_KEY_ID"), "access key id to sign with (default $AWS_ACCESS_KEY_ID)")
	secret := fs.String("secret", "", "secret access key (default $AWS_SECRET_ACCESS_KEY; prefer the environment, command lines are visible to other users)")
	region := fs.String("region", "us-east-1", "region the server serves")
	op := fs.String("op", "Encrypt", "operation to load: Encrypt, Decrypt, GenerateDataKey or CreateKey")
	connections := fs.Int("connections", benchload.DefaultConnections, "concurrent keep-alive connections")
	duration := fs.Duration("duration", 10*time.Second, "how long to send requests")
	maxRequests := fs.Int64("max-requests", 0, "stop after this many requests (0: only the duration bounds the run)")
	keyID := fs.String("key-id", "", "key to use (default: create a new key)")
	nKeys := fs.Int("keys", 0, "create this many keys first (over --connections connections) and spread the load over them")
	keysFile := fs.String("keys-file", "", "with --keys: read the key ids from this file (one a line) if it holds enough, else create them and write it")
	spread := fs.String("spread", "cycle", "with --keys: cycle (each request the next key: cold once the keys outnumber the cache) or hot (random among --hot keys)")
	hot := fs.Int("hot", 0, "with --spread hot: the size of the hot set (default: all --keys)")
	wrkScript := fs.String("wrk-script", "", "instead of loading: write a wrk script to this file (and its requests beside it) that replays pre-signed requests, one per key in the order --spread gives, valid for 5 minutes")
	allowRemote := fs.Bool("allow-remote", false, "allow an endpoint that is not a loopback address; load only servers you run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *secret == "" {
		*secret = os.Getenv("AWS_SECRET_ACCESS_KEY")
	}
	switch {
	case *endpoint == "":
		return errors.New("--endpoint is required")
	case *accessKeyID == "" || *secret == "":
		return errors.New("credentials are required: --access-key-id and --secret, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	case !slices.Contains(benchload.Ops, *op):
		return fmt.Errorf("--op must be one of %v, not %q", benchload.Ops, *op)
	case *connections < 1 || *connections > 10000:
		return fmt.Errorf("--connections must be between 1 and 10000, not %d", *connections)
	case *duration <= 0:
		return errors.New("--duration must be positive")
	case *maxRequests < 0:
		return errors.New("--max-requests must not be negative")
	case *nKeys < 0 || *nKeys > 100_000_000:
		return fmt.Errorf("--keys must be between 0 and 100000000, not %d", *nKeys)
	case *nKeys > 0 && (*keyID != "" || *op == "CreateKey"):
		return errors.New("--keys spreads Encrypt, Decrypt or GenerateDataKey over many keys; it goes with neither --key-id nor --op CreateKey")
	case *nKeys == 0 && *keysFile != "":
		return errors.New("--keys-file needs --keys")
	case *spread != "cycle" && *spread != "hot":
		return fmt.Errorf("--spread must be cycle or hot, not %q", *spread)
	case *hot < 0 || *hot > *nKeys || *hot > 0 && *spread != "hot":
		return fmt.Errorf("--hot must be between 0 and --keys, with --spread hot (got %d)", *hot)
	}
	if err := checkRegion(*region); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	t := benchload.Target{
		Endpoint: *endpoint, AccessKeyID: *accessKeyID, Secret: []byte(*secret),
		Region: *region, AllowRemote: *allowRemote,
	}
	if err := benchload.Check(ctx, t); err != nil {
		if errors.Is(err, benchload.ErrNotLoopback) {
			return fmt.Errorf("%w (--allow-remote permits it, for a server you run)", err)
		}
		return err
	}
	if *wrkScript != "" && *op == "CreateKey" {
		// Replaying a CreateKey request makes a key each time: wrk can do
		// that, but the point of a script is keys that already exist.
		return errors.New("--wrk-script replays Encrypt, Decrypt or GenerateDataKey requests, not CreateKey")
	}
	if *nKeys > 0 {
		return benchKeys(ctx, stdout, t, *op, *nKeys, *keysFile, *spread, *hot, *wrkScript, benchload.Load{
			Op: *op, Connections: *connections, Duration: *duration, MaxRequests: *maxRequests,
		})
	}
	setup, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	key := *keyID
	if key == "" && *op != "CreateKey" {
		var err error
		if key, err = benchload.CreateKey(setup, t); err != nil {
			return fmt.Errorf("create a key to bench with: %w", err)
		}
		fmt.Fprintf(stdout, "created key %s\n", key)
	}
	body, err := benchload.Body(setup, t, *op, key)
	if err != nil {
		return fmt.Errorf("prepare %s requests: %w", *op, err)
	}
	if *wrkScript != "" {
		return writeWrkScript(ctx, stdout, t, *op, [][]byte{body}, *wrkScript, "key "+key)
	}

	return runLoad(ctx, stdout, t, benchload.Load{
		Op: *op, Body: body, Connections: *connections, Duration: *duration, MaxRequests: *maxRequests,
	}, "")
}

// runLoad runs l and prints its result.
func runLoad(ctx context.Context, stdout io.Writer, t benchload.Target, l benchload.Load, over string) error {
	limit := ""
	if l.MaxRequests > 0 {
		limit = fmt.Sprintf(" or %d requests", l.MaxRequests)
	}
	fmt.Fprintf(stdout, "%s%s on %s: %d connections, %v%s\n", l.Op, over, t.Endpoint, l.Connections, l.Duration, limit)
	res, err := benchload.Run(ctx, t, l)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "requests:   %d ok, %d errors in %.2fs\n", res.Requests, res.Errors, res.Elapsed.Seconds())
	fmt.Fprintf(stdout, "throughput: %.0f req/s\n", res.Rate())
	fmt.Fprintf(stdout, "latency:    p50 %v, p99 %v\n", res.P50.Round(time.Microsecond), res.P99.Round(time.Microsecond))
	if res.Errors > 0 {
		return fmt.Errorf("%d requests failed; the first: %s", res.Errors, res.FirstError)
	}
	if res.Requests == 0 {
		return errors.New("no request completed")
	}
	return nil
}

// benchKeys is bench --keys: it gets n keys (from keysFile, or created over
// l.Connections connections, timed, and then written to keysFile), builds
// one request body per key and runs l spread over them.
func benchKeys(ctx context.Context, stdout io.Writer, t benchload.Target, op string, n int, keysFile, spread string, hot int, wrkScript string, l benchload.Load) error {
	ids, err := readKeyIDs(keysFile, n)
	if err != nil {
		return err
	}
	if ids == nil {
		began := time.Now()
		ids, err = benchload.CreateKeys(ctx, t, n, l.Connections, func(done int) {
			fmt.Fprintf(stdout, "created %d keys, %.0f keys/s\n", done, float64(done)/time.Since(began).Seconds())
		})
		if err != nil {
			return fmt.Errorf("create %d keys (%d done): %w", n, len(ids), err)
		}
		took := time.Since(began)
		fmt.Fprintf(stdout, "created %d keys in %.2fs: %.0f keys/s\n", n, took.Seconds(), float64(n)/took.Seconds())
		if keysFile != "" {
			if err := os.WriteFile(keysFile, []byte(strings.Join(ids, "\n")+"\n"), 0o600); err != nil {
				return fmt.Errorf("write the key ids: %w", err)
			}
		}
	} else {
		fmt.Fprintf(stdout, "using %d keys from %s\n", n, keysFile)
	}
	if hot == 0 {
		hot = n
	}
	if wrkScript != "" && spread == "hot" {
		// Each hot key once per pass, in an order that is not the keys'
		// own (a random permutation stands in for random picks).
		ids = ids[:hot]
		rand.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	}
	l.Bodies = make([][]byte, len(ids))
	for i, id := range ids {
		// Decrypt needs one Encrypt per key to have a ciphertext.
		if l.Bodies[i], err = benchload.Body(ctx, t, op, id); err != nil {
			return fmt.Errorf("prepare %s requests for key %s: %w", op, id, err)
		}
	}
	over := fmt.Sprintf(" over %d keys in turn", n)
	if spread == "hot" {
		l.Spread, l.Hot = benchload.SpreadHot, hot
		over = fmt.Sprintf(" over %d hot keys of %d", hot, n)
	}
	if wrkScript != "" {
		return writeWrkScript(ctx, stdout, t, op, l.Bodies, wrkScript, strings.TrimPrefix(over, " "))
	}
	return runLoad(ctx, stdout, t, l, over)
}

// writeWrkScript is bench --wrk-script: it signs one request per body now
// and writes the script that replays them in turn.
func writeWrkScript(ctx context.Context, stdout io.Writer, t benchload.Target, op string, bodies [][]byte, path, over string) error {
	now := time.Now()
	reqs, err := benchload.Presign(ctx, t, op, bodies, now)
	if err != nil {
		return fmt.Errorf("pre-sign %s requests: %w", op, err)
	}
	if err := benchload.WriteWrkScript(path, reqs); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d pre-signed %s requests %s, valid until %s\n",
		path, len(reqs), op, over, now.Add(sigv4.DefaultMaxSkew).UTC().Format(time.TimeOnly))
	fmt.Fprintf(stdout, "run: taskset -c 0 wrk -t1 -c32 -d10s --latency -s %s %s\n", path, t.Endpoint)
	return nil
}

// readKeyIDs returns the first n key ids in path, or nil if path is empty,
// does not exist or holds fewer.
func readKeyIDs(path string, n int) ([]string, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the key ids: %w", err)
	}
	ids := strings.Fields(string(b))
	if len(ids) < n {
		return nil, nil
	}
	return ids[:n], nil
}
