package kms

import (
	"fmt"
	"strings"
	"testing"
)

func TestPolicyCache(t *testing.T) {
	c := policyCache{max: 3, maxDoc: 1 << 10}
	doc := func(sid string) string {
		return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":%q,"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}`, sid)
	}
	a1, err := c.get(doc("a"))
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := c.get(doc("a"))
	b, _ := c.get(doc("b"))
	switch {
	case a1 != a2:
		t.Error("the same text compiled twice")
	case a1 == b:
		t.Error("two texts share one compiled policy")
	}
	if _, err := c.get(`{"Version":"2012-10-17","Statement":[`); err == nil {
		t.Error("a broken document compiled")
	}
	if len(c.m) != 2 {
		t.Errorf("%d entries after two good documents and a broken one, want 2", len(c.m))
	}
	for i := range 10 {
		c.get(doc(fmt.Sprint("n", i)))
		if len(c.m) > c.max {
			t.Fatalf("%d entries, bound %d", len(c.m), c.max)
		}
	}
	long := doc(strings.Repeat("x", 2<<10))
	l1, err := c.get(long)
	if err != nil {
		t.Fatal(err)
	}
	if l2, _ := c.get(long); l1 == l2 {
		t.Error("a document over maxDoc was cached")
	}
}
