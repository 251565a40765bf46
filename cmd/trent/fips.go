package main

import (
	"crypto/fips140"
	"fmt"
	"os"
	"strings"
)

// fipsSetting is the GODEBUG setting `serve --fips` runs under. "on", not
// "only": "on" runs every algorithm of Go's FIPS 140-3 module in its
// approved mode with its self-tests, and Trent refuses the specs the module
// does not provide (internal/kms, spec.go). "only" would also make
// crypto/rsa refuse SHA-1 in OAEP, breaking RSAES_OAEP_SHA_1, an algorithm
// AWS offers; an operator who wants it anyway sets GODEBUG=fips140=only
// and --fips keeps it.
const fipsSetting = "fips140=on"

// enterFIPS returns nil when the process runs in FIPS 140-3 mode and
// otherwise re-executes it in that mode. The runtime reads GODEBUG's
// fips140 once, while the process starts, so no code can switch it on
// later; re-executing the same binary with the same arguments and the
// setting added keeps `--fips` a flag like the others instead of a
// variable every operator must remember. execve keeps the process id,
// its open descriptors (stderr) and its parent, so supervisors and
// tests see one process. It must run before the process changes
// anything (environment, umask, listeners).
func enterFIPS() error {
	if fips140.Enabled() {
		return nil
	}
	if v := fipsGODEBUG(os.Getenv("GODEBUG")); v == "on" || v == "only" {
		// Already re-executed, or the operator asked: the runtime did not
		// honour it, so this build or platform has no FIPS module.
		// Re-executing again would loop.
		return fmt.Errorf("--fips: GODEBUG has fips140=%s but Go's FIPS 140-3 mode is not enabled; refusing to serve", v)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("--fips: cannot find this program to restart it in FIPS 140-3 mode (%v); start it with GODEBUG=%s instead", err, fipsSetting)
	}
	return reexec(exe, os.Args, withFIPSGODEBUG(os.Environ()))
}

// fipsGODEBUG returns the value GODEBUG gives fips140 ("" when it gives
// none); of several settings the last counts, as for the runtime.
func fipsGODEBUG(godebug string) string {
	v := ""
	for _, s := range strings.Split(godebug, ",") {
		if val, ok := strings.CutPrefix(strings.TrimSpace(s), "fips140="); ok {
			v = val
		}
	}
	return v
}

// withFIPSGODEBUG returns env with fipsSetting in GODEBUG, in place of any
// fips140 setting already there (--fips overrides fips140=off), keeping the
// other settings.
func withFIPSGODEBUG(env []string) []string {
	out := make([]string, 0, len(env)+1)
	var settings []string
	for _, kv := range env {
		v, ok := strings.CutPrefix(kv, "GODEBUG=")
		if !ok {
			out = append(out, kv)
			continue
		}
		settings = settings[:0]
		for _, s := range strings.Split(v, ",") {
			if s != "" && !strings.HasPrefix(strings.TrimSpace(s), "fips140=") {
				settings = append(settings, s)
			}
		}
	}
	return append(out, "GODEBUG="+strings.Join(append(settings, fipsSetting), ","))
}
