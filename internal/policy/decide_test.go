package policy

import (
	"testing"
)

func TestDecide(t *testing.T) {
	const otherKey = "arn:aws:kms:us-east-1:444455556666:key/0987dcba-09fe-87dc-65ba-ab0987654321"
	var (
		defaultKP    = Default(acct)
		otherDefault = Default(other)
		namesAlice   = keyPolicyWith(allowPrincipal(`{"AWS":"arn:aws:iam::111122223333:user/alice"}`))
		namesRole    = keyPolicyWith(allowPrincipal(`{"AWS":"arn:aws:iam::111122223333:role/ops/Admin"}`))
		namesSession = keyPolicyWith(allowPrincipal(`{"AWS":"arn:aws:sts::111122223333:assumed-role/Admin/alice-session"}`))
		trustsNobody = keyPolicyWith(allowPrincipal(`{"AWS":"arn:aws:iam::111122223333:user/carol"}`))
		denyEncrypt  = keyPolicyWith(allowPrincipal(`"*"`), `{"Sid":"NoEncrypt","Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*"}`)
		// The key in account 444455556666 trusts account 111122223333 too.
		crossTrust = keyPolicyWith(allowPrincipal(`{"AWS":["arn:aws:iam::444455556666:root","arn:aws:iam::111122223333:root"]}`))
		crossNames = keyPolicyWith(allowPrincipal(`{"AWS":["arn:aws:iam::444455556666:root","arn:aws:iam::111122223333:user/alice"]}`))

		allowKMS     = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`
		allowDecrypt = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}]}`
		denyKMS      = `{"Version":"2012-10-17","Statement":[{"Sid":"NoKMS","Effect":"Deny","Action":"kms:*","Resource":"*"}]}`
		allowIAM     = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}`
	)
	tests := []struct {
		name     string
		key      string // key policy; "" for DecideIdentity
		identity []string
		boundary string
		session  []string
		grant    bool
		p        Principal
		action   string // "" means kms:Encrypt
		resource string // "" means keyARN (Decide) or "" (DecideIdentity)
		want     Reason
		policy   int // for reasons with a statement in Identity or Session
	}{
		{name: "default policy needs IAM", key: defaultKP, p: alice(), want: NoIdentityAllow},
		{name: "default policy and IAM allow", key: defaultKP, identity: []string{allowKMS}, p: alice(), want: AllowedByIdentity},
		{name: "IAM allows another action", key: defaultKP, identity: []string{allowDecrypt}, p: alice(), want: NoIdentityAllow},
		{name: "second identity policy allows", key: defaultKP, identity: []string{allowDecrypt, allowKMS}, p: alice(), want: AllowedByIdentity, policy: 1},
		{name: "key policy names the user", key: namesAlice, p: alice(), want: AllowedByResource},
		{name: "key policy trusts nobody", key: trustsNobody, identity: []string{allowKMS}, p: alice(), want: NoResourceAllow},
		{name: "explicit deny in key policy", key: denyEncrypt, identity: []string{allowKMS}, p: alice(), want: DeniedByResource},
		{name: "explicit deny in IAM beats a direct allow", key: namesAlice, identity: []string{allowKMS, denyKMS}, p: alice(), want: DeniedByIdentity, policy: 1},
		{name: "boundary does not allow", key: defaultKP, identity: []string{allowKMS}, boundary: allowIAM, p: alice(), want: NoBoundaryAllow},
		{name: "boundary allows", key: defaultKP, identity: []string{allowKMS}, boundary: allowKMS, p: alice(), want: AllowedByIdentity},
		{name: "boundary denies", key: namesAlice, identity: []string{allowKMS}, boundary: denyKMS, p: alice(), want: DeniedByBoundary},
		{name: "boundary does not limit a key policy naming the user", key: namesAlice, boundary: allowIAM, p: alice(), want: AllowedByResource},
		{name: "key policy names the role", key: namesRole, p: adminSession(), want: AllowedByResource},
		{name: "key policy names the role, boundary limits", key: namesRole, boundary: allowIAM, p: adminSession(), want: NoBoundaryAllow},
		{name: "key policy names the role, session policy limits", key: namesRole, session: []string{allowIAM}, p: adminSession(), want: NoSessionAllow},
		{name: "key policy names the role, session policy allows", key: namesRole, session: []string{allowIAM, allowKMS}, p: adminSession(), want: AllowedByResource},
		{name: "key policy names the session, session policy does not limit", key: namesSession, session: []string{allowIAM}, boundary: allowIAM, p: adminSession(), want: AllowedByResource},
		{name: "session through the account needs the session policy", key: defaultKP, identity: []string{allowKMS}, session: []string{allowIAM}, p: adminSession(), want: NoSessionAllow},
		{name: "session through the account", key: defaultKP, identity: []string{allowKMS}, session: []string{allowKMS}, p: adminSession(), want: AllowedByIdentity},
		{name: "session policy denies", key: namesSession, session: []string{allowKMS, denyKMS}, p: adminSession(), want: DeniedBySession, policy: 1},
		{name: "star principal allows directly", key: keyPolicyWith(allowPrincipal(`"*"`)), p: alice(), want: AllowedByResource},
		{name: "root user through the account", key: defaultKP, p: rootOf(acct), want: AllowedAsRoot},
		{name: "root user locked out by the key policy", key: namesAlice, p: rootOf(acct), want: NoResourceAllow},
		{name: "cross-account with IAM allow", key: crossTrust, identity: []string{allowKMS}, p: alice(), resource: otherKey, want: AllowedByIdentity},
		{name: "cross-account without IAM allow", key: crossTrust, p: alice(), resource: otherKey, want: NoIdentityAllow},
		{name: "cross-account naming the user still needs IAM", key: crossNames, p: alice(), resource: otherKey, want: NoIdentityAllow},
		{name: "cross-account naming the user with IAM", key: crossNames, identity: []string{allowKMS}, p: alice(), resource: otherKey, want: AllowedByIdentity},
		{name: "cross-account not trusted", key: otherDefault, identity: []string{allowKMS}, p: alice(), resource: otherKey, want: NoResourceAllow},
		{name: "cross-account root user", key: crossTrust, p: rootOf(acct), resource: otherKey, want: AllowedAsRoot},
		{name: "cross-account boundary", key: crossTrust, identity: []string{allowKMS}, boundary: allowIAM, p: alice(), resource: otherKey, want: NoBoundaryAllow},
		{name: "grant allows", key: trustsNobody, grant: true, p: alice(), want: AllowedByGrant},
		{name: "grant allows without IAM", key: defaultKP, grant: true, p: alice(), want: AllowedByGrant},
		{name: "grant does not beat a deny", key: denyEncrypt, grant: true, p: alice(), want: DeniedByResource},
		{name: "grant does not beat an IAM deny", key: defaultKP, identity: []string{denyKMS}, grant: true, p: alice(), want: DeniedByIdentity},

		// Identity-only decisions.
		{name: "identity: no policy", identity: nil, p: alice(), action: "kms:CreateKey", want: NoIdentityAllow},
		{name: "identity: allowed", identity: []string{allowKMS}, p: alice(), action: "kms:CreateKey", want: AllowedByIdentity},
		{name: "identity: denied", identity: []string{allowKMS, denyKMS}, p: alice(), action: "kms:ListKeys", want: DeniedByIdentity, policy: 1},
		{name: "identity: boundary", identity: []string{allowKMS}, boundary: allowIAM, p: alice(), action: "kms:ListKeys", want: NoBoundaryAllow},
		{name: "identity: boundary denies", identity: []string{allowKMS}, boundary: denyKMS, p: alice(), action: "kms:ListKeys", want: DeniedByBoundary},
		{name: "identity: session policy", identity: []string{allowKMS}, session: []string{allowIAM}, p: adminSession(), action: "kms:ListKeys", want: NoSessionAllow},
		{name: "identity: session policy denies", identity: []string{allowKMS}, session: []string{denyKMS}, p: adminSession(), action: "kms:ListKeys", want: DeniedBySession},
		{name: "identity: root user", p: rootOf(acct), action: "iam:CreateUser", resource: "arn:aws:iam::111122223333:user/dave", want: AllowedAsRoot},
		{name: "identity: root user of another account", p: rootOf(other), action: "iam:CreateUser", resource: "arn:aws:iam::111122223333:user/dave", want: NoIdentityAllow},
		{name: "identity: root user with no resource", p: rootOf(acct), action: "kms:ListKeys", want: AllowedAsRoot},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ps Policies
			for _, doc := range tt.identity {
				ps.Identity = append(ps.Identity, compileIdentity(t, doc))
			}
			if tt.boundary != "" {
				ps.Boundary = compileIdentity(t, tt.boundary)
			}
			for _, doc := range tt.session {
				ps.Session = append(ps.Session, compileIdentity(t, doc))
			}
			ps.GrantAllows = tt.grant
			req := newRequest(tt.p)
			if tt.action != "" {
				req.Action = tt.action
			}
			var d Decision
			if tt.key != "" {
				ps.Resource = compileKey(t, tt.key)
				if tt.resource != "" {
					req.Resource = tt.resource
				}
				d = Decide(&ps, req)
			} else {
				req.Resource = tt.resource
				d = DecideIdentity(&ps, req)
			}
			if d.Reason != tt.want {
				t.Fatalf("Reason = %v, want %v (%+v)", d.Reason, tt.want, d)
			}
			allowed := tt.want <= AllowedAsRoot
			if d.Allowed != allowed {
				t.Fatalf("Allowed = %v with reason %v", d.Allowed, d.Reason)
			}
			switch tt.want {
			case AllowedByIdentity, DeniedByIdentity, DeniedBySession:
				if d.Policy != tt.policy || d.Statement.Effect == NoMatch {
					t.Fatalf("Policy = %d, Statement = %+v; want policy %d", d.Policy, d.Statement, tt.policy)
				}
			case AllowedByResource, DeniedByResource, DeniedByBoundary:
				if d.Policy != -1 || d.Statement.Effect == NoMatch {
					t.Fatalf("Policy = %d, Statement = %+v", d.Policy, d.Statement)
				}
			default:
				if d.Policy != -1 {
					t.Fatalf("Policy = %d", d.Policy)
				}
			}
		})
	}
}

func TestDecisionMessage(t *testing.T) {
	const (
		user = "arn:aws:iam::111122223333:user/bob"
		act  = "kms:Decrypt"
	)
	tests := []struct {
		r        Reason
		resource string
		want     string
	}{
		{NoIdentityAllow, keyARN, "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: kms:Decrypt on resource: " + keyARN + " because no identity-based policy allows the kms:Decrypt action"},
		{NoResourceAllow, keyARN, "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: kms:Decrypt on resource: " + keyARN + " because no resource-based policy allows the kms:Decrypt action"},
		{NoBoundaryAllow, keyARN, "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: kms:Decrypt on resource: " + keyARN + " because no permissions boundary allows the kms:Decrypt action"},
		{NoSessionAllow, keyARN, "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: kms:Decrypt on resource: " + keyARN + " because no session policy allows the kms:Decrypt action"},
		{DeniedByResource, keyARN, "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: kms:Decrypt on resource: " + keyARN + " with an explicit deny in a resource-based policy"},
		{DeniedByIdentity, keyARN, "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: kms:Decrypt on resource: " + keyARN + " with an explicit deny in an identity-based policy"},
		{DeniedByBoundary, keyARN, "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: kms:Decrypt on resource: " + keyARN + " with an explicit deny in a permissions boundary"},
		{DeniedBySession, keyARN, "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: kms:Decrypt on resource: " + keyARN + " with an explicit deny in a session policy"},
		{NoIdentityAllow, "", "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: kms:Decrypt because no identity-based policy allows the kms:Decrypt action"},
	}
	for _, tt := range tests {
		t.Run(tt.r.String(), func(t *testing.T) {
			if got := (Decision{Reason: tt.r}).Message(user, act, tt.resource); got != tt.want {
				t.Fatalf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
	if got := (Decision{Allowed: true, Reason: AllowedByGrant}).Message(user, act, keyARN); got != "" {
		t.Fatalf("allowed decision has message %q", got)
	}
	if Reason(0).String() != "Reason(0)" || Reason(200).String() != "Reason(200)" {
		t.Fatal("unknown Reason prints oddly")
	}
}
