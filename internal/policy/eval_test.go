package policy

import (
	"strings"
	"testing"
)

// keyPolicyWith wraps key policy statements in a 2012-10-17 document.
func keyPolicyWith(stmts ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
}

func allowPrincipal(principal string) string {
	return `{"Sid":"P","Effect":"Allow","Principal":` + principal + `,"Action":"kms:*","Resource":"*"}`
}

func TestPrincipalMatching(t *testing.T) {
	other := userOf(other, "bob")
	tests := []struct {
		name      string
		principal string // the Principal element; or a whole statement when it starts with "{\"Sid"
		p         Principal
		want      Effect
		via       Via
	}{
		{"star matches a user", `"*"`, alice(), Allow, ViaPrincipal},
		{"star matches a session through its role", `"*"`, adminSession(), Allow, ViaRole},
		{"star matches another account", `"*"`, other, Allow, ViaPrincipal},
		{"AWS star matches anyone", `{"AWS":"*"}`, other, Allow, ViaPrincipal},
		{"account id matches its user", `{"AWS":"111122223333"}`, alice(), Allow, ViaAccount},
		{"account id matches its sessions", `{"AWS":"111122223333"}`, adminSession(), Allow, ViaAccount},
		{"account id does not match another account", `{"AWS":"111122223333"}`, other, NoMatch, ViaNone},
		{"root ARN matches the account", `{"AWS":"arn:aws:iam::111122223333:root"}`, alice(), Allow, ViaAccount},
		{"root ARN matches the root user", `{"AWS":"arn:aws:iam::111122223333:root"}`, rootOf(acct), Allow, ViaAccount},
		{"root ARN of another partition", `{"AWS":"arn:aws-cn:iam::111122223333:root"}`, alice(), NoMatch, ViaNone},
		{"root ARN of another account", `{"AWS":"arn:aws:iam::444455556666:root"}`, alice(), NoMatch, ViaNone},
		{"user ARN matches the user", `{"AWS":"arn:aws:iam::111122223333:user/alice"}`, alice(), Allow, ViaPrincipal},
		{"user ARN does not match another user", `{"AWS":"arn:aws:iam::111122223333:user/alice"}`, userOf(acct, "carol"), NoMatch, ViaNone},
		{"user ARN needs the path", `{"AWS":"arn:aws:iam::111122223333:user/alice"}`, Principal{ARN: "arn:aws:iam::111122223333:user/eng/alice", Account: acct, Type: PrincipalIAMUser}, NoMatch, ViaNone},
		{"role ARN matches its session", `{"AWS":"arn:aws:iam::111122223333:role/ops/Admin"}`, adminSession(), Allow, ViaRole},
		{"role ARN does not match a user", `{"AWS":"arn:aws:iam::111122223333:role/ops/Admin"}`, alice(), NoMatch, ViaNone},
		{"session ARN matches itself", `{"AWS":"arn:aws:sts::111122223333:assumed-role/Admin/alice-session"}`, adminSession(), Allow, ViaPrincipal},
		{"session ARN does not match another session", `{"AWS":"arn:aws:sts::111122223333:assumed-role/Admin/bob-session"}`, adminSession(), NoMatch, ViaNone},
		{"service principal never matches an IAM caller", `{"Service":"logs.amazonaws.com"}`, alice(), NoMatch, ViaNone},
		{"federated principal never matches an IAM caller", `{"Federated":"accounts.google.com"}`, alice(), NoMatch, ViaNone},
		{"list of principals", `{"AWS":["arn:aws:iam::444455556666:root","arn:aws:iam::111122223333:user/alice"]}`, alice(), Allow, ViaPrincipal},
		{"best match across statements", `{"Sid":"P","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"},{"Sid":"Q","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Encrypt","Resource":"*"}`, alice(), Allow, ViaPrincipal},

		// NotPrincipal with Deny: excluded only if every identity is listed.
		{"NotPrincipal deny listing only the user", `{"Sid":"P","Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:*","Resource":"*"}`, alice(), Deny, ViaNone},
		{"NotPrincipal deny listing user and account", `{"Sid":"P","Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:user/alice","arn:aws:iam::111122223333:root"]},"Action":"kms:*","Resource":"*"}`, alice(), NoMatch, ViaNone},
		{"NotPrincipal deny applies to others", `{"Sid":"P","Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:user/alice","111122223333"]},"Action":"kms:*","Resource":"*"}`, userOf(acct, "carol"), Deny, ViaNone},
		{"NotPrincipal deny session fully listed", `{"Sid":"P","Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:sts::111122223333:assumed-role/Admin/alice-session","arn:aws:iam::111122223333:role/ops/Admin","111122223333"]},"Action":"kms:*","Resource":"*"}`, adminSession(), NoMatch, ViaNone},
		{"NotPrincipal deny session without its role", `{"Sid":"P","Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:sts::111122223333:assumed-role/Admin/alice-session","111122223333"]},"Action":"kms:*","Resource":"*"}`, adminSession(), Deny, ViaNone},
		{"NotPrincipal deny root by account", `{"Sid":"P","Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}`, rootOf(acct), NoMatch, ViaNone},
		{"NotPrincipal star excludes everyone", `{"Sid":"P","Effect":"Deny","NotPrincipal":"*","Action":"kms:*","Resource":"*"}`, alice(), NoMatch, ViaNone},
		// NotPrincipal with Allow: applies only when nothing is listed.
		{"NotPrincipal allow others", `{"Sid":"P","Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"kms:*","Resource":"*"}`, alice(), Allow, ViaPrincipal},
		{"NotPrincipal allow excludes by account", `{"Sid":"P","Effect":"Allow","NotPrincipal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}`, alice(), NoMatch, ViaNone},
		{"NotPrincipal allow excludes by user", `{"Sid":"P","Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:*","Resource":"*"}`, alice(), NoMatch, ViaNone},
		{"NotPrincipal allow session", `{"Sid":"P","Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:*","Resource":"*"}`, adminSession(), Allow, ViaRole},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stmt := tt.principal
			if !strings.HasPrefix(stmt, `{"Sid"`) {
				stmt = allowPrincipal(stmt)
			}
			c := compileKey(t, keyPolicyWith(stmt))
			got := c.Evaluate(newRequest(tt.p))
			if got.Effect != tt.want || got.Via != tt.via {
				t.Fatalf("got %v via %d, want %v via %d", got.Effect, got.Via, tt.want, tt.via)
			}
		})
	}
}

