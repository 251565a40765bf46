package iam

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsquery"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/seal"
	"github.com/trent-kms/trent/internal/sigv4"
)

func TestResolve(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	dev, devKey := f.userWithKey("dev")
	f.iam(f.rootCaller, "TagUser", "UserName=dev&Tags.member.1.Key=Dept&Tags.member.1.Value=IT")
	f.iam(f.rootCaller, "CreateRole", "RoleName=r&AssumeRolePolicyDocument="+q(trust(testAccount, `"sts:AssumeRole"`, "")))
	role := "RoleArn=" + q("arn:aws:iam::"+testAccount+":role/r") + "&RoleSessionName=sess"
	creds := f.sts(dev, "AssumeRole", role).(*awsquery.AssumeRoleOutput).Credentials
	other := f.sts(dev, "AssumeRole", role).(*awsquery.AssumeRoleOutput).Credentials
	f.iam(f.rootCaller, "CreateUser", "UserName=idle")
	idleKey := f.iam(f.rootCaller, "CreateAccessKey", "UserName=idle").(*awsquery.CreateAccessKeyOutput).AccessKey.AccessKeyId
	f.iam(f.rootCaller, "UpdateAccessKey", "UserName=idle&Status=Inactive&AccessKeyId="+idleKey)

	tampered := []byte(creds.SessionToken)
	tampered[len(tampered)/2] ^= 0x01
	if tampered[len(tampered)/2] == '=' {
		tampered[len(tampered)/2] = 'A'
	}
	otherRoot, err := seal.GenerateRootKey()
	if err != nil {
		t.Fatal(err)
	}
	foreignKey, _ := seal.NewRootKey(otherRoot)
	foreign, err := sealSession(foreignKey, &session{AccessKeyID: creds.AccessKeyId, Secret: "x", Account: testAccount,
		Type: policy.PrincipalRoot, Issued: 1, Expires: 4e9})
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, id, token string
		want            error
		arn             string
	}{
		{"root", f.rootKeyID, "", nil, RootARN(testAccount)},
		{"user", devKey, "", nil, dev.Principal.ARN},
		{"inactive", idleKey, "", ErrUnknownAccessKey, ""},
		{"unknown", "AKIAAAAAAAAAAAAAAAAA", "", ErrUnknownAccessKey, ""},
		{"not an id", "AKIA/../../x", "", ErrUnknownAccessKey, ""},
		{"session", creds.AccessKeyId, creds.SessionToken, nil, "arn:aws:sts::" + testAccount + ":assumed-role/r/sess"},
		{"session without token", creds.AccessKeyId, "", ErrUnknownAccessKey, ""},
		{"token of another key", other.AccessKeyId, creds.SessionToken, ErrInvalidToken, ""},
		{"tampered token", creds.AccessKeyId, string(tampered), ErrInvalidToken, ""},
		{"another root key", creds.AccessKeyId, foreign, ErrInvalidToken, ""},
		{"not base64", creds.AccessKeyId, "!!!!", ErrInvalidToken, ""},
		{"too long", creds.AccessKeyId, strings.Repeat("A", maxSessionTokenLength+4), ErrInvalidToken, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secret, c, err := f.s.Resolve(ctx, tc.id, tc.token)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if tc.want != nil {
				return
			}
			if len(secret) == 0 || c.Principal.ARN != tc.arn || c.AccessKeyID != tc.id {
				t.Fatalf("caller %+v", c)
			}
		})
	}
	if v, ok := dev.Tag("dept"); ok {
		t.Fatalf("tag %q resolved before it was added", v)
	}
	if v, _ := f.resolve(devKey, "").Tag("dept"); v != "IT" {
		t.Fatal("user tags are not principal tags")
	}

	// Expiry: the session works until its expiration, and not after.
	f.clock.Advance(time.Hour - time.Second)
	f.resolve(creds.AccessKeyId, creds.SessionToken)
	f.clock.Advance(time.Second)
	if _, _, err := f.s.Resolve(ctx, creds.AccessKeyId, creds.SessionToken); !errors.Is(err, ErrExpiredToken) {
		t.Fatalf("expired: %v", err)
	}
	if _, err := f.s.LookupSession(creds.AccessKeyId, creds.SessionToken); !errors.Is(err, sigv4.ErrExpiredToken) {
		t.Fatalf("LookupSession of an expired session: %v", err)
	}
	if cred, ok := f.s.Lookup(devKey); !ok || cred.Caller == nil || cred.Caller.Principal.Username != "dev" {
		t.Fatalf("Lookup: %+v %v", cred, ok)
	}
	if e := AuthError("sts", ErrExpiredToken); e.Code != "ExpiredToken" || e.Message != MsgExpiredToken {
		t.Fatalf("AuthError sts: %+v", e)
	}
	if e := AuthError("kms", ErrInvalidToken); e.Code != apierr.UnrecognizedClient || e.Message != MsgInvalidToken {
		t.Fatalf("AuthError kms: %+v", e)
	}
}

