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
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/trent-kms/trent/internal/server"
	"github.com/trent-kms/trent/internal/sigv4"
)

// The operator commands — unseal, status, seal — talk to a running server's
// /sys endpoints (internal/server/front.go).

// sysTimeout bounds each call: an unseal that completes the threshold
// starts the services, which takes well under a second.
const sysTimeout = 30 * time.Second

// maxShareLine bounds what unseal reads from standard input.
const maxShareLine = 4 << 10

// sysFlags are the flags of every operator command that talks to a
// server: --endpoint and the TLS ones (systls.go).
type sysFlags struct {
	endpoint string
	tls      *sysTLS
}

func addSysFlags(fs *flag.FlagSet) *sysFlags {
	f := &sysFlags{}
	fs.StringVar(&f.endpoint, "endpoint", "", "URL of the Trent server (required)")
	f.tls = addSysTLSFlags(fs)
	return f
}

// server checks the parsed flags: the server's base URL, and the HTTP
// client to reach it with.
func (f *sysFlags) server() (*url.URL, *http.Client, error) {
	base, err := parseEndpoint(f.endpoint)
	if err != nil {
		return nil, nil, err
	}
	client, err := f.tls.client()
	if err != nil {
		return nil, nil, err
	}
	return base, client, nil
}

// rootKey is the root user's long-term access key, which the signed /sys
// calls (seal, rotate-root) take, from the environment as the AWS CLI
// reads it.
type rootKey struct {
	id, secret, region string
}

// rootKeyFromEnv reads the root key for the command cmd (named in its
// errors); session credentials are refused, as the server wants the
// first account's root signing (internal/server/front.go).
func rootKeyFromEnv(getenv func(string) string, cmd string) (rootKey, error) {
	k := rootKey{id: getenv("AWS_ACCESS_KEY_ID"), secret: getenv("AWS_SECRET_ACCESS_KEY")}
	if k.id == "" || k.secret == "" {
		return rootKey{}, errors.New("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to the root access key of the installation's first account")
	}
	if getenv("AWS_SESSION_TOKEN") != "" {
		return rootKey{}, fmt.Errorf("AWS_SESSION_TOKEN is set: %s takes the root user's long-term access key, not temporary credentials", cmd)
	}
	k.region = getenv("AWS_REGION")
	if k.region == "" {
		k.region = getenv("AWS_DEFAULT_REGION")
	}
	if k.region == "" {
		k.region = "us-east-1"
	}
	return k, nil
}

// sign signs req, whose body is body, with the root key, now.
func (k rootKey) sign(req *http.Request, body []byte) error {
	return sigv4.Sign(req, body, k.id, []byte(k.secret), k.region, "kms", time.Now())
}

func parseEndpoint(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("--endpoint is required (e.g. --endpoint http://127.0.0.1:8080)")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, fmt.Errorf("--endpoint %q: want http(s)://HOST:PORT", s)
	}
	u.Path = ""
	return u, nil
}

// sysReply is what every /sys endpoint answers.
type sysReply struct {
	server.SealStatus
	Error string `json:"error"`
}

// callSys sends req and decodes the answer. A non-2xx answer is an error
// carrying the server's message, and the status it reported with it.
func callSys(client *http.Client, req *http.Request) (*sysReply, error) {
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r sysReply
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("read the answer: %w", err)
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%s answered %s, which is not a Trent status: %.200q", req.URL.Host, resp.Status, body)
	}
	if resp.StatusCode/100 != 2 {
		if r.Error == "" {
			r.Error = resp.Status
		}
		return &r, errors.New(r.Error)
	}
	return &r, nil
}

// sysStatus asks the server at base for its seal status.
func sysStatus(ctx context.Context, client *http.Client, base *url.URL) (*sysReply, error) {
	req, err := newSysRequest(ctx, http.MethodGet, base, "/sys/status", nil)
	if err != nil {
		return nil, err
	}
	return callSys(client, req)
}

