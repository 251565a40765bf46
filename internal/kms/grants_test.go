package kms

import (
	"slices"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsproto"
)

// grantIn is a CreateGrant request on key for grantee.
func grantIn(key, grantee string, ops ...string) *awsproto.CreateGrantInput {
	return &awsproto.CreateGrantInput{KeyId: &key, GranteePrincipal: &grantee, Operations: ops}
}

func subset(kv ...string) *awsproto.GrantConstraints {
	return &awsproto.GrantConstraints{EncryptionContextSubset: pairs(kv...)}
}

func equals(kv ...string) *awsproto.GrantConstraints {
	return &awsproto.GrantConstraints{EncryptionContextEquals: pairs(kv...)}
}

func pairs(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// createGrant runs CreateGrant as r and returns the grant id and token.
func (n *testNode) createGrant(t *testing.T, r *Request, in *awsproto.CreateGrantInput) (id, token string, err error) {
	t.Helper()
	out, err := n.as(t.Context(), r, "CreateGrant", in)
	if err != nil {
		return "", "", err
	}
	o := out.(*awsproto.CreateGrantOutput)
	return o.GrantId, o.GrantToken, nil
}

func (n *testNode) mustGrant(t *testing.T, r *Request, in *awsproto.CreateGrantInput) (id, token string) {
	t.Helper()
	id, token, err := n.createGrant(t, r, in)
	if err != nil {
		t.Fatalf("CreateGrant: %v", err)
	}
	return id, token
}

// TestGrantsAllow: a grant lets its grantee do its operations on its key
// within its constraints, where the policies alone do not.
func TestGrantsAllow(t *testing.T) {
	n, ids := newAuthzNode(t)
	md := n.makeKey(t, keyPolicy(rootStmt))
	n.mustGrant(t, root, func() *awsproto.CreateGrantInput {
		in := grantIn(md.KeyId, bobARN, "Encrypt", "Decrypt", "DescribeKey")
		in.Constraints = subset("dept", "IT")
		return in
	}())
	n.mustGrant(t, root, func() *awsproto.CreateGrantInput {
		in := grantIn(md.KeyId, aliceARN, "Encrypt")
		in.Constraints = equals("a", "1")
		return in
	}())
	n.mustGrant(t, root, grantIn(md.KeyId, appRole, "Encrypt"))
	describe := func(r *Request) error {
		_, err := n.as(t.Context(), r, "DescribeKey", &awsproto.DescribeKeyInput{KeyId: &md.KeyId})
		return err
	}
	gdk := func(r *Request) error {
		_, err := n.as(t.Context(), r, "GenerateDataKey", &awsproto.GenerateDataKeyInput{GenerateDataKeyWithoutPlaintextInput: awsproto.GenerateDataKeyWithoutPlaintextInput{
			KeyId: &md.KeyId, NumberOfBytes: new(int32(16)), EncryptionContext: pairs("dept", "IT")}})
		return err
	}
	tests := []struct {
		name   string
		caller *Request
		do     func() error
		code   string
	}{
		{"subset met", bob, func() error { _, err := n.encryptAs(t, bob, md.KeyId, pairs("dept", "IT", "x", "y")); return err }, ""},
		{"subset key case-insensitive", bob, func() error { _, err := n.encryptAs(t, bob, md.KeyId, pairs("DEPT", "IT")); return err }, ""},
		{"subset value case-sensitive", bob, func() error { _, err := n.encryptAs(t, bob, md.KeyId, pairs("dept", "it")); return err }, apierr.AccessDenied},
		{"subset not met", bob, func() error { _, err := n.encryptAs(t, bob, md.KeyId, pairs("dept", "HR")); return err }, apierr.AccessDenied},
		{"no context", bob, func() error { _, err := n.encryptAs(t, bob, md.KeyId, nil); return err }, apierr.AccessDenied},
		{"constraint does not apply to DescribeKey", bob, func() error { return describe(bob) }, ""},
		{"operation not granted", bob, func() error { return gdk(bob) }, apierr.AccessDenied},
		{"not the grantee", bob, func() error { return describe(alice) }, apierr.AccessDenied},
		{"equals met", alice, func() error { _, err := n.encryptAs(t, alice, md.KeyId, pairs("a", "1")); return err }, ""},
		{"equals with more pairs", alice, func() error { _, err := n.encryptAs(t, alice, md.KeyId, pairs("a", "1", "b", "2")); return err }, apierr.AccessDenied},
		{"equals key case-insensitive", alice, func() error { _, err := n.encryptAs(t, alice, md.KeyId, pairs("A", "1")); return err }, ""},
		{"equals with a case variant pair", alice, func() error { _, err := n.encryptAs(t, alice, md.KeyId, pairs("a", "1", "A", "1")); return err }, apierr.AccessDenied},
		{"grant to a role covers its sessions", appSess, func() error { _, err := n.encryptAs(t, appSess, md.KeyId, nil); return err }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, tc.do(), tc.code, "", "")
		})
	}

	// A grant never beats an explicit Deny.
	deny := keyPolicy(rootStmt, stmt("Deny", `{"AWS":"`+bobARN+`"}`, `"kms:Encrypt"`, ""))
	if _, err := n.run(t.Context(), "PutKeyPolicy", &awsproto.PutKeyPolicyInput{KeyId: &md.KeyId, Policy: &deny}); err != nil {
		t.Fatal(err)
	}
	_, err := n.encryptAs(t, bob, md.KeyId, pairs("dept", "IT"))
	wantErr(t, err, apierr.AccessDenied, denied(bobARN, "kms:Encrypt", explicitResource), md.Arn)
	ids.set(t, bobARN, iamPolicy("Deny", `"kms:DescribeKey"`, "*", ""))
	wantErr(t, describe(bob), apierr.AccessDenied, denied(bobARN, "kms:DescribeKey", explicitIdentity), md.Arn)
}

