package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/trent-kms/trent/internal/server"
)

// rotateTimeout bounds rotate-root's call: the server rewraps every
// stored secret before it answers (thousands a second).
const rotateTimeout = 30 * time.Minute

// rotateRootCmd runs `trent rotate-root --endpoint URL [--format json]`,
// signed like `trent seal` with the root user's access key. A shamir
// installation also needs threshold-many unseal shares on standard input:
// the server seals the new root key with the key they rebuild.
func rotateRootCmd(args []string, stdin *os.File, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("rotate-root", flag.ContinueOnError)
	sf := addSysFlags(fs)
	format := fs.String("format", "text", "output format: text or json (keys root_generation, rewrapped and the status's)")
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
	key, err := rootKeyFromEnv(getenv, "rotate-root")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), rotateTimeout)
	defer cancel()

	// A shamir installation: how many shares, from its status.
	st, err := sysStatus(ctx, client, base) // sys.go
	if err != nil {
		return err
	}
	if st.Sealed {
		return errors.New("the server is sealed: unseal it first")
	}
	var body []byte
	if st.SealType == "shamir" {
		shares, err := readShares(stdin, stderr)(st.Threshold)
		if err != nil {
			return err
		}
		body, err = json.Marshal(map[string][]string{"unseal_shares": shares})
		if err != nil {
			return err
		}
	} else {
		body = []byte("{}")
	}
	defer clear(body)
	req, err := newSysRequest(ctx, http.MethodPost, base, "/sys/rotate-root", body)
	if err != nil {
		return err
	}
	if err := key.sign(req, body); err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: rotateTimeout, Transport: client.Transport}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return fmt.Errorf("read the answer: %w", err)
	}
	var r struct {
		server.RotateStatus
		Error string `json:"error"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("%s answered %s, which is not a Trent answer: %.200q", req.URL.Host, resp.Status, b)
	}
	if resp.StatusCode != http.StatusOK {
		if r.Error == "" {
			r.Error = resp.Status
		}
		return errors.New(r.Error)
	}
	if *format == "json" {
		return json.NewEncoder(stdout).Encode(r.RotateStatus)
	}
	fmt.Fprintf(stdout, "Root key rotated to generation %d: %d stored secrets rewrapped; the old root key is gone.\n", r.Generation, r.Rewrapped)
	return nil
}