func newSysRequest(ctx context.Context, method string, base *url.URL, path string, body []byte) (*http.Request, error) {
	u := *base
	u.Path = path
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

func progress(s server.SealStatus) string {
	if !s.Sealed {
		return "Trent is unsealed."
	}
	if s.Threshold == 0 {
		return fmt.Sprintf("Trent is sealed (seal type %s: it unseals itself when restarted).", s.SealType)
	}
	return fmt.Sprintf("Trent is sealed: %d of %d shares.", s.Progress, s.Threshold)
}

// unsealCmd runs `trent unseal --endpoint URL [--reset]`: it reads one
// share from stdin — without echo on a terminal — and submits it.
func unsealCmd(args []string, stdin *os.File, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("unseal", flag.ContinueOnError)
	sf := addSysFlags(fs)
	reset := fs.Bool("reset", false, "drop the shares submitted so far instead of submitting one")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	base, client, err := sf.server()
	if err != nil {
		return err
	}
	var body []byte
	if *reset {
		body = []byte(`{"reset":true}` + "\n")
	} else {
		share, err := readShare(stdin, stderr)
		if err != nil {
			return err
		}
		body, err = json.Marshal(map[string]string{"share": share})
		if err != nil {
			return err
		}
	}
	defer clear(body)
	ctx, cancel := context.WithTimeout(context.Background(), sysTimeout)
	defer cancel()
	req, err := newSysRequest(ctx, http.MethodPost, base, "/sys/unseal", body)
	if err != nil {
		return err
	}
	r, err := callSys(client, req)
	if err != nil && r != nil && !r.Sealed && !*reset {
		// Unsealed already (another operator gave the last share): the
		// share is not needed, and that is no failure.
		fmt.Fprintln(stdout, "Trent is already unsealed; the share was not used.")
		return nil
	}
	if err != nil {
		if r != nil && r.Sealed && r.Threshold > 0 {
			return fmt.Errorf("%w (%d of %d shares accepted)", err, r.Progress, r.Threshold)
		}
		return err
	}
	if *reset {
		fmt.Fprintln(stdout, "Shares submitted so far dropped.")
	} else if r.Sealed {
		fmt.Fprintln(stdout, "Share accepted.")
	}
	fmt.Fprintln(stdout, progress(r.SealStatus))
	return nil
}

// readShare reads one line from in. On a terminal it prompts on stderr
// and turns echo off, so the share does not stay on the screen.
func readShare(in *os.File, stderr io.Writer) (string, error) {
	var line []byte
	if term.IsTerminal(int(in.Fd())) {
		fmt.Fprint(stderr, "Unseal share (not echoed): ")
		b, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read the share: %w", err)
		}
		line = b
	} else {
		r := bufio.NewReaderSize(io.LimitReader(in, maxShareLine+1), maxShareLine+1)
		b, err := r.ReadSlice('\n')
		if len(b) > maxShareLine || errors.Is(err, bufio.ErrBufferFull) {
			clear(b)
			return "", errors.New("standard input's first line is too long to be a share")
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read the share from standard input: %w", err)
		}
		line = bytes.Clone(b)
		clear(b)
	}
	defer clear(line)
	share := strings.TrimSpace(string(line))
	if share == "" {
		return "", errors.New("no share given: write one share on standard input")
	}
	return share, nil
}

// statusCmd runs `trent status --endpoint URL [--format json]`.
func statusCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	sf := addSysFlags(fs)
	format := fs.String("format", "text", "output format: text or json (keys sealed, progress, threshold, seal_type, fips140, version)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		return fmt.Errorf("--format must be text or json, not %q", *format)
	}
	base, client, err := sf.server()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), sysTimeout)
	defer cancel()
	r, err := sysStatus(ctx, client, base)
	if err != nil {
		return err
	}
	s := r.SealStatus
	if *format == "json" {
		return json.NewEncoder(stdout).Encode(s)
	}
	fmt.Fprintf(stdout, "Sealed:      %t\n", s.Sealed)
	if s.Threshold > 0 {
		fmt.Fprintf(stdout, "Progress:    %d of %d\n", s.Progress, s.Threshold)
	}
	fmt.Fprintf(stdout, "Seal type:   %s\n", s.SealType)
	fmt.Fprintf(stdout, "FIPS 140-3:  %t\n", s.FIPS140)
	fmt.Fprintf(stdout, "Version:     %s\n", s.Version)
	return nil
}

// sealCmd runs `trent seal --endpoint URL`, signed with the root user's
// access key from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
func sealCmd(args []string, stdout io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("seal", flag.ContinueOnError)
	sf := addSysFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	base, client, err := sf.server()
	if err != nil {
		return err
	}
	key, err := rootKeyFromEnv(getenv, "seal")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), sysTimeout)
	defer cancel()
	body := []byte("{}")
	req, err := newSysRequest(ctx, http.MethodPost, base, "/sys/seal", body)
	if err != nil {
		return err
	}
	if err := key.sign(req, body); err != nil {
		return err
	}
	r, err := callSys(client, req)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, progress(r.SealStatus))
	return nil
}
