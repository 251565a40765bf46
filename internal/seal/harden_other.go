//go:build !linux

package seal

// HardenProcess does nothing on this operating system and returns nil: memory
// locking and core-dump suppression are implemented for Linux only, the
// platform Trent supports in production.
func HardenProcess() error { return nil }
