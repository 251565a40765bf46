// Package softhsm sets up SoftHSM2 tokens for tests: it finds the library
// and softhsm2-util, writes a configuration whose token directory belongs
// to the test, and initializes tokens in it. The PKCS #11 seal's tests and
// the end-to-end tests share it, so both find the library the same way.
// Only test code imports this package.
//
// A PKCS #11 library reads its configuration (SOFTHSM2_CONF) once per
// process, when it is first initialized: a test binary that loads the
// library itself must point ConfEnv at its configuration before then, and
// keep one configuration for its whole run.
package softhsm

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const (
	// RequireEnv, when set (make unit sets it), turns a missing SoftHSM2
	// from a skip into a failure.
	RequireEnv = "TRENT_REQUIRE_SOFTHSM"
	// ConfEnv is where SoftHSM2 reads the path of its configuration.
	ConfEnv = "SOFTHSM2_CONF"
)

// Find locates the SoftHSM2 library and softhsm2-util, or says why it
// cannot. Debian puts the library in its multiarch directory and links it
// from /usr/lib/softhsm; other systems use the other places below.
func Find() (module, util, problem string) {
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		return "", "", "softhsm2-util is not on PATH (install the softhsm2 package: scripts/test-deps.sh)"
	}
	candidates := []string{
		"/usr/lib/softhsm/libsofthsm2.so",
		"/usr/local/lib/softhsm/libsofthsm2.so",
		"/usr/lib64/pkcs11/libsofthsm2.so",
		"/usr/lib/pkcs11/libsofthsm2.so",
	}
	multiarch, _ := filepath.Glob("/usr/lib/*/softhsm/libsofthsm2.so")
	candidates = append(candidates, multiarch...)
	for _, c := range candidates {
		if fi, err := os.Stat(c); err == nil && !fi.IsDir() {
			return c, util, ""
		}
	}
	return "", "", "softhsm2-util is installed but libsofthsm2.so is in none of " + strings.Join(candidates, ", ")
}

// WriteConf writes a SoftHSM2 configuration into dir whose tokens live in
// dir/tokens, and returns its path (the value for ConfEnv).
func WriteConf(dir string) (string, error) {
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		return "", err
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	content := "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
	if err := os.WriteFile(conf, []byte(content), 0o600); err != nil {
		return "", err
	}
	return conf, nil
}

// InitToken initializes a token labelled label in the free slot of the
// configuration conf, with the given security officer and user PINs.
func InitToken(util, conf, label, soPIN, pin string) error {
	cmd := exec.Command(util, "--init-token", "--free", "--label", label, "--so-pin", soPIN, "--pin", pin)
	cmd.Env = append(os.Environ(), ConfEnv+"="+conf)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("softhsm2-util --init-token --label %s: %v: %s", label, err, out)
	}
	return nil
}

// DeleteToken removes the token labelled label, and its objects.
func DeleteToken(util, conf, label string) error {
	cmd := exec.Command(util, "--delete-token", "--token", label)
	cmd.Env = append(os.Environ(), ConfEnv+"="+conf)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("softhsm2-util --delete-token --token %s: %v: %s", label, err, out)
	}
	return nil
}