func TestResolveDeletedRole(t *testing.T) {
	f := newFixture(t)
	dev, _ := f.userWithKey("dev")
	f.iam(f.rootCaller, "CreateRole", "RoleName=r&AssumeRolePolicyDocument="+q(trust(testAccount, `"sts:AssumeRole"`, "")))
	creds := f.sts(dev, "AssumeRole", "RoleArn="+q("arn:aws:iam::"+testAccount+":role/r")+"&RoleSessionName=sess").(*awsquery.AssumeRoleOutput).Credentials
	f.resolve(creds.AccessKeyId, creds.SessionToken)
	if !f.s.PrincipalExists(context.Background(), "arn:aws:sts::"+testAccount+":assumed-role/r/sess") {
		t.Fatal("session ARN of an existing role does not exist")
	}
	f.iam(f.rootCaller, "DeleteRole", "RoleName=r")
	if _, _, err := f.s.Resolve(context.Background(), creds.AccessKeyId, creds.SessionToken); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("session of a deleted role: %v", err)
	}
	// A role of the same name made again is another role: old sessions stay dead.
	f.iam(f.rootCaller, "CreateRole", "RoleName=r&AssumeRolePolicyDocument="+q(trust(testAccount, `"sts:AssumeRole"`, "")))
	if _, _, err := f.s.Resolve(context.Background(), creds.AccessKeyId, creds.SessionToken); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("session of a replaced role: %v", err)
	}
}

func TestPrincipalPoliciesInvalidation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	dev, _ := f.userWithKey("dev")
	decide := func(action string) policy.Decision {
		t.Helper()
		pp, err := f.s.PrincipalPolicies(ctx, dev)
		if err != nil {
			t.Fatal(err)
		}
		pols := pp.Policies()
		return policy.DecideIdentity(&pols, &policy.Request{Principal: dev.Principal, Action: action, Resource: "*"})
	}
	steps := []struct {
		name, action, params string
		encrypt, decrypt     bool
	}{
		{"nothing", "", "", false, false},
		{"inline", "PutUserPolicy", "UserName=dev&PolicyName=enc&PolicyDocument=" + q(policyDoc("kms:Encrypt")), true, false},
		{"attached", "AttachUserPolicy", "UserName=dev&PolicyArn=arn:aws:iam::aws:policy/AWSKeyManagementServicePowerUser", true, false},
		{"group", "AddUserToGroup", "GroupName=decrypters&UserName=dev", true, true},
		{"inline deleted", "DeleteUserPolicy", "UserName=dev&PolicyName=enc", false, true},
		{"group policy replaced", "PutGroupPolicy", "GroupName=decrypters&PolicyName=p&PolicyDocument=" + q(policyDoc("kms:Encrypt")), true, false},
		{"boundary", "PutUserPermissionsBoundary", "UserName=dev&PermissionsBoundary=" + q("arn:aws:iam::"+testAccount+":policy/onlydecrypt"), false, false},
		{"boundary deleted", "DeleteUserPermissionsBoundary", "UserName=dev", true, false},
		{"left group", "RemoveUserFromGroup", "GroupName=decrypters&UserName=dev", false, false},
	}
	f.iam(f.rootCaller, "CreateGroup", "GroupName=decrypters")
	f.iam(f.rootCaller, "PutGroupPolicy", "GroupName=decrypters&PolicyName=p&PolicyDocument="+q(policyDoc("kms:Decrypt")))
	f.iam(f.rootCaller, "CreatePolicy", "PolicyName=onlydecrypt&PolicyDocument="+q(policyDoc("kms:Decrypt")))
	for _, st := range steps {
		if st.action != "" {
			f.iam(f.rootCaller, st.action, st.params)
		}
		if got := decide("kms:Encrypt").Allowed; got != st.encrypt {
			t.Errorf("after %s: Encrypt allowed %v", st.name, got)
		}
		if got := decide("kms:Decrypt").Allowed; got != st.decrypt {
			t.Errorf("after %s: Decrypt allowed %v", st.name, got)
		}
		// The power-user policy allows kms:DescribeKey while it is attached.
		if got := decide("kms:DescribeKey").Allowed; got != (st.name != "nothing" && st.name != "inline" && st.name != "boundary") {
			t.Errorf("after %s: DescribeKey allowed %v", st.name, got)
		}
	}

	// Sources say where each policy came from.
	f.iam(f.rootCaller, "AddUserToGroup", "GroupName=decrypters&UserName=dev")
	pp, err := f.s.PrincipalPolicies(ctx, dev)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range pp.Sources {
		names = append(names, s.Name+"@"+s.Owner[strings.LastIndexByte(s.Owner, ':')+1:])
	}
	if got := strings.Join(names, ","); got != "AWSKeyManagementServicePowerUser@user/dev,p@group/decrypters" {
		t.Fatalf("sources %s", got)
	}
	// Cached: a second call returns the same value while nothing changes.
	again, _ := f.s.PrincipalPolicies(ctx, dev)
	if again != pp {
		t.Fatal("PrincipalPolicies not cached")
	}
	root, _ := f.s.PrincipalPolicies(ctx, f.rootCaller)
	if len(root.Identity) != 0 || root.Boundary != nil {
		t.Fatalf("root policies %+v", root)
	}
}

