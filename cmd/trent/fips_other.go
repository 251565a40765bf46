//go:build !unix

package main

import "errors"

// reexec cannot replace the running program outside Unix: the operator
// sets GODEBUG instead.
func reexec(exe string, argv, env []string) error {
	return errors.New("--fips: this platform cannot restart trent in FIPS 140-3 mode; start it with GODEBUG=" + fipsSetting)
}
