// Package testcmd makes the child processes tests run: each one ends within
// a bound, so a child that hangs fails its test in minutes with its output
// instead of holding the package until go test's 10-minute timeout kills
// the whole binary with no word about which child hung. It imports only
// the standard library, so any package's tests may use it.
package testcmd

import (
	"context"
	"errors"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// Timeout is how long a child may run. A child that outlives it fails the
// test, gets SIGQUIT (a Go child prints every goroutine's stack to its
// stderr, which the test shows with the output) and, WaitDelay later,
// SIGKILL.
const Timeout = 3 * time.Minute

// WaitDelay is how long a stopped child, or whatever it left holding its
// output pipes, may take to go before Wait gives up on it.
const WaitDelay = 10 * time.Second

// Command is exec.Command bounded by Timeout, or by the test's own deadline
// less a minute where that comes first. The bound runs from this call; the
// context ends at t's cleanup.
func Command(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	return CommandWithin(t, Timeout, name, args...)
}

// CommandWithin is Command with limit in place of Timeout, for a child
// whose fair run time is far from Timeout: a go build from a cold cache may
// take longer, and a command that must refuse its arguments rather than
// start serving can be stopped sooner when a test runs dozens of them.
func CommandWithin(t testing.TB, limit time.Duration, name string, args ...string) *exec.Cmd {
	t.Helper()
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if end, ok := d.Deadline(); ok {
			limit = min(limit, max(time.Until(end)-time.Minute, 10*time.Second))
		}
	}
	return command(t, limit, name, args...)
}

func command(t testing.TB, limit time.Duration, name string, args ...string) *exec.Cmd {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Cancel = func() error {
		// Only a child that outlived its bound fails the test: the
		// cleanup's cancel also lands here for a child still running.
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Errorf("%s did not end within %v: stopped with SIGQUIT", cmd, limit)
		}
		return cmd.Process.Signal(syscall.SIGQUIT)
	}
	cmd.WaitDelay = WaitDelay
	return cmd
}