func TestPrincipalExists(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.iam(f.rootCaller, "CreateUser", "UserName=alice&Path=/eng/")
	f.iam(f.rootCaller, "CreateRole", "RoleName=r&AssumeRolePolicyDocument="+q(trustAccount))
	for _, tc := range []struct {
		principal string
		want      bool
	}{
		{"*", true},
		{testAccount, true},
		{"999999999999", false},
		{"arn:aws:iam::" + testAccount + ":root", true},
		{"arn:aws:iam::999999999999:root", false},
		{"arn:aws:iam::" + testAccount + ":user/eng/alice", true},
		{"arn:aws:iam::" + testAccount + ":user/alice", false}, // the path is part of the ARN
		{"arn:aws:iam::" + testAccount + ":user/eng/bob", false},
		{"arn:aws:iam::" + testAccount + ":role/r", true},
		{"arn:aws:iam::" + testAccount + ":role/x", false},
		{"arn:aws:sts::" + testAccount + ":assumed-role/r/any-session", true},
		{"arn:aws:sts::" + testAccount + ":assumed-role/x/any-session", false},
		{"arn:aws:iam::" + testAccount + ":group/g", false},
		{"not an arn", false},
	} {
		if got := f.s.PrincipalExists(ctx, tc.principal); got != tc.want {
			t.Errorf("%s: %v", tc.principal, got)
		}
	}
}

// Lookup after a change made by another process: Refresh notices the
// store's generation moved.
func TestRefresh(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, key := f.userWithKey("u")
	if err := f.db.SetAccessKeyActive(ctx, key, false); err != nil { // behind the Service's back
		t.Fatal(err)
	}
	if _, _, err := f.s.Resolve(ctx, key, ""); err != nil {
		t.Fatalf("cached key: %v", err)
	}
	if err := f.s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.s.Resolve(ctx, key, ""); !errors.Is(err, ErrUnknownAccessKey) {
		t.Fatalf("after Refresh: %v", err)
	}
}

