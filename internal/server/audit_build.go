//go:build !trent_noaudit

package server

// auditCompiledOut is true only in a binary built with -tags trent_noaudit,
// which exists to measure what the audit log costs (ratio.sh, audit on
// versus off); such a binary records nothing and says so at start.
const auditCompiledOut = false