// TestGrantCreatesGrant: a grantee with CreateGrant from a grant may create
// grants only for its operations and with constraints as strict as its.
func TestGrantCreatesGrant(t *testing.T) {
	n, _ := newAuthzNode(t)
	md := n.makeKey(t, keyPolicy(rootStmt))
	parent := grantIn(md.KeyId, bobARN, "CreateGrant", "Encrypt", "Decrypt")
	parent.Constraints = subset("dept", "IT")
	n.mustGrant(t, root, parent)
	child := func(c *awsproto.GrantConstraints, ops ...string) *awsproto.CreateGrantInput {
		in := grantIn(md.KeyId, aliceARN, ops...)
		in.Constraints = c
		return in
	}
	tests := []struct {
		name string
		in   *awsproto.CreateGrantInput
		code string
	}{
		{"same constraint", child(subset("dept", "IT"), "Encrypt"), ""},
		{"stricter subset", child(subset("dept", "IT", "team", "x"), "Encrypt", "Decrypt"), ""},
		{"equals holding the subset", child(equals("dept", "IT"), "Decrypt"), ""},
		{"no constraint", child(nil, "Encrypt"), apierr.AccessDenied},
		{"looser subset", child(subset("team", "x"), "Encrypt"), apierr.AccessDenied},
		{"operation the parent lacks", child(subset("dept", "IT"), "GenerateDataKey"), apierr.AccessDenied},
		{"passing on CreateGrant", child(subset("dept", "IT"), "CreateGrant", "Encrypt"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := n.createGrant(t, bob, tc.in)
			wantErr(t, err, tc.code, "", "")
		})
	}
	// alice's grant works for her.
	if _, err := n.encryptAs(t, alice, md.KeyId, pairs("dept", "IT", "team", "x")); err != nil {
		t.Fatalf("grantee of a grant made through a grant: %v", err)
	}
}

