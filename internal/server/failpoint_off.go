//go:build !trent_failpoints

package server

// failpointBeforeRecord does nothing outside test builds (see
// failpoint_on.go).
func failpointBeforeRecord(string, error) {}
