package audit

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/trent-kms/trent/internal/awsproto"
	"github.com/trent-kms/trent/internal/identity"
	"github.com/trent-kms/trent/internal/ids"
	"github.com/trent-kms/trent/internal/policy"
)

// BenchmarkRecord measures Record on the real disk of the temporary
// directory: from one goroutine, and from many at once as a busy server
// calls it. Each record is durable (written and fsynced) when Record
// returns. It reports records/s and fsyncs/record, which group commit
// keeps far below one under concurrency.
func BenchmarkRecord(b *testing.B) {
	for _, goroutines := range []int{1, 8, 32, 64} {
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
			if ws := l.WriteStats(); ws.Count > 0 {
				b.ReportMetric(float64(ws.Sum.Microseconds())/float64(ws.Count), "µs/batch-write")
			}
			closeLog(b, l)
		})
	}
}

// noSyncFS is the real file system with fsync left out: the benchmarks
// below measure the CPU the log spends per record, not the disk.
type noSyncFS struct{ OS }

type noSyncFile struct{ File }

func (fs noSyncFS) Create(path string) (File, error) {
	f, err := fs.OS.Create(path)
	if err != nil {
		return nil, err
	}
	return noSyncFile{f}, nil
}

func (noSyncFile) Sync() error { return nil }

// BenchmarkRecordCPU is BenchmarkRecord from 32 goroutines (as many as
// ratio.sh's connections) without the fsync: encoding, queueing, the
// writer's hashing and write, and answering, per record.
func BenchmarkRecordCPU(b *testing.B) {
	l := openLog(b, b.TempDir(), Options{FS: noSyncFS{}})
	evs := make([]*Event, 64)
	for i := range evs {
		evs[i] = testEvent(i)
	}
	b.ReportAllocs()
	b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			if err := l.Record(context.Background(), evs[i%len(evs)]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	closeLog(b, l)
}

// BenchmarkEncodeEncrypt is the encoding an Encrypt's event costs on the
// request's path: its requestParameters through the allow-list, then the
// event.
func BenchmarkEncodeEncrypt(b *testing.B) {
	a := MustAllowList(reflect.TypeFor[awsproto.EncryptInput](), AuditableMembers(reflect.TypeFor[awsproto.EncryptInput](), "GrantTokens")...)
	in := &awsproto.EncryptInput{
		KeyId: ptr("arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"), Plaintext: make([]byte, 256),
		EncryptionContext: map[string]string{"tenant-id": "t-0042", "purpose": "bench"},
	}
	ev := testEvent(0)
	b.ReportAllocs()
	for b.Loop() {
		p, err := a.JSON(in)
		if err != nil {
			b.Fatal(err)
		}
		ev.RequestParameters = p
		if _, err := ev.marshal(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEventEncrypt is what an Encrypt's event costs a request from
// the moment the server begins it to the moment Record has it encoded,
// before the writer takes it: the event begun (newEvent), the caller's
// identity and the request's parameters filled in (handle, kms.invoke),
// the key named, then Record's encoding of the body and its meta.
func BenchmarkEventEncrypt(b *testing.B) {
	a := MustAllowList(reflect.TypeFor[awsproto.EncryptInput](), AuditableMembers(reflect.TypeFor[awsproto.EncryptInput](), "GrantTokens")...)
	keyARN := "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	in := &awsproto.EncryptInput{
		KeyId: ptr(keyARN), Plaintext: make([]byte, 256),
		EncryptionContext: map[string]string{"tenant-id": "acme-corp-7f3c9a", "purpose": "customer-pii/billing-address"},
	}
	caller := &identity.Caller{
		Principal: policy.Principal{
			ARN: "arn:aws:iam::111122223333:user/alice", Account: testAccount, Type: policy.PrincipalIAMUser,
			UserID: "AIDAEXAMPLEUSER00001", Username: "alice",
		},
		AccessKeyID: "AKIAEXAMPLEKEY000001",
	}
	requestID := ids.NewUUID()
	b.ReportAllocs()
	// The server keeps the event in the state it allocates per request
	// with or without audit (its answer), which grows by this much:
	// allocated once here, so B/op leaves those bytes out.
	var held CallEvent
	var n int
	for b.Loop() {
		ev := held.Init(time.Now(), SourceKMS, "Encrypt", false)
		ev.RequestID = requestID
		ev.SourceIPAddress = "192.0.2.10"
		ev.UserAgent = "aws-sdk-go-v2/1.36.3 os/linux lang/go#1.25 md/GOOS#linux md/GOARCH#amd64 api/kms#1.41.0"
		ev.UserIdentity = IdentityOf(caller)
		ev.RecipientAccountID = caller.Principal.Account
		ev.AWSRegion = "us-east-1"
		if err := ev.SetRequestParameters(a, in); err != nil {
			b.Fatal(err)
		}
		ev.AddKey(keyARN)
		n += encodeAsRecord(b, ev)
	}
	b.ReportMetric(float64(n)/float64(b.N), "B/event")
	b.ReportMetric(float64(unsafe.Sizeof(held)), "B-held")
}

// encodeAsRecord encodes ev as Record does before it takes the log's lock.
func encodeAsRecord(b *testing.B, ev *Event) int {
	bp := bodyPool.Get().(*[]byte)
	defer bodyPool.Put(bp)
	body, err := ev.appendBody((*bp)[:0])
	if err != nil {
		b.Fatal(err)
	}
	*bp = body
	_ = metaOf(ev)
	return len(body)
}
