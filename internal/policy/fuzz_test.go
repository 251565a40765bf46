package policy

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
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

// FuzzParseIdentity checks ParseIdentity as FuzzParse checks Parse: no
// panic, only IAM's error code, the identity-policy invariants, a stable
// round trip through json.Marshal, and a Document that compiles.
func FuzzParseIdentity(f *testing.F) {
	for _, s := range identitySeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		d, err := ParseIdentity(doc)
		if err != nil {
			if e := apierr.As(err); e.Code != apierr.IAMMalformedPolicyDocument {
				t.Fatalf("unexpected error %v", err)
			}
			if d != nil {
				t.Fatal("ParseIdentity returned both a Document and an error")
			}
			return
		}
		seen := map[string]bool{}
		for _, s := range d.Statements {
			if s.Principal != nil || s.NotPrincipal != nil {
				t.Fatal("identity statement with a principal")
			}
			if s.Action == nil && s.NotAction == nil || s.Resource == nil && s.NotResource == nil {
				t.Fatal("identity statement without actions or resources")
			}
			if !isAlnumString(s.Sid) || s.Sid != "" && seen[s.Sid] {
				t.Fatalf("Sid %q", s.Sid)
			}
			seen[s.Sid] = true
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(d); err != nil {
			t.Fatal(err)
		}
		d2, err := ParseIdentity(buf.String())
		if err != nil {
			t.Fatalf("re-marshalled document rejected: %v\ninput: %q\nre-marshalled: %s", err, doc, buf.Bytes())
		}
		if !reflect.DeepEqual(d, d2) {
			t.Fatalf("round trip changed the document:\n%+v\n%+v", d, d2)
		}
		if _, err := Compile(d); err != nil {
			t.Fatalf("a parsed document does not compile: %v", err)
		}
	})
}

func identitySeeds() []string {
	seeds := append(append([]string{}, identityExamplePolicies...), fuzzSeeds...)
	return append(seeds,
		`{"Version":"2012-10-17","Statement":[{"Sid":"a-b","Effect":"Allow","Action":"kms:*","Resource":"*"}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"Decrypt","Resource":"key"}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}`,
	)
}

// evalSeeds are FuzzEvaluate's policies: key policies, identity policies
// and condition-heavy documents.
func evalSeeds() []string {
	seeds := append([]string{benchKeyPolicy, Default("111122223333")}, awsExamplePolicies...)
	seeds = append(seeds, identityExamplePolicies...)
	return append(seeds,
		identityWith(Version2012, `{"StringLike":{"s3:prefix":"home/${aws:username}/${*}*"},"ForAllValues:StringNotLike":{"aws:TagKeys":"key1*"},"NumericLessThanIfExists":{"x:n":"1e3"}}`),
		identityWith(Version2012, `{"DateLessThan":{"aws:CurrentTime":"2030"},"IpAddress":{"aws:SourceIp":["10.0.0.0/8","::/0"]},"BinaryEquals":{"x:b":"AAE="},"Null":{"x:y":"true"}}`),
		identityWith(Version2012, `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::${aws:PrincipalAccount}:role/*"},"StringNotEqualsIgnoreCase":{"x:y":["${x:z, 'd'}","${$}"]}}`),
		`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:user/alice","111122223333"]},"NotAction":"kms:Describe*","NotResource":"arn:aws:kms:*:111122223333:key/${aws:username}"}]}`,
	)
}

func TestEvalFuzzSeedsNonEmpty(t *testing.T) {
	compiled := 0
	for _, doc := range evalSeeds() {
		d, err := Parse(doc)
		if err != nil {
			d, err = ParseIdentity(doc)
		}
		if err == nil {
			if _, err := Compile(d); err != nil {
				t.Fatalf("seed does not compile: %v", err)
			}
			compiled++
		}
	}
	if compiled < 10 {
		t.Fatalf("only %d FuzzEvaluate seeds parse", compiled)
	}
	if len(identitySeeds()) == 0 {
		t.Fatal("FuzzParseIdentity seed corpus is empty")
	}
}

// FuzzEvaluate parses a fuzzed policy (as a key policy, else as an
// identity policy), evaluates it against a fuzzed request and decides with
// it in every role: no panic, and the same answer every time.
func FuzzEvaluate(f *testing.F) {
	for i, doc := range evalSeeds() {
		f.Add(doc, "kms:Encrypt", keyARN, "kms:EncryptionContext:Department", "IT", uint8(i))
		f.Add(doc, "iam:GetUser", "arn:aws:iam::111122223333:user/alice", "aws:SourceIp", "10.1.2.3", uint8(i+1))
	}
	f.Fuzz(func(t *testing.T, doc, action, resource, key, value string, who uint8) {
		d, err := Parse(doc)
		if err != nil {
			if d, err = ParseIdentity(doc); err != nil {
				return
			}
		}
		c, err := Compile(d)
		if err != nil {
			t.Fatalf("a parsed document does not compile: %v", err)
		}
		principals := []Principal{alice(), adminSession(), rootOf(acct), userOf(other, "bob"), {}}
		req := &Request{Principal: principals[int(who)%len(principals)], Action: action, Resource: resource}
		if who&8 == 0 {
			req.Context.Time = reqTime
		}
		req.Context.Set(key, value)
		req.Context.SetMulti(key+"s", strings.Split(value, ","))
		req.Context.SetMulti("aws:TagKeys", nil)

		first := c.Evaluate(req)
		if again := c.Evaluate(req); again != first {
			t.Fatalf("Evaluate is not deterministic: %+v then %+v", first, again)
		}
		if first.Effect == NoMatch && first.Statement != -1 || first.Effect != NoMatch && (first.Statement < 0 || first.Statement >= len(d.Statements) || d.Statements[first.Statement].Sid != first.Sid) {
			t.Fatalf("inconsistent result %+v", first)
		}
		ps := Policies{Resource: c, Identity: []*Compiled{c}, Boundary: c, Session: []*Compiled{c}, GrantAllows: who&16 != 0}
		d1, d2 := Decide(&ps, req), Decide(&ps, req)
		if d1 != d2 {
			t.Fatalf("Decide is not deterministic: %+v then %+v", d1, d2)
		}
		if i1, i2 := DecideIdentity(&ps, req), DecideIdentity(&ps, req); i1 != i2 {
			t.Fatalf("DecideIdentity is not deterministic: %+v then %+v", i1, i2)
		}
		if d1.Allowed != (d1.Message("p", action, resource) == "") {
			t.Fatalf("Message disagrees with Allowed: %+v", d1)
		}
	})
}
