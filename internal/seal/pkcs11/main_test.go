//go:build cgo

package pkcs11

import (
	"fmt"
	"os"
	"testing"

	softhsm2 "github.com/trent-kms/trent/internal/testenv/softhsm"
)

// The tests run against a real SoftHSM2. A PKCS #11 library reads its
// configuration once per process, at C_Initialize, so TestMain makes one
// token directory for the whole test binary, points SOFTHSM2_CONF at it
// before any test loads the module, and initializes the tokens below in it
// with softhsm2-util. Tests that need a process of their own (a restart)
// re-run this binary as a helper, which inherits SOFTHSM2_CONF and so sees
// the same tokens.
//
// Without SoftHSM2 those tests skip, saying why — unless
// TRENT_REQUIRE_SOFTHSM is set (make unit sets it), when they fail.

const (
	testToken      = "trent"
	testPIN        = "test-user-pin-1234"
	otherToken     = "other"
	otherPIN       = "other-user-pin-5678"
	testSOPIN      = "test-so-pin-12345678"
	requireEnv     = softhsm2.RequireEnv
	helperEnv      = "TRENT_PKCS11_TEST_HELPER" // set in a helper process: the directory it works in
	helperModEnv   = "TRENT_PKCS11_TEST_MODULE"
	softhsmConfEnv = softhsm2.ConfEnv
)

// softhsm describes the SoftHSM2 set up for this test binary.
var softhsm struct {
	module  string // the library, when available
	problem string // why SoftHSM2 is unavailable, when it is
	broken  bool   // installed but failing, which no setting excuses
}

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if os.Getenv(helperEnv) != "" {
		// A helper process: the parent set up SOFTHSM2_CONF and the tokens.
		softhsm.module = os.Getenv(helperModEnv)
		return m.Run()
	}
	module, util, problem := softhsm2.Find()
	if problem != "" {
		softhsm.problem = problem
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "trent-softhsm-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "pkcs11 tests:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := setUpTokens(dir, util); err != nil {
		// SoftHSM2 is installed but does not work: fail, never skip.
		softhsm.problem = err.Error()
		softhsm.broken = true
		return m.Run()
	}
	softhsm.module = module
	return m.Run()
}

// setUpTokens writes a SoftHSM2 configuration whose tokens live in dir,
// points this process (and so its helpers) at it, and initializes two
// tokens.
func setUpTokens(dir, util string) error {
	conf, err := softhsm2.WriteConf(dir)
	if err != nil {
		return err
	}
	if err := os.Setenv(softhsmConfEnv, conf); err != nil {
		return err
	}
	for _, tok := range []struct{ label, pin string }{{testToken, testPIN}, {otherToken, otherPIN}} {
		if err := softhsm2.InitToken(util, conf, tok.label, testSOPIN, tok.pin); err != nil {
			return err
		}
	}
	return nil
}

// needSoftHSM skips t when SoftHSM2 is absent, or fails it when
// TRENT_REQUIRE_SOFTHSM is set, and returns the module's path.
func needSoftHSM(t testing.TB) string {
	t.Helper()
	if softhsm.module != "" {
		return softhsm.module
	}
	if softhsm.broken || os.Getenv(requireEnv) != "" {
		t.Fatalf("%s is set but SoftHSM2 is not usable: %s", requireEnv, softhsm.problem)
	}
	t.Skipf("SoftHSM2 is not available: %s (set %s=1 to fail instead)", softhsm.problem, requireEnv)
	return ""
}
