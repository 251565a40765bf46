package e2e

import "time"

// loadAtLeast lets load run for at least d and then until enough reports
// that the load has shown itself (requests acknowledged), for at most a
// minute in all. The tests that kill a server under load used to sleep a
// fixed time and then demand so many acknowledgements: a 2-core CI machine
// under -race, or busy with other packages, can answer fewer in that time
// than the dev machine does, and the test failed though nothing was wrong.
// The caller still checks its demand afterwards, so a server that answers
// nothing fails the test, a minute later.
func loadAtLeast(d time.Duration, enough func() bool) {
	start := time.Now()
	for time.Since(start) < d || !enough() && time.Since(start) < time.Minute {
		time.Sleep(10 * time.Millisecond)
	}
}
