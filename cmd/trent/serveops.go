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

	"github.com/trent-kms/trent/internal/config"
	"github.com/trent-kms/trent/internal/metrics"
	"github.com/trent-kms/trent/internal/seal/pkcs11"
	"github.com/trent-kms/trent/internal/server"
	"github.com/trent-kms/trent/internal/tlsutil"
)

// The operational side of serve: the config file, TLS, the metrics
// listener and the log format.

// envPrefix starts the environment variable of every serve flag.
const envPrefix = "TRENT_"

// certCheckInterval is how often serve looks at its TLS files for a new
// certificate (two stats).
const certCheckInterval = time.Second

// serveConfigOptions layers the environment and --config over serve's
// flags.
func serveConfigOptions(getenv func(string) string) config.Options {
	return config.Options{
		EnvPrefix: envPrefix, Getenv: getenv, ConfigFlag: "config",
		NotInFile: []string{"print-config"},
		// The database URL may carry a password.
		Secret: []string{"database-url"},
	}
}

// opsOptions are serve's operational flags.
type opsOptions struct {
	configFile, logFormat        string
	printConfig                  bool
	tlsCert, tlsKey, tlsClientCA string
	devTLS                       bool
	metricsListen                string
	config                       *config.Result
}

func (o *opsOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.configFile, "config", "", "TOML `file` of serve's settings, one name = value per flag (flags and $"+envPrefix+"<FLAG> variables override it)")
	fs.BoolVar(&o.printConfig, "print-config", false, "print the effective configuration (secrets redacted) and exit")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate (chain) to serve HTTPS with; reloaded when the file changes or on SIGHUP")
	fs.StringVar(&o.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&o.tlsClientCA, "tls-client-ca", "", "PEM bundle of CAs: clients must present a certificate one of them issued; reloaded when the file changes or on SIGHUP")
	fs.BoolVar(&o.devTLS, "tls", false, "--dev only: serve HTTPS with a self-signed certificate for 127.0.0.1 and localhost, made in the data dir")
	fs.StringVar(&o.metricsListen, "metrics-listen", "", "address of a second, plain HTTP listener serving GET /metrics without SigV4, and /healthz and /readyz (keep it on a private network)")
}

