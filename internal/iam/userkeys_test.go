package iam

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/awsquery"
	"github.com/trent-kms/trent/internal/ids"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/store"
)

func TestAccessKeys(t *testing.T) {
	f := newFixture(t)
	bob, bobKey := f.userWithKey("bob")
	if bob.Principal.Type != policy.PrincipalIAMUser || bob.Principal.Username != "bob" || bob.AccessKeyID != bobKey {
		t.Fatalf("bob resolves to %+v", bob)
	}

	// A user without UserName acts on its own keys.
	second := f.iam(bob, "CreateAccessKey", "").(*awsquery.CreateAccessKeyOutput).AccessKey
	if second.UserName != "bob" || second.Status != "Active" || len(second.SecretAccessKey) != 40 {
		t.Fatalf("second key %+v", second)
	}
	if len(second.AccessKeyId) != 20 || second.AccessKeyId[:4] != "AKIA" {
		t.Fatalf("key id %q", second.AccessKeyId)
	}
	if a, ok := accountOfAccessKeyID(second.AccessKeyId); !ok || a != testAccount {
		t.Fatalf("key id encodes account %q %v", a, ok)
	}
	wantErr(t, f.iamErr(bob, "CreateAccessKey", ""), "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2")
	list := f.iam(bob, "ListAccessKeys", "").(*awsquery.ListAccessKeysOutput)
	if len(list.AccessKeyMetadata) != 2 || list.AccessKeyMetadata[0].UserName != "bob" {
		t.Fatalf("ListAccessKeys %+v", list)
	}

	// The secret is stored only wrapped, bound to the key id.
	k, err := f.db.GetAccessKey(context.Background(), second.AccessKeyId)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(k.WrappedSecret, []byte(second.SecretAccessKey)) {
		t.Fatal("secret stored in the clear")
	}
	if plain, err := f.root.Unwrap(k.WrappedSecret, secretAAD(second.AccessKeyId)); err != nil || string(plain) != second.SecretAccessKey {
		t.Fatalf("unwrap: %q %v", plain, err)
	}
	secret, _, err := f.s.Resolve(context.Background(), second.AccessKeyId, "")
	if err != nil || string(secret) != second.SecretAccessKey {
		t.Fatalf("Resolve: %q %v", secret, err)
	}

	// Deactivation takes effect at once, as does reactivation.
	f.iam(f.rootCaller, "UpdateAccessKey", "UserName=bob&Status=Inactive&AccessKeyId="+second.AccessKeyId)
	if _, _, err := f.s.Resolve(context.Background(), second.AccessKeyId, ""); !errors.Is(err, ErrUnknownAccessKey) {
		t.Fatalf("inactive key resolves: %v", err)
	}
	if cred, ok := f.s.Lookup(second.AccessKeyId); ok {
		t.Fatalf("inactive key found by Lookup: %+v", cred)
	}
	list = f.iam(bob, "ListAccessKeys", "UserName=bob").(*awsquery.ListAccessKeysOutput)
	if list.AccessKeyMetadata[0].Status == list.AccessKeyMetadata[1].Status {
		t.Fatalf("statuses %+v", list.AccessKeyMetadata)
	}
	f.iam(bob, "UpdateAccessKey", "Status=Active&AccessKeyId="+second.AccessKeyId)
	if cred, ok := f.s.Lookup(second.AccessKeyId); !ok || cred.PrincipalARN != bob.Principal.ARN {
		t.Fatalf("reactivated key: %+v %v", cred, ok)
	}

	for _, tc := range []struct{ params, code, message string }{
		{"UserName=bob&Status=Bogus&AccessKeyId=" + bobKey, "ValidationError",
			"1 validation error detected: Value at 'status' failed to satisfy constraint: Member must satisfy enum value set"},
		{"UserName=nobody&Status=Active&AccessKeyId=" + bobKey, "NoSuchEntity", "The user with name nobody cannot be found."},
		{"UserName=bob&Status=Active&AccessKeyId=" + f.rootKeyID, "NoSuchEntity", "The Access Key with id " + f.rootKeyID + " cannot be found."},
		{"UserName=bob&Status=Active&AccessKeyId=AKIAAAAAAAAAAAAAAAAA", "NoSuchEntity", "The Access Key with id AKIAAAAAAAAAAAAAAAAA cannot be found."},
		{"UserName=bob&Status=Active&AccessKeyId=short", "ValidationError",
			"1 validation error detected: Value at 'accessKeyId' failed to satisfy constraint: Member must have length greater than or equal to 16"},
	} {
		wantErr(t, f.iamErr(f.rootCaller, "UpdateAccessKey", tc.params), tc.code, tc.message)
	}

	// Deleting a key ends it at once.
	f.iam(bob, "DeleteAccessKey", "AccessKeyId="+second.AccessKeyId)
	if _, _, err := f.s.Resolve(context.Background(), second.AccessKeyId, ""); !errors.Is(err, ErrUnknownAccessKey) {
		t.Fatalf("deleted key resolves: %v", err)
	}
	wantErr(t, f.iamErr(bob, "DeleteAccessKey", "AccessKeyId="+second.AccessKeyId),
		"NoSuchEntity", "The Access Key with id "+second.AccessKeyId+" cannot be found.")
}

