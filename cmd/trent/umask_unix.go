//go:build unix

package main

import "syscall"

// restrictUmask makes every file and directory this process creates
// without an explicit mode its owner's alone. The files that matter are
// created 0600 explicitly anyway; the umask covers whatever a library
// creates on its own (SQLite's side files of a database made elsewhere,
// temporary files), so nothing is world-readable by omission.
func restrictUmask() { syscall.Umask(0o077) }
