//go:build trent_noaudit

package server

// auditCompiledOut: this binary was built with -tags trent_noaudit to
// measure the audit log's cost. It records nothing. Never deploy it.
const auditCompiledOut = true