func TestCreateGrantRules(t *testing.T) {
	n, _ := newAuthzNode(t)
	md := n.makeKey(t, "")
	rsa := n.makeKeySpec(t, "RSA_2048", "SIGN_VERIFY")
	with := func(in *awsproto.CreateGrantInput, f func(*awsproto.CreateGrantInput)) *awsproto.CreateGrantInput {
		f(in)
		return in
	}
	tests := []struct {
		name string
		in   *awsproto.CreateGrantInput
		code string
		msg  string
	}{
		{"only CreateGrant", grantIn(md.KeyId, bobARN, "CreateGrant"), apierr.Validation, "Grants must not contain only the CreateGrant operation."},
		{"unknown operation", grantIn(md.KeyId, bobARN, "Encrypt", "Fly"), apierr.Validation,
			"1 validation error detected: Value '[Encrypt, Fly]' at 'operations' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [" + strings.Join(grantOpNames, ", ") + "]]"},
		{"no operations", grantIn(md.KeyId, bobARN), apierr.Validation, ""},
		{"sign on a symmetric key", grantIn(md.KeyId, bobARN, "Encrypt", "Sign"), apierr.Validation, ""},
		{"encrypt on a signing key", grantIn(rsa.KeyId, bobARN, "Encrypt"), apierr.Validation, ""},
		{"sign on a signing key", grantIn(rsa.KeyId, bobARN, "Sign", "GetPublicKey"), "", ""},
		{"constraint on a signing key", with(grantIn(rsa.KeyId, bobARN, "Sign"), func(in *awsproto.CreateGrantInput) { in.Constraints = subset("a", "b") }), apierr.Validation, ""},
		{"bad grantee", grantIn(md.KeyId, "not a principal", "Encrypt"), apierr.Validation, ""},
		{"alias not accepted", grantIn("alias/x", bobARN, "Encrypt"), apierr.NotFound, "Invalid keyId 'alias/x'"},
		{"bad token", with(grantIn(md.KeyId, bobARN, "Encrypt"), func(in *awsproto.CreateGrantInput) { in.GrantTokens = []string{"nonsense"} }), apierr.InvalidGrantToken, "Invalid grant token."},
		{"dry run", with(grantIn(md.KeyId, bobARN, "Encrypt"), func(in *awsproto.CreateGrantInput) { in.DryRun = true }), apierr.DryRunOperation, dryRunMessage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := n.createGrant(t, root, tc.in)
			wantErr(t, err, tc.code, tc.msg, "")
		})
	}

	// A disabled key takes no grants.
	if _, err := n.run(t.Context(), "DisableKey", &awsproto.KeyIdInput{KeyId: &md.KeyId}); err != nil {
		t.Fatal(err)
	}
	_, _, err := n.createGrant(t, root, grantIn(md.KeyId, bobARN, "Encrypt"))
	wantErr(t, err, apierr.Disabled, "{key} is disabled.", md.Arn)

	// The quota.
	q := n.makeKey(t, "")
	n.maxGrants = 2
	n.mustGrant(t, root, grantIn(q.KeyId, bobARN, "Encrypt"))
	n.mustGrant(t, root, grantIn(q.KeyId, bobARN, "Decrypt"))
	_, _, err = n.createGrant(t, root, grantIn(q.KeyId, bobARN, "DescribeKey"))
	wantErr(t, err, apierr.LimitExceeded, "The number of grants for {key} exceeds the limit of 2.", q.Arn)
}

func (n *testNode) makeKeySpec(t *testing.T, spec, usage string) *awsproto.KeyMetadata {
	t.Helper()
	out, err := n.run(t.Context(), "CreateKey", &awsproto.CreateKeyInput{KeySpec: &spec, KeyUsage: &usage})
	if err != nil {
		t.Fatal(err)
	}
	return out.(*awsproto.KeyMetadataOutput).KeyMetadata
}

