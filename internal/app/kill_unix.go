//go:build unix

package app

import (
	"os"
	"syscall"
)

// killSelf ends the process as a crash would: SIGKILL, nothing flushed.
func killSelf() {
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal is on its way
}