// sessionTokenSeeds are the fuzz target's seeds: real tokens of every
// principal type, and near misses.
func sessionTokenSeeds(root *seal.RootKey) []string {
	var seeds []string
	for _, s := range []*session{
		{AccessKeyID: "ASIAAAAAAAAAAAAAAAAA", Secret: "secret", Account: testAccount, Type: policy.PrincipalRoot, Issued: 1, Expires: 2},
		{AccessKeyID: "ASIAAAAAAAAAAAAAAAAB", Secret: "secret", Account: testAccount, Type: policy.PrincipalIAMUser,
			UserName: "u", UserID: "AIDAAAAAAAAAAAAAAAAAA", Issued: 1, Expires: 2},
		{AccessKeyID: "ASIAAAAAAAAAAAAAAAAC", Secret: "secret", Account: testAccount, Type: policy.PrincipalAssumedRole,
			RoleARN: "arn:aws:iam::111122223333:role/r", RoleID: "AROAAAAAAAAAAAAAAAAAA", Name: "s", Issued: 1, Expires: 2,
			Policy: policyDoc("kms:*"), PolicyARNs: []string{"arn:aws:iam::aws:policy/AdministratorAccess"},
			Tags: [][2]string{{"k", "v"}}, Transitive: []string{"k"}, SourceIdentity: "me"},
	} {
		tok, err := sealSession(root, s)
		if err != nil {
			panic(err)
		}
		seeds = append(seeds, tok)
	}
	raw, _ := base64.StdEncoding.DecodeString(seeds[0])
	raw[0] = 0x02
	seeds = append(seeds, base64.StdEncoding.EncodeToString(raw), "", "AA==", "!", seeds[1][:len(seeds[1])/2])
	return seeds
}

func fuzzRootKey() *seal.RootKey {
	k, err := seal.NewRootKey([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		panic(err)
	}
	return k
}

func TestSessionTokenSeeds(t *testing.T) {
	root := fuzzRootKey()
	seeds := sessionTokenSeeds(root)
	if len(seeds) < 5 {
		t.Fatalf("only %d seeds", len(seeds))
	}
	valid := 0
	for _, s := range seeds {
		if _, err := openSessionToken(root, s); err == nil {
			valid++
		}
	}
	if valid != 3 {
		t.Fatalf("%d of the seeds open, want 3", valid)
	}
}

// FuzzSessionToken: no input makes the parser panic, and whatever it
// accepts is a session Trent could have issued, which seals back to a
// token that opens to the same session.
func FuzzSessionToken(f *testing.F) {
	root := fuzzRootKey()
	for _, s := range sessionTokenSeeds(root) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		s, err := openSessionToken(root, token)
		if err != nil {
			return
		}
		if err := s.check(); err != nil {
			t.Fatalf("accepted a session that fails its check: %v", err)
		}
		again, err := sealSession(root, s)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := openSessionToken(root, again)
		if err != nil || s2.AccessKeyID != s.AccessKeyID || s2.Expires != s.Expires {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// The callers the directory hands out are shared: a test that two
// resolutions of one key give the same value guards the hot path's
// promise of no store read.
func TestResolveIsCached(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, c1, err := f.s.Resolve(ctx, f.rootKeyID, "")
	if err != nil {
		t.Fatal(err)
	}
	_, c2, _ := f.s.Resolve(ctx, f.rootKeyID, "")
	if c1 != c2 {
		t.Fatal("second Resolve built a new caller")
	}
	f.iam(f.rootCaller, "CreateUser", "UserName=x") // any write
	_, c3, _ := f.s.Resolve(ctx, f.rootKeyID, "")
	if c3 == c1 || c3.Principal != c1.Principal {
		t.Fatal("a write did not refresh the entry, or changed it")
	}
}

// Readers on the hot path run while writes change what they read; under
// -race this checks the caches' publication.
func TestConcurrentResolveAndWrites(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	dev, key := f.userWithKey("dev")
	done := make(chan struct{})
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				if _, _, err := f.s.Resolve(ctx, key, ""); err != nil {
					errs <- err
					return
				}
				if _, err := f.s.PrincipalPolicies(ctx, dev); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range 20 {
		f.iam(f.rootCaller, "PutUserPolicy", "UserName=dev&PolicyName=p"+strconv.Itoa(i%3)+"&PolicyDocument="+q(allowAllKMS))
		f.iam(f.rootCaller, "TagUser", "UserName=dev&Tags.member.1.Key=n&Tags.member.1.Value="+strconv.Itoa(i))
	}
	close(done)
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := f.resolve(key, "").Tag("n"); v != "19" {
		t.Fatalf("tag after the writes: %q", v)
	}
}
