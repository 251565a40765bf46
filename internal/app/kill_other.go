//go:build !unix

package app

import "os"

// killSelf ends the process at once, the nearest to a crash here.
func killSelf() { os.Exit(137) }
