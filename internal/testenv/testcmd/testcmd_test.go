package testcmd

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// recorder is a testing.TB that keeps what the helper reports.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// TestHangFails: a child that outlives its bound is stopped with SIGQUIT
// and fails the test; one that ends in time does not.
func TestHangFails(t *testing.T) {
	r := &recorder{TB: t}
	err := command(r, 200*time.Millisecond, "sleep", "60").Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGQUIT {
		t.Errorf("hung child: %v, want ended by SIGQUIT", err)
	}
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "did not end within 200ms") {
		t.Errorf("hung child reported %q, want one error saying it did not end", r.errs)
	}

	r = &recorder{TB: t}
	if out, err := command(r, time.Minute, "echo", "hi").Output(); err != nil || string(out) != "hi\n" {
		t.Errorf("echo: %q, %v", out, err)
	}
	if len(r.errs) != 0 {
		t.Errorf("a child that ended in time reported %q", r.errs)
	}
}

// TestCommandWithin: the bound given replaces Timeout.
func TestCommandWithin(t *testing.T) {
	r := &recorder{TB: t}
	err := CommandWithin(r, 200*time.Millisecond, "sleep", "60").Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGQUIT {
		t.Errorf("hung child: %v, want ended by SIGQUIT", err)
	}
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "did not end within 200ms") {
		t.Errorf("hung child reported %q, want one error saying it did not end within 200ms", r.errs)
	}
}
