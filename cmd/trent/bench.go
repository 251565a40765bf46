package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/trent-kms/trent/internal/benchload"
)

// bench measures a running Trent server: it loads one operation over
// keep-alive connections, signing every request, and prints throughput,
// latency percentiles and the error count. It refuses endpoints that are
// not loopback addresses unless --allow-remote is given.
func bench(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	endpoint := fs.String("endpoint", "", "base URL of the Trent server, e.g. http://127.0.0.1:8080 (required)")
	accessKeyID := fs.String("access-key-id", os.Getenv("AWS_ACCESS_KEY_ID"), "access key id to sign with (default $AWS_ACCESS_KEY_ID)")
	secret := fs.String("secret", "", "secret access key (default $AWS_SECRET_ACCESS_KEY; prefer the environment, command lines are visible to other users)")
	region := fs.String("region", "us-east-1", "region the server serves")
	op := fs.String("op", "Encrypt", "operation to load: Encrypt, Decrypt or GenerateDataKey")
	connections := fs.Int("connections", benchload.DefaultConnections, "concurrent keep-alive connections")
	duration := fs.Duration("duration", 10*time.Second, "how long to send requests")
	maxRequests := fs.Int64("max-requests", 0, "stop after this many requests (0: only the duration bounds the run)")
	keyID := fs.String("key-id", "", "key to use (default: create a new key)")
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
	setup, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	key := *keyID
	if key == "" {
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

	limit := ""
	if *maxRequests > 0 {
		limit = fmt.Sprintf(" or %d requests", *maxRequests)
	}
	fmt.Fprintf(stdout, "%s on %s: %d connections, %v%s\n", *op, *endpoint, *connections, *duration, limit)
	res, err := benchload.Run(ctx, t, benchload.Load{
		Op: *op, Body: body, Connections: *connections, Duration: *duration, MaxRequests: *maxRequests,
	})
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
