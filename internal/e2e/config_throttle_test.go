package e2e

import (
	"strings"
	"testing"
)

// TestPrintConfigThrottleDefault: --print-config shows the throttling in
// effect, whose default depends on the mode: on in production, off with
// --dev, and whatever --throttle says when given.
func TestPrintConfigThrottleDefault(t *testing.T) {
	dir := t.TempDir()
	prod := []string{"--data-dir", dir + "/data", "--seal-key-file", dir + "/seal.key"}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"production", prod, "throttle = true"},
		{"production off", append(prod, "--throttle=false"), "throttle = false"},
		{"dev", []string{"--dev"}, "throttle = false"},
		{"dev on", []string{"--dev", "--throttle"}, "throttle = true"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runServe(t, nil, append(tt.args, "--print-config")...)
			if code != 0 {
				t.Fatalf("--print-config: exit %d\n%s", code, stderr)
			}
			for _, l := range strings.Split(stdout, "\n") {
				if strings.HasPrefix(l, "throttle ") {
					if got, _, _ := strings.Cut(l, "  "); strings.TrimSpace(got) != tt.want {
						t.Errorf("printed %q, want %q", l, tt.want)
					}
					return
				}
			}
			t.Errorf("no throttle line:\n%s", stdout)
		})
	}
}
