package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/internal/k8splugin"
)

// k8sPluginCmd runs the Kubernetes KMS v2 plugin: a gRPC server on a unix
// socket for kube-apiserver, a KMS client of Trent (or any AWS KMS) behind
// it. Credentials and region come from the standard AWS chain (AWS_*
// variables, shared config files, …), the endpoint from --endpoint or the
// chain's AWS_ENDPOINT_URL_KMS / AWS_ENDPOINT_URL.
func k8sPluginCmd(args []string) error {
	fs := flag.NewFlagSet("k8s-kms-plugin", flag.ContinueOnError)
	socket := fs.String("socket", "", "unix socket to serve kube-apiserver on (required), e.g. /var/run/trent/kms.sock")
	keyID := fs.String("key-id", "", "the symmetric Trent key to encrypt with (required): key id, key ARN, alias/NAME or alias ARN")
	endpoint := fs.String("endpoint", "", "Trent's URL (default: $AWS_ENDPOINT_URL_KMS or $AWS_ENDPOINT_URL from the AWS configuration)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *socket == "" || *keyID == "" {
		return errors.New("--socket and --key-id are required")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := newLogger(level)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return errors.New("no region: set AWS_REGION (or a region in the AWS config file)")
	}
	client := kms.NewFromConfig(cfg, func(o *kms.Options) {
		if *endpoint != "" {
			o.BaseEndpoint = endpoint
		}
	})
	ln, err := k8splugin.Listen(*socket)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "trent: Kubernetes KMS v2 plugin serving on unix://%s with key %s\n", *socket, *keyID)
	return k8splugin.Serve(ctx, ln, k8splugin.New(client, *keyID, log))
}
