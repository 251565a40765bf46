package policy

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/trent-kms/trent/internal/apierr"
)

// fuzzSeeds is FuzzParse's seed corpus: valid policies of every shape Parse
// accepts and near-misses of each rule. TestFuzzSeedsNonEmpty guards it.
var fuzzSeeds = []string{
	defaultPolicyAWS,
	`{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}}`,
	`{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"}}]}`,
	`{"Version":"2012-10-17","Id":"x","Statement":[{"Sid":"A","Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:root","arn:aws:sts::111122223333:assumed-role/Ops/s"]},"NotAction":"kms:Describe*","NotResource":"arn:aws:kms:us-east-1:111122223333:key/k","Condition":{"Bool":{"aws:SecureTransport":false}}}]}`,
	`{"Statement":[{"Effect":"Allow","Principal":{"Service":"logs.amazonaws.com","Federated":"accounts.google.com","CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},"Action":["kms:*","*"],"Resource":["*"],"Condition":{"StringEquals":{"kms:ViaService":["a.b","c.d"]},"NumericLessThan":{"kms:RotationPeriodInDays":[1,2.5e3]},"ForAnyValue:StringLike":{"kms:EncryptionContextKeys":"a*"},"Null":{"x:y":true},"StringEqualsIfExists":{}}}]}`,
	`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"ForAllValues:StringEquals":{"kms:EncryptionContext:k":"v"}}}]}`,
	`{"Statement":[{"Effect":"Allow","Effect":"Deny","Principal":"*","Action":"*"}]}`,
	`{"Statement":[{"Condition":{"a":{"b":[[[[[[1]]]]]]}}}]}`,
	`{"Statement":[{"Effect":"allow","Principal":"arn:aws:iam::1:root","Action":"Decrypt","Resource":"key"}]}`,
	`{"Statement":[]}`,
	`{"Statement":"\u00e9\ud800\"["}`,
	`[]`,
	`{"Version":2012}`,
	`{`,
	``,
	"{\"Statement\":[{\"Sid\":\"\xff\xfe\",\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"kms:*\"}]}",
}

func TestFuzzSeedsNonEmpty(t *testing.T) {
	if len(fuzzSeeds) == 0 {
		t.Fatal("FuzzParse seed corpus is empty")
	}
	for _, doc := range awsExamplePolicies {
		if _, err := Parse(doc); err != nil {
			t.Fatalf("an AWS example seed no longer parses: %v", err)
		}
	}
}

// FuzzParse checks that Parse never panics, returns only AWS-shaped errors,
// upholds the invariants Statement documents, and that a Document it returns
// survives json.Marshal and a second parse unchanged.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	for _, s := range awsExamplePolicies {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		d, err := Parse(doc)
		if err != nil {
			e := apierr.As(err)
			if e.Code != apierr.MalformedPolicyDocument && e.Code != apierr.LimitExceeded {
				t.Fatalf("unexpected error %v", err)
			}
			if d != nil {
				t.Fatal("Parse returned both a Document and an error")
			}
			return
		}
		checkInvariants(t, d)

		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(d); err != nil {
			t.Fatal(err)
		}
		// Re-marshalling can grow a document ("Principal":"*" becomes
		// {"AWS":["*"]}), so the second parse skips the size quota.
		d2, err := parse(buf.String())
		if err != nil {
			t.Fatalf("re-marshalled document rejected: %v\ninput: %q\nre-marshalled: %s", err, doc, buf.Bytes())
		}
		if !reflect.DeepEqual(d, d2) {
			t.Fatalf("round trip changed the document:\n%+v\n%+v", d, d2)
		}
	})
}

func checkInvariants(t *testing.T, d *Document) {
	t.Helper()
	if len(d.Statements) == 0 || len(d.Statements) > maxStatements {
		t.Fatalf("%d statements", len(d.Statements))
	}
	if d.Version != "" && d.Version != Version2012 && d.Version != Version2008 {
		t.Fatalf("Version %q", d.Version)
	}
	for _, s := range d.Statements {
		if s.Effect != "Allow" && s.Effect != "Deny" {
			t.Fatalf("Effect %q", s.Effect)
		}
		if (s.Principal == nil) == (s.NotPrincipal == nil) {
			t.Fatal("not exactly one of Principal and NotPrincipal")
		}
		if s.Action != nil && s.NotAction != nil || s.Resource != nil && s.NotResource != nil {
			t.Fatal("both halves of an Action or Resource pair")
		}
		for _, p := range []map[string][]string{s.Principal, s.NotPrincipal} {
			if p != nil && len(p) == 0 {
				t.Fatal("empty principal map")
			}
			for _, v := range p {
				if len(v) == 0 {
					t.Fatal("empty principal list")
				}
			}
		}
		for _, l := range [][]string{s.Action, s.NotAction, s.Resource, s.NotResource} {
			if l != nil && len(l) == 0 {
				t.Fatal("empty non-nil list")
			}
		}
		if s.Condition != nil && len(s.Condition) == 0 {
			t.Fatal("empty non-nil Condition")
		}
		for _, keys := range s.Condition {
			for _, v := range keys {
				if len(v) == 0 {
					t.Fatal("empty condition value list")
				}
			}
		}
	}
}
