package audit

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// BenchmarkRecord measures Record on the real disk of the temporary
// directory: from one goroutine, and from many at once as a busy server
// calls it. Each record is durable (written and fsynced) when Record
// returns. It reports records/s and fsyncs/record, which group commit
// keeps far below one under concurrency.
func BenchmarkRecord(b *testing.B) {
	for _, goroutines := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("goroutines=%d", goroutines), func(b *testing.B) {
			l := openLog(b, b.TempDir(), Options{})
			evs := make([]*Event, 64)
			for i := range evs {
				evs[i] = testEvent(i)
			}
			start := time.Now()
			b.ResetTimer()
			if goroutines == 1 {
				for i := 0; b.Loop(); i++ {
					if err := l.Record(context.Background(), evs[i%len(evs)]); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				// RunParallel starts SetParallelism × GOMAXPROCS goroutines.
				b.SetParallelism(max(1, goroutines/runtime.GOMAXPROCS(0)))
				b.RunParallel(func(pb *testing.PB) {
					for i := 0; pb.Next(); i++ {
						if err := l.Record(context.Background(), evs[i%len(evs)]); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			b.StopTimer()
			st := l.Stats()
			b.ReportMetric(float64(st.Records)/time.Since(start).Seconds(), "records/s")
			b.ReportMetric(float64(st.Fsyncs)/float64(st.Records), "fsyncs/record")
			closeLog(b, l)
		})
	}
}
