//go:build race

package audit

// raceEnabled: the race detector changes what escapes and makes sync.Pool
// drop items, so allocation counts are not meaningful under it.
const raceEnabled = true
