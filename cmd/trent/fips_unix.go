//go:build unix

package main

import (
	"fmt"
	"syscall"
)

// reexec replaces the running program with exe, given argv and env. It
// returns only on failure.
func reexec(exe string, argv, env []string) error {
	if err := syscall.Exec(exe, argv, env); err != nil {
		return fmt.Errorf("--fips: restart %s in FIPS 140-3 mode: %w", exe, err)
	}
	return nil
}
