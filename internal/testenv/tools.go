package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// RequireTool returns the path of the program name, or skips the test
// when it is not on PATH — fails it instead when the environment variable
// env is set, as make test sets it (TRENT_REQUIRE_AWSCLI, …). how says
// where the program comes from.
func RequireTool(t testing.TB, env, name, how string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, env, name+" is not on PATH ("+how+")")
	}
	return p
}

// Missing skips (or, with env set, fails) a test whose tool or client is
// absent, saying why.
func Missing(t testing.TB, env, why string) {
	t.Helper()
	if os.Getenv(env) != "" {
		t.Fatalf("%s is set but %s", env, why)
	}
	t.Skipf("%s; set %s=1 to make this a failure", why, env)
}