func TestActionAndResourceMatching(t *testing.T) {
	st := func(action, resource string) string {
		return `{"Effect":"Allow","Action":` + action + `,"Resource":` + resource + `}`
	}
	nst := func(body string) string { return `{"Effect":"Allow",` + body + `}` }
	tests := []struct {
		name     string
		stmt     string
		action   string // "" means kms:Encrypt
		resource string // "" means keyARN
		p        Principal
		version  string // "" means 2012-10-17
		want     bool
	}{
		{name: "exact action", stmt: st(`"kms:Encrypt"`, `"*"`), want: true},
		{name: "action case-insensitive", stmt: st(`"KMS:encrypt"`, `"*"`), want: true},
		{name: "request action case-insensitive", stmt: st(`"kms:Encrypt"`, `"*"`), action: "KMS:ENCRYPT", want: true},
		{name: "other action", stmt: st(`"kms:Decrypt"`, `"*"`), want: false},
		{name: "service wildcard", stmt: st(`"kms:*"`, `"*"`), want: true},
		{name: "star action", stmt: st(`"*"`, `"*"`), action: "iam:CreateUser", want: true},
		{name: "prefix wildcard", stmt: st(`"kms:ReEncrypt*"`, `"*"`), action: "kms:ReEncryptFrom", want: true},
		{name: "wildcard does not reach another service", stmt: st(`"kms:*"`, `"*"`), action: "iam:ListUsers", want: false},
		{name: "question mark", stmt: st(`"kms:Describe?ey"`, `"*"`), action: "kms:DescribeKey", want: true},
		{name: "prefix is not enough", stmt: st(`"kms:Encrypt"`, `"*"`), action: "kms:EncryptMore", want: false},
		{name: "NotAction excludes", stmt: nst(`"NotAction":"kms:Encrypt","Resource":"*"`), want: false},
		{name: "NotAction allows others", stmt: nst(`"NotAction":["kms:Decrypt","kms:Describe*"],"Resource":"*"`), want: true},
		{name: "NotAction with wildcard", stmt: nst(`"NotAction":"kms:*"`) + "", action: "kms:Sign", want: false},

		{name: "star resource", stmt: st(`"kms:*"`, `"*"`), want: true},
		{name: "exact resource", stmt: st(`"kms:*"`, `"`+keyARN+`"`), want: true},
		{name: "resource is case-sensitive", stmt: st(`"kms:*"`, `"`+strings.Replace(keyARN, "abcd", "ABCD", 1)+`"`), want: false},
		{name: "resource wildcard key", stmt: st(`"kms:*"`, `"arn:aws:kms:*:111122223333:key/*"`), want: true},
		{name: "resource other account", stmt: st(`"kms:*"`, `"arn:aws:kms:*:444455556666:key/*"`), want: false},
		{name: "resource alias is not the key", stmt: st(`"kms:*"`, `"arn:aws:kms:us-east-1:111122223333:alias/*"`), want: false},
		{name: "resource question mark", stmt: st(`"kms:*"`, `"arn:aws:kms:us-east-?:111122223333:key/*"`), want: true},
		{name: "mid-field star stays in its field", stmt: st(`"kms:*"`, `"arn:aws:kms:us-*-1:111122223333:key/*"`), resource: "arn:aws:kms:us-east:x-1:111122223333:key/k", want: false},
		{name: "trailing star of a field crosses colons", stmt: st(`"logs:*"`, `"arn:aws:logs:us-east-1:*:log-stream:s"`), action: "logs:PutLogEvents", resource: "arn:aws:logs:us-east-1:111122223333:log-group:app:log-stream:s", want: true},
		{name: "resource field keeps its colons", stmt: st(`"logs:*"`, `"arn:aws:logs:us-east-1:111122223333:log-group:*"`), action: "logs:PutLogEvents", resource: "arn:aws:logs:us-east-1:111122223333:log-group:app:log-stream:s", want: true},
		{name: "resource list", stmt: st(`"kms:*"`, `["arn:aws:kms:us-west-2:111122223333:key/*","arn:aws:kms:us-east-1:111122223333:key/*"]`), want: true},
		{name: "NotResource excludes", stmt: nst(`"Action":"kms:*","NotResource":"arn:aws:kms:us-east-1:111122223333:key/*"`), want: false},
		{name: "NotResource allows others", stmt: nst(`"Action":"kms:*","NotResource":"arn:aws:kms:eu-west-1:111122223333:key/*"`), want: true},
		{name: "resource variable", stmt: st(`"iam:*"`, `"arn:aws:iam::111122223333:user/${aws:username}"`), action: "iam:CreateAccessKey", resource: aliceARN, want: true},
		{name: "resource variable other user", stmt: st(`"iam:*"`, `"arn:aws:iam::111122223333:user/${aws:username}"`), action: "iam:CreateAccessKey", resource: "arn:aws:iam::111122223333:user/bob", want: false},
		{name: "resource variable with wildcard", stmt: st(`"s3:*"`, `"arn:aws:s3:::bucket/home/${aws:username}/*"`), action: "s3:GetObject", resource: "arn:aws:s3:::bucket/home/alice/a.txt", want: true},
		{name: "resource variable unresolved", stmt: st(`"iam:*"`, `"arn:aws:iam::111122223333:user/${aws:username}"`), action: "iam:CreateAccessKey", resource: aliceARN, p: adminSession(), want: false},
		{name: "resource variable before the fifth colon is literal", stmt: st(`"kms:*"`, `"arn:aws:kms:${aws:RequestedRegion}:111122223333:key/*"`), want: false},
		{name: "resource variable in 2008 is literal", stmt: st(`"iam:*"`, `"arn:aws:iam::111122223333:user/${aws:username}"`), action: "iam:GetUser", resource: "arn:aws:iam::111122223333:user/${aws:username}", version: Version2008, want: true},
		{name: "NotResource with unresolved variable does not apply", stmt: nst(`"Action":"iam:*","NotResource":"arn:aws:iam::111122223333:user/${aws:username}"`), action: "iam:GetUser", resource: "arn:aws:iam::111122223333:user/bob", p: adminSession(), want: false},
		{name: "NotResource with resolved variable", stmt: nst(`"Action":"iam:*","NotResource":"arn:aws:iam::111122223333:user/${aws:username}"`), action: "iam:GetUser", resource: "arn:aws:iam::111122223333:user/bob", want: true},
		{name: "resource that is not an ARN", stmt: st(`"kms:*"`, `"arn:aws:kms:*:*:*"`), resource: "*", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.version
			if v == "" {
				v = Version2012
			}
			doc := `{"Version":"` + v + `","Statement":[` + tt.stmt + `]}`
			if !strings.Contains(tt.stmt, "Resource") {
				doc = `{"Version":"` + v + `","Statement":[` + strings.TrimSuffix(tt.stmt, "}") + `,"Resource":"*"}]}`
			}
			c := compileIdentity(t, doc)
			p := tt.p
			if p == (Principal{}) {
				p = alice()
			}
			req := newRequest(p)
			if tt.action != "" {
				req.Action = tt.action
			}
			if tt.resource != "" {
				req.Resource = tt.resource
			}
			if got := c.Evaluate(req).Effect == Allow; got != tt.want {
				t.Fatalf("allowed = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEvaluateStatements(t *testing.T) {
	t.Run("a later Deny wins", func(t *testing.T) {
		c := compileKey(t, keyPolicyWith(
			allowPrincipal(`{"AWS":"arn:aws:iam::111122223333:user/alice"}`),
			`{"Sid":"NoEncrypt","Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*"}`,
		))
		got := c.Evaluate(newRequest(alice()))
		if got != (Result{Effect: Deny, Statement: 1, Sid: "NoEncrypt"}) {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("a Deny whose condition fails", func(t *testing.T) {
		c := compileKey(t, keyPolicyWith(
			allowPrincipal(`"*"`),
			`{"Sid":"D","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`,
		))
		got := c.Evaluate(newRequest(alice(), one("aws:SecureTransport", "true")))
		if got != (Result{Effect: Allow, Statement: 0, Sid: "P", Via: ViaPrincipal}) {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("a statement without Action matches nothing", func(t *testing.T) {
		c := compileKey(t, `{"Statement":[{"Effect":"Deny","Principal":"*"},{"Effect":"Allow","Principal":"*","Action":"kms:*"}]}`)
		if got := c.Evaluate(newRequest(alice())); got.Effect != NoMatch || got.Statement != -1 {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("nil policy", func(t *testing.T) {
		var c *Compiled
		if got := c.Evaluate(newRequest(alice())); got != (Result{Statement: -1}) {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("default key policy", func(t *testing.T) {
		c := compileKey(t, Default(acct))
		got := c.Evaluate(newRequest(alice()))
		if got != (Result{Effect: Allow, Statement: 0, Sid: "Enable IAM User Permissions", Via: ViaAccount}) {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("effects print", func(t *testing.T) {
		if NoMatch.String() != "NoMatch" || Allow.String() != "Allow" || Deny.String() != "Deny" {
			t.Fatal("Effect.String")
		}
	})
}

func TestContext(t *testing.T) {
	var c Context
	c.Grow(2)
	c.Set("kms:EncryptionContext:Dept", "IT")
	c.Set("KMS:encryptioncontext:dept", "HR") // the same key: replaces
	c.SetMulti("aws:TagKeys", nil)
	if v, ok := c.Get("kms:encryptioncontext:DEPT"); !ok || len(v) != 1 || v[0] != "HR" {
		t.Fatalf("Get = %v, %v", v, ok)
	}
	if v, ok := c.Get("aws:tagkeys"); !ok || v == nil || len(v) != 0 {
		t.Fatalf("empty multivalued key: %v, %v", v, ok)
	}
	if _, ok := c.Get("aws:username"); ok {
		t.Fatal("Get derived a key")
	}
	if len(c.entries) != 2 {
		t.Fatalf("%d entries", len(c.entries))
	}
	c.Time = reqTime
	c.Reset()
	if _, ok := c.Get("aws:tagkeys"); ok || !c.Time.IsZero() || cap(c.entries) < 2 {
		t.Fatalf("Reset left %+v", c)
	}
}

func TestReferences(t *testing.T) {
	const key = "kms:resourcealiases"
	stmt := func(resource, cond string) string {
		s := `{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"` + resource + `"`
		if cond != "" {
			s += `,"Condition":` + cond
		}
		return `{"Version":"2012-10-17","Statement":[` + s + `}]}`
	}
	tests := []struct {
		name   string
		policy string
		want   bool
	}{
		{"no condition", stmt("*", ""), false},
		{"another key", stmt("*", `{"StringEquals":{"kms:CallerAccount":"111122223333"}}`), false},
		{"the key, any case", stmt("*", `{"ForAnyValue:StringLike":{"KMS:ResourceAliases":"alias/a*"}}`), true},
		{"the key under Null", stmt("*", `{"Null":{"kms:ResourceAliases":"true"}}`), true},
		{"a variable in a condition value", stmt("*", `{"StringEquals":{"aws:PrincipalTag/app":"${kms:ResourceAliases}"}}`), true},
		{"a variable in a resource", stmt("arn:aws:kms:*:*:key/${kms:ResourceAliases}", ""), true},
		{"text that only looks like it", stmt("*", `{"StringEquals":{"aws:PrincipalTag/app":"kms:ResourceAliases"}}`), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := compileKey(t, tc.policy)
			if got := c.References(key); got != tc.want {
				t.Fatalf("References = %v, want %v", got, tc.want)
			}
			ps := Policies{Identity: []*Compiled{nil, c}}
			if got := ps.References(key); got != tc.want {
				t.Fatalf("Policies{Identity}.References = %v, want %v", got, tc.want)
			}
			for name, ps := range map[string]Policies{"Resource": {Resource: c}, "Boundary": {Boundary: c}, "Session": {Session: []*Compiled{c}}} {
				if got := ps.References(key); got != tc.want {
					t.Fatalf("Policies{%s}.References = %v, want %v", name, got, tc.want)
				}
			}
		})
	}
	var none *Compiled
	if none.References(key) || (&Policies{}).References(key) {
		t.Fatal("a nil policy references a key")
	}
}