// TestGrantLifecycle: idempotent names, listing, retiring by the
// principals AWS allows, revoking, and the at-once effect of both.
func TestGrantLifecycle(t *testing.T) {
	n, ids := newAuthzNode(t)
	md := n.makeKey(t, keyPolicy(rootStmt))
	named := func(name string, ops ...string) *awsproto.CreateGrantInput {
		in := grantIn(md.KeyId, bobARN, ops...)
		in.Name = &name
		in.RetiringPrincipal = &aliceARN
		in.Constraints = subset("dept", "IT")
		return in
	}
	id1, tok1 := n.mustGrant(t, root, named("g1", "Encrypt", "Decrypt"))
	id2, tok2 := n.mustGrant(t, root, named("g1", "Decrypt", "Encrypt", "Encrypt"))
	if id2 != id1 || tok2 == tok1 {
		t.Errorf("retry of a named grant: id %s (first %s), token equal to the first: %v", id2, id1, tok2 == tok1)
	}
	id3, _ := n.mustGrant(t, root, named("g1", "Encrypt"))
	if id3 == id1 {
		t.Errorf("a grant of the same name with other operations reused id %s", id1)
	}
	idRetire, _ := n.mustGrant(t, root, grantIn(md.KeyId, bobARN, "RetireGrant", "DescribeKey"))

	// ListGrants: AWS's shape, filters, paging.
	list := func(in *awsproto.ListGrantsInput) *awsproto.ListGrantsOutput {
		t.Helper()
		in.KeyId = &md.KeyId
		out, err := n.run(t.Context(), "ListGrants", in)
		if err != nil {
			t.Fatalf("ListGrants: %v", err)
		}
		return out.(*awsproto.ListGrantsOutput)
	}
	all := list(&awsproto.ListGrantsInput{})
	if len(all.Grants) != 3 || all.Truncated {
		t.Fatalf("ListGrants: %d grants, truncated %v; want 3", len(all.Grants), all.Truncated)
	}
	g := all.Grants[slices.IndexFunc(all.Grants, func(g awsproto.GrantListEntry) bool { return g.GrantId == id1 })]
	if g.KeyId != md.Arn || g.Name != "g1" || g.GranteePrincipal != bobARN || g.RetiringPrincipal != aliceARN ||
		g.IssuingAccount != rootARN || strings.Join(g.Operations, ",") != "Decrypt,Encrypt" || g.CreationDate == nil ||
		g.Constraints == nil || g.Constraints.EncryptionContextSubset["dept"] != "IT" {
		t.Errorf("grant entry: %+v", g)
	}
	if got := list(&awsproto.ListGrantsInput{GrantId: &id3}); len(got.Grants) != 1 || got.Grants[0].GrantId != id3 {
		t.Errorf("filtered by GrantId: %+v", got.Grants)
	}
	if got := list(&awsproto.ListGrantsInput{GranteePrincipal: &aliceARN}); len(got.Grants) != 0 {
		t.Errorf("filtered by a grantee with no grants: %+v", got.Grants)
	}
	page := list(&awsproto.ListGrantsInput{Limit: new(int32(2))})
	if len(page.Grants) != 2 || !page.Truncated || page.NextMarker == "" {
		t.Fatalf("first page: %d grants, truncated %v", len(page.Grants), page.Truncated)
	}
	if rest := list(&awsproto.ListGrantsInput{Limit: new(int32(2)), Marker: &page.NextMarker}); len(rest.Grants) != 1 || rest.Truncated {
		t.Errorf("second page: %d grants, truncated %v", len(rest.Grants), rest.Truncated)
	}
	bad := "xyz"
	_, err := n.run(t.Context(), "ListGrants", &awsproto.ListGrantsInput{KeyId: &md.KeyId, GrantId: &bad})
	wantErr(t, err, apierr.InvalidGrantId, "", "")

	// ListRetirableGrants lists what alice may retire.
	ids.set(t, aliceARN, iamPolicy("Allow", `"kms:ListRetirableGrants"`, "*", ""))
	out, err := n.as(t.Context(), alice, "ListRetirableGrants", &awsproto.ListRetirableGrantsInput{RetiringPrincipal: &aliceARN})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.(*awsproto.ListGrantsOutput).Grants; len(got) != 2 {
		t.Errorf("ListRetirableGrants: %d grants, want 2", len(got))
	}
	_, err = n.as(t.Context(), alice, "ListRetirableGrants", &awsproto.ListRetirableGrantsInput{RetiringPrincipal: &carolARN})
	wantErr(t, err, apierr.AccessDenied, "", "")

	// The grant works, and stops working the moment it is retired.
	if _, err := n.encryptAs(t, bob, md.KeyId, pairs("dept", "IT")); err != nil {
		t.Fatalf("before retiring: %v", err)
	}
	retire := func(r *Request, in *awsproto.RetireGrantInput) error {
		_, err := n.as(t.Context(), r, "RetireGrant", in)
		return err
	}
	wantErr(t, retire(bob, &awsproto.RetireGrantInput{GrantToken: &tok1}), apierr.AccessDenied,
		denied(bobARN, "kms:RetireGrant", noIdentity("kms:RetireGrant")), md.Arn)
	wantErr(t, retire(alice, &awsproto.RetireGrantInput{GrantToken: &tok1, DryRun: true}), apierr.DryRunOperation, dryRunMessage, "")
	wantErr(t, retire(alice, &awsproto.RetireGrantInput{GrantToken: &tok1}), "", "", "")
	wantErr(t, retire(alice, &awsproto.RetireGrantInput{GrantToken: &tok1}), apierr.NotFound, "", "")
	wantErr(t, retire(alice, &awsproto.RetireGrantInput{GrantToken: new("garbage")}), apierr.InvalidGrantToken, "Invalid grant token.", "")
	// id3 still allows Encrypt; retire it through its retiring principal
	// by key and id.
	wantErr(t, retire(alice, &awsproto.RetireGrantInput{KeyId: &md.Arn, GrantId: &id3}), "", "", "")
	_, err = n.encryptAs(t, bob, md.KeyId, pairs("dept", "IT"))
	wantErr(t, err, apierr.AccessDenied, denied(bobARN, "kms:Encrypt", noIdentity("kms:Encrypt")), md.Arn)
	// The grantee may retire a grant that includes RetireGrant.
	wantErr(t, retire(bob, &awsproto.RetireGrantInput{KeyId: &md.KeyId, GrantId: &idRetire}), "", "", "")

	// The issuing account's root may retire any of its grants; another
	// principal of it needs kms:RetireGrant in an identity-based policy.
	id4, _ := n.mustGrant(t, root, grantIn(md.KeyId, bobARN, "Encrypt"))
	ids.set(t, carolARN)
	wantErr(t, retire(userOf(testAccount, "erin"), &awsproto.RetireGrantInput{KeyId: &md.KeyId, GrantId: &id4}), apierr.AccessDenied, "", "")
	erin := userOf(testAccount, "erin")
	ids.set(t, erin.Caller.Principal.ARN, iamPolicy("Allow", `"kms:RetireGrant"`, "*", ""))
	wantErr(t, retire(erin, &awsproto.RetireGrantInput{KeyId: &md.KeyId, GrantId: &id4}), "", "", "")

	// RevokeGrant needs kms:RevokeGrant on the key, and takes effect at once.
	id5, _ := n.mustGrant(t, root, grantIn(md.KeyId, bobARN, "Encrypt"))
	if _, err := n.encryptAs(t, bob, md.KeyId, nil); err != nil {
		t.Fatalf("before revoking: %v", err)
	}
	revoke := func(r *Request, id string) error {
		_, err := n.as(t.Context(), r, "RevokeGrant", &awsproto.RevokeGrantInput{KeyId: &md.KeyId, GrantId: &id})
		return err
	}
	wantErr(t, revoke(bob, id5), apierr.AccessDenied, denied(bobARN, "kms:RevokeGrant", noIdentity("kms:RevokeGrant")), md.Arn)
	wantErr(t, revoke(root, id5), "", "", "")
	_, err = n.encryptAs(t, bob, md.KeyId, nil)
	wantErr(t, err, apierr.AccessDenied, "", "")
	wantErr(t, revoke(root, id5), apierr.NotFound, "Grant ID "+id5+" not found for key {key}.", md.Arn)
	wantErr(t, revoke(root, "nope"), apierr.InvalidGrantId, "Invalid grant ID nope.", "")
}

