//go:build trent_failpoints

package server

import (
	"os"
	"syscall"
)

// failpointBeforeRecord, in a binary built with -tags trent_failpoints
// for tests only, kills the process with SIGKILL when
// TRENT_FAILPOINT=kill-before-record:<Operation> names the operation of a
// request that succeeded: its change is committed and its event not yet
// written, the window the audit intents close (internal/audit/intent.go).
func failpointBeforeRecord(op string, err error) {
	if err == nil && os.Getenv("TRENT_FAILPOINT") == "kill-before-record:"+op {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