func TestRootAccessKeys(t *testing.T) {
	f := newFixture(t)
	// The root without UserName makes a root key; it has one already.
	k := f.iam(f.rootCaller, "CreateAccessKey", "").(*awsquery.CreateAccessKeyOutput).AccessKey
	c := f.resolve(k.AccessKeyId, "")
	if !c.IsRoot() || c.Principal.ARN != RootARN(testAccount) || c.Principal.UserID != testAccount {
		t.Fatalf("root key resolves to %+v", c.Principal)
	}
	wantErr(t, f.iamErr(f.rootCaller, "CreateAccessKey", ""), "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2")
	list := f.iam(f.rootCaller, "ListAccessKeys", "").(*awsquery.ListAccessKeysOutput)
	if len(list.AccessKeyMetadata) != 2 {
		t.Fatalf("root keys %+v", list)
	}
	f.iam(f.rootCaller, "UpdateAccessKey", "Status=Inactive&AccessKeyId="+k.AccessKeyId)
	f.iam(f.rootCaller, "DeleteAccessKey", "AccessKeyId="+k.AccessKeyId)
}

func TestAccessKeyLastUsed(t *testing.T) {
	f := newFixture(t)
	_, key := f.userWithKey("u")
	out := f.iam(f.rootCaller, "GetAccessKeyLastUsed", "AccessKeyId="+key).(*awsquery.GetAccessKeyLastUsedOutput)
	if out.UserName != "u" || out.AccessKeyLastUsed.LastUsedDate != nil ||
		out.AccessKeyLastUsed.ServiceName != "N/A" || out.AccessKeyLastUsed.Region != "N/A" {
		t.Fatalf("never used: %+v", out)
	}
	at := time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)
	if err := f.db.UpdateAccessKeyLastUsed(context.Background(), []store.AccessKeyUse{{ID: key, At: at, Service: "kms", Region: "eu-west-1"}}); err != nil {
		t.Fatal(err)
	}
	out = f.iam(f.rootCaller, "GetAccessKeyLastUsed", "AccessKeyId="+key).(*awsquery.GetAccessKeyLastUsedOutput)
	if out.AccessKeyLastUsed.LastUsedDate == nil || !out.AccessKeyLastUsed.LastUsedDate.Equal(at) ||
		out.AccessKeyLastUsed.ServiceName != "kms" || out.AccessKeyLastUsed.Region != "eu-west-1" {
		t.Fatalf("used: %+v", out.AccessKeyLastUsed)
	}
	wantErr(t, f.iamErr(f.rootCaller, "GetAccessKeyLastUsed", "AccessKeyId=AKIAAAAAAAAAAAAAAAAA"),
		"NoSuchEntity", "The Access Key with id AKIAAAAAAAAAAAAAAAAA cannot be found.")
}

func TestCreateAccount(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	account, id, secret, err := f.s.CreateAccount(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if !ids.IsAccountID(account) || account == testAccount {
		t.Fatalf("account %q", account)
	}
	got, c, err := f.s.Resolve(ctx, id, "")
	if err != nil || string(got) != secret || c.Principal.Account != account || !c.IsRoot() {
		t.Fatalf("Resolve the new root: %v %+v", err, c)
	}
	if _, _, _, err := f.s.CreateAccount(ctx, account); !errors.Is(err, ErrAccountExists) {
		t.Fatalf("again: %v", err)
	}
	if _, _, _, err := f.s.CreateAccount(ctx, "12345"); err == nil {
		t.Fatal("short id accepted")
	}
	// Accounts are tenants: the new root does not see the first account's users.
	f.iam(f.rootCaller, "CreateUser", "UserName=mine")
	if n := len(f.iam(c, "ListUsers", "").(*awsquery.ListUsersOutput).Users); n != 0 {
		t.Fatalf("other account sees %d users", n)
	}
	wantErr(t, f.iamErr(c, "GetUser", "UserName=mine"), "NoSuchEntity", "The user with name mine cannot be found.")
}

// A root key made by the older Directory (trent init, the dev server) has
// no account row; the Service makes one when it first sees the key, so
// the root can manage IAM at once.
func TestDirectoryRootKeyGetsAnAccount(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id, _, err := NewDirectory(f.db, f.root).CreateAccessKey(ctx, "444455556666")
	if err != nil {
		t.Fatal(err)
	}
	c := f.resolve(id, "")
	f.iam(c, "CreateUser", "UserName=first")
	if !f.s.PrincipalExists(ctx, "arn:aws:iam::444455556666:root") {
		t.Fatal("account of an imported root key does not exist")
	}
}
