package policy

import (
	"slices"
	"testing"
)

func TestContextAdd(t *testing.T) {
	tests := []struct {
		name string
		add  func(c *Context)
		want []string
	}{
		{"one value", func(c *Context) { c.Add("kms:EncryptionContext:Dept", "IT") }, []string{"IT"}},
		{"the same value twice stays one", func(c *Context) {
			c.Add("kms:EncryptionContext:Dept", "IT")
			c.Add("kms:EncryptionContext:dept", "IT")
		}, []string{"IT"}},
		{"values folding onto one key are all kept", func(c *Context) {
			c.Add("kms:EncryptionContext:Dept", "IT")
			c.Add("kms:EncryptionContext:dept", "HR")
			c.Add("kms:EncryptionContext:DEPT", "IT")
			c.Add("kms:EncryptionContext:dEpT", "Ops")
		}, []string{"IT", "HR", "Ops"}},
		{"Set replaces an ambiguous key", func(c *Context) {
			c.Add("kms:EncryptionContext:Dept", "IT")
			c.Add("kms:EncryptionContext:dept", "HR")
			c.Set("kms:EncryptionContext:dept", "Ops")
		}, []string{"Ops"}},
		{"Add replaces a multivalued key", func(c *Context) {
			c.SetMulti("kms:EncryptionContext:dept", []string{"a", "b"})
			c.Add("kms:EncryptionContext:dept", "IT")
		}, []string{"IT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Context
			tt.add(&c)
			got, ok := c.Get("KMS:ENCRYPTIONCONTEXT:DEPT")
			if !ok || !slices.Equal(got, tt.want) {
				t.Fatalf("Get = %q, %v; want %q", got, ok, tt.want)
			}
			if len(c.entries) != 1 {
				t.Fatalf("%d entries", len(c.entries))
			}
		})
	}
}

// TestAmbiguousKey checks that a key several request values fold onto
// (Context.Add) cannot dodge a Deny or widen an Allow: a condition must
// hold for every value to make an Allow apply and for any value to make a
// Deny apply, whatever the order the values were added in.
func TestAmbiguousKey(t *testing.T) {
	const k = "kms:EncryptionContext:purpose"
	tests := []struct {
		name      string
		cond      string
		vals      []string // added in this order and reversed
		allow     bool     // whether an Allow statement with cond applies
		denyMatch bool     // whether a Deny statement with cond applies
	}{
		{"StringEquals, one value", `{"StringEquals":{"` + k + `":"admin"}}`, []string{"admin"}, true, true},
		{"StringEquals, a repeated value", `{"StringEquals":{"` + k + `":"admin"}}`, []string{"admin", "admin"}, true, true},
		{"StringEquals, one of two matches", `{"StringEquals":{"` + k + `":"admin"}}`, []string{"admin", "x"}, false, true},
		{"StringEquals, both match some policy value", `{"StringEquals":{"` + k + `":["admin","x"]}}`, []string{"admin", "x"}, true, true},
		{"StringEquals, none matches", `{"StringEquals":{"` + k + `":"admin"}}`, []string{"x", "y"}, false, false},
		{"StringNotEquals, one of two matches", `{"StringNotEquals":{"` + k + `":"admin"}}`, []string{"admin", "x"}, false, true},
		{"StringNotEquals, none matches", `{"StringNotEquals":{"` + k + `":"admin"}}`, []string{"x", "y"}, true, true},
		{"StringLike, one of two matches", `{"StringLike":{"` + k + `":"adm*"}}`, []string{"admin", "x"}, false, true},
		{"StringEqualsIgnoreCase, one of two matches", `{"StringEqualsIgnoreCase":{"` + k + `":"ADMIN"}}`, []string{"admin", "x"}, false, true},
		{"StringEqualsIfExists, one of two matches", `{"StringEqualsIfExists":{"` + k + `":"admin"}}`, []string{"admin", "x"}, false, true},
		{"ForAnyValue:StringEquals, one of two matches", `{"ForAnyValue:StringEquals":{"` + k + `":"admin"}}`, []string{"admin", "x"}, false, true},
		{"Null false", `{"Null":{"` + k + `":"false"}}`, []string{"admin", "x"}, true, true},
		{"Null true", `{"Null":{"` + k + `":"true"}}`, []string{"admin", "x"}, false, false},
		{"NumericLessThan, one of two below", `{"NumericLessThan":{"` + k + `":"10"}}`, []string{"5", "50"}, false, true},
		// A variable naming an ambiguous key has no single value to stand
		// for, so it does not resolve, as for a multivalued key.
		{"variable, one value", `{"StringEquals":{"aws:username":"${` + k + `}"}}`, []string{"alice"}, true, true},
		{"variable, two values", `{"StringEquals":{"aws:username":"${` + k + `}"}}`, []string{"alice", "bob"}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, effect := range []string{"Allow", "Deny"} {
				want := NoMatch
				if effect == "Allow" && tt.allow {
					want = Allow
				}
				if effect == "Deny" && tt.denyMatch {
					want = Deny
				}
				c := compileKey(t, keyPolicyWith(`{"Effect":"`+effect+`","Principal":"*","Action":"kms:*","Resource":"*","Condition":`+tt.cond+`}`))
				for _, order := range [][]string{tt.vals, reversed(tt.vals)} {
					r := newRequest(alice())
					keys := []string{"kms:EncryptionContext:purpose", "kms:EncryptionContext:Purpose", "KMS:EncryptionContext:PURPOSE"}
					for i, v := range order {
						r.Context.Add(keys[i%len(keys)], v)
					}
					if got := c.Evaluate(r).Effect; got != want {
						t.Errorf("%s statement, values %q: %v, want %v", effect, order, got, want)
					}
				}
			}
		})
	}
}

func reversed(s []string) []string {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}