// TestGrantTokenOnAnotherNode: a node whose cache has not heard of a grant
// counts it when the request carries its token.
func TestGrantTokenOnAnotherNode(t *testing.T) {
	a, ids := newAuthzNode(t)
	b := newNodeOn(t, a.db, a.root, a.clock)
	b.ids = ids
	md := a.makeKey(t, keyPolicy(rootStmt))
	// b reads the key's grants (none) while bob is refused.
	_, err := b.encryptAs(t, bob, md.KeyId, nil)
	wantErr(t, err, apierr.AccessDenied, "", "")
	_, token := a.mustGrant(t, root, grantIn(md.KeyId, bobARN, "Encrypt"))
	_, err = b.encryptAs(t, bob, md.KeyId, nil)
	wantErr(t, err, apierr.AccessDenied, "", "") // b's cache is behind: the documented multi-node gap
	keyID := md.KeyId
	if _, err := b.as(t.Context(), bob, "Encrypt", &awsproto.EncryptInput{KeyId: &keyID, Plaintext: []byte("x"), GrantTokens: []string{token}}); err != nil {
		t.Fatalf("with the grant token: %v", err)
	}
}

// TestECEqual: EncryptionContextEquals pairs a request's context one to one
// with the constraint's, keys compared case-insensitively and values
// exactly, so case variants that fold together are extra pairs, not the
// same pair again.
func TestECEqual(t *testing.T) {
	tests := []struct {
		name string
		a, b map[string]string
		want bool
	}{
		{"identical", pairs("a", "1", "b", "2"), pairs("a", "1", "b", "2"), true},
		{"both empty", pairs(), pairs(), true},
		{"key case differs", pairs("a", "1"), pairs("A", "1"), true},
		{"keys swap case", pairs("a", "1", "B", "2"), pairs("A", "1", "b", "2"), true},
		{"value case differs", pairs("a", "x"), pairs("a", "X"), false},
		{"a pair more", pairs("a", "1"), pairs("a", "1", "b", "2"), false},
		{"a case variant more", pairs("a", "1"), pairs("a", "1", "A", "1"), false},
		{"a case variant more, reversed", pairs("a", "1", "A", "1"), pairs("a", "1"), false},
		{"variants of different keys", pairs("x", "1", "X", "1", "y", "2"), pairs("x", "1", "y", "2", "Y", "2"), false},
		{"same variants", pairs("x", "1", "X", "1"), pairs("X", "1", "x", "1"), true},
		{"variants, values differ", pairs("x", "1", "X", "2"), pairs("x", "2", "X", "2"), false},
		{"variants, values swapped", pairs("x", "1", "X", "2"), pairs("x", "2", "X", "1"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ecEqual(tc.a, tc.b); got != tc.want {
				t.Errorf("ecEqual(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
			if got := ecEqual(tc.b, tc.a); got != tc.want {
				t.Errorf("ecEqual(%v, %v) = %v, want %v", tc.b, tc.a, got, tc.want)
			}
		})
	}
}