func (o *opsOptions) check(dev bool) error {
	if o.logFormat != "text" && o.logFormat != "json" {
		return fmt.Errorf("--log-format must be text or json, not %q", o.logFormat)
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if o.devTLS {
		if !dev {
			return errors.New("--tls makes a self-signed certificate for --dev only; a production server takes --tls-cert and --tls-key")
		}
		if o.tlsCert != "" {
			return errors.New("--tls makes its own certificate: give either --tls or --tls-cert and --tls-key")
		}
	}
	if o.tlsClientCA != "" && o.tlsCert == "" && !o.devTLS {
		return errors.New("--tls-client-ca needs TLS: --tls-cert and --tls-key (or --tls with --dev)")
	}
	if o.metricsListen != "" {
		if err := checkAddr("--metrics-listen", o.metricsListen); err != nil {
			return err
		}
	}
	return nil
}

func (o *opsOptions) logger(level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if o.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// printServeConfig writes serve's effective configuration, with the
// secrets that come from the environment alone named but redacted.
func printServeConfig(w io.Writer, o *serveOptions, getenv func(string) string) error {
	var extra []string
	for _, v := range []struct {
		name   string
		secret bool
	}{{envRootAccessKeyID, false}, {envRootSecret, true}, {pkcs11.PINEnv, true}} {
		val := getenv(v.name)
		if val == "" {
			continue
		}
		if v.secret {
			val = config.Redacted
		}
		extra = append(extra, fmt.Sprintf("$%s = %q (environment only, not a config key)", v.name, val))
	}
	return o.ops.config.Print(w, extra...)
}

// opsRuntime is what serve runs beside the API listener.
type opsRuntime struct {
	o         *opsOptions
	metrics   *metrics.Registry
	metricsLn net.Listener
	metricsSv *http.Server
	certs     *tlsutil.Certs
	caBundle  string // the dev certificate, to print
	stop      chan struct{}
}

// listen makes the metrics registry and binds the metrics listener, if
// any, before anything else is made (as serve binds --listen first).
func (o *opsOptions) listen(log *slog.Logger) (*opsRuntime, error) {
	rt := &opsRuntime{o: o, metrics: metrics.New(log), stop: make(chan struct{})}
	if o.metricsListen != "" {
		ln, err := net.Listen("tcp", o.metricsListen)
		if err != nil {
			return nil, fmt.Errorf("--metrics-listen: %w", err)
		}
		rt.metricsLn = ln
		rt.metricsSv = server.HTTPServer(nil, log) // its handler once the node exists (serveMetrics)
	}
	if o.tlsCert != "" {
		certs, err := tlsutil.Load(tlsutil.Options{CertFile: o.tlsCert, KeyFile: o.tlsKey, ClientCAFile: o.tlsClientCA, Log: log})
		if err != nil {
			rt.close()
			return nil, err
		}
		rt.certs = certs
	}
	return rt, nil
}

// secure sets up srv's TLS (making the dev certificate in dir if asked),
// starts the certificate watcher, warns about plain HTTP beyond this
// machine, and returns the URL clients use.
func (rt *opsRuntime) secure(srv *http.Server, ln net.Listener, dir string, log *slog.Logger) (string, error) {
	if rt.o.devTLS {
		cert, key, err := tlsutil.DevCert(dir, time.Now())
		if err != nil {
			return "", fmt.Errorf("--tls: %w", err)
		}
		rt.certs, err = tlsutil.Load(tlsutil.Options{CertFile: cert, KeyFile: key, ClientCAFile: rt.o.tlsClientCA, Log: log})
		if err != nil {
			return "", err
		}
		rt.caBundle = cert
	}
	if rt.certs == nil {
		if !isLoopback(ln.Addr()) {
			log.Warn("serving plain HTTP on an address other machines can reach: requests, their signatures and ciphertexts cross the network unencrypted; serve TLS with --tls-cert and --tls-key", "listen", ln.Addr().String())
		}
		return "http://" + ln.Addr().String(), nil
	}
	srv.TLSConfig = rt.certs.ServerConfig()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		rt.certs.Watch(rt.stop, certCheckInterval, hup)
	}()
	return "https://" + ln.Addr().String(), nil
}

// serve serves srv on ln, over TLS if secure set it up.
func (rt *opsRuntime) serve(srv *http.Server, ln net.Listener) error {
	if rt.certs != nil {
		return srv.ServeTLS(ln, "", "")
	}
	return srv.Serve(ln)
}

// serveMetrics starts the metrics listener, if any: /metrics, and
// /healthz and /readyz of health (the node's front handler), for probes
// that cannot present the client certificate --tls-client-ca asks of the
// API listener. Its failure ends serve as the API listener's would.
func (rt *opsRuntime) serveMetrics(errc chan<- error, health http.Handler) {
	if rt.metricsSv == nil {
		return
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", rt.metrics.Handler())
	mux.Handle("GET /healthz", health)
	mux.Handle("GET /readyz", health)
	rt.metricsSv.Handler = mux
	go func() {
		if err := rt.metricsSv.Serve(rt.metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			select {
			case errc <- fmt.Errorf("--metrics-listen: %w", err):
			default:
			}
		}
	}()
}

// announce prints what a user needs beyond the API's URL.
func (rt *opsRuntime) announce(w io.Writer) {
	if rt.metricsLn != nil {
		fmt.Fprintf(w, "trent: serving Prometheus metrics on http://%s/metrics\n", rt.metricsLn.Addr())
	}
	if rt.caBundle != "" {
		fmt.Fprintf(w, "trent: TLS with a self-signed certificate for 127.0.0.1 and localhost: %s\n", rt.caBundle)
		fmt.Fprintf(w, "trent: trust it with the AWS CLI's --ca-bundle %s (or AWS_CA_BUNDLE=%s)\n", rt.caBundle, rt.caBundle)
	}
}

// cliFlags are the AWS CLI flags a client of this server needs beyond
// --endpoint-url: the dev certificate to trust.
func (rt *opsRuntime) cliFlags() string {
	if rt.caBundle == "" {
		return ""
	}
	return " --ca-bundle " + rt.caBundle
}

func (rt *opsRuntime) shutdown(ctx context.Context) error {
	if rt.metricsSv == nil {
		return nil
	}
	if err := rt.metricsSv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics listener: %w", err)
	}
	return nil
}

func (rt *opsRuntime) close() {
	select {
	case <-rt.stop:
	default:
		close(rt.stop)
	}
	if rt.metricsLn != nil {
		rt.metricsLn.Close()
	}
}

// isLoopback reports whether addr can be reached from this machine only.
func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
