package e2e

import (
	"testing"
)

// page is what one call of a KMS List operation answered.
type page[T any] struct {
	items     []T
	truncated bool
	next      *string // NextMarker
}

// listAll pages through a KMS List operation named op, get asking for the
// page at marker (nil: the first) with page size limit (0: the server's
// default), and returns every item. It checks what AWS's paging promises:
// no page longer than the limit, a NextMarker on every truncated page
// and on no other, an end.
func listAll[T any](t testing.TB, op string, limit int32, get func(marker *string) (page[T], error)) []T {
	t.Helper()
	var all []T
	var marker *string
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatalf("%s does not end", op)
		}
		p, err := get(marker)
		mustOK(t, err, op)
		if limit > 0 && len(p.items) > int(limit) {
			t.Errorf("%s page has %d entries, limit %d", op, len(p.items), limit)
		}
		all = append(all, p.items...)
		if !p.truncated {
			if p.next != nil {
				t.Errorf("last %s page has NextMarker %q", op, *p.next)
			}
			return all
		}
		if p.next == nil {
			t.Fatalf("truncated %s page without NextMarker", op)
		}
		marker = p.next
	}
}
