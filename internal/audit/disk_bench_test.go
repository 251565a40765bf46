//go:build unix

package audit

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// BenchmarkWriteDatasync is the writer's disk work for one batch alone —
// an 11 KB write over a preallocated segment's zeros and fdatasync —
// with the system CPU it costs (sys-µs/op, from getrusage) beside the
// wall time. It is the floor under audit's cost per batch on this
// machine: docs/ARCHITECTURE.md, "Why the 10% budget is out of reach".
//
//	go test -run '^$' -bench WriteDatasync -benchtime 3000x ./internal/audit
func BenchmarkWriteDatasync(b *testing.B) {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "segment"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	const segment = 64 << 20
	if _, err := f.Write(make([]byte, segment)); err != nil {
		b.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	batch := make([]byte, 11<<10) // ~7 Encrypt events
	var r0, r1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	b.ResetTimer()
	for i := range b.N {
		if i%(segment/len(batch)) == 0 {
			if _, err := f.Seek(0, 0); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := f.Write(batch); err != nil {
			b.Fatal(err)
		}
		if err := datasync(f); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	b.ReportMetric(float64(r1.Stime.Nano()-r0.Stime.Nano())/float64(b.N)/1e3, "sys-µs/op")
	b.ReportMetric(float64(r1.Nvcsw-r0.Nvcsw)/float64(b.N), "sleeps/op")
}
