package kms

import (
	"bytes"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/awsproto"
)

// benchKeyPolicy is a ten-statement key policy of the kind AWS's guides
// build up (the one internal/policy benchmarks, in this package's account
// and region): account delegation, administrators, users with an
// encryption context condition, grants for AWS resources, use through a
// service, and Denies on transport, network, deletion window and time.
var benchKeyPolicy = strings.NewReplacer("ACCT", testAccount, "REGION", testRegion).Replace(`{
  "Version": "2012-10-17",
  "Id": "bench",
  "Statement": [
    {"Sid": "EnableIAM", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::ACCT:root"}, "Action": "kms:*", "Resource": "*"},
    {"Sid": "Admins", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::ACCT:role/KeyAdmin"},
     "Action": ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"],
     "Resource": "*"},
    {"Sid": "Users", "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::ACCT:user/alice", "arn:aws:iam::ACCT:role/App"]},
     "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"], "Resource": "*",
     "Condition": {"StringEquals": {"kms:EncryptionContext:Department": ["IT", "Finance"]}, "Bool": {"aws:SecureTransport": "true"}}},
    {"Sid": "Grants", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::ACCT:role/App"},
     "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"], "Resource": "*",
     "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}},
    {"Sid": "ViaEBS", "Effect": "Allow", "Principal": {"AWS": "*"},
     "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"], "Resource": "*",
     "Condition": {"StringEquals": {"kms:CallerAccount": "ACCT", "kms:ViaService": "ec2.REGION.amazonaws.com"}}},
    {"Sid": "DenyInsecure", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    {"Sid": "DenyOutside", "Effect": "Deny", "Principal": "*", "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*"], "Resource": "*",
     "Condition": {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32"]}, "StringNotEqualsIfExists": {"kms:ViaService": "ec2.REGION.amazonaws.com"}}},
    {"Sid": "DenyShortWindow", "Effect": "Deny", "Principal": "*", "Action": "kms:ScheduleKeyDeletion", "Resource": "*",
     "Condition": {"NumericLessThan": {"kms:ScheduleKeyDeletionPendingWindowInDays": 30}}},
    {"Sid": "Temporary", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::ACCT:role/Contractor"}, "Action": "kms:Decrypt", "Resource": "*",
     "Condition": {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}, "ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": ["Project", "Department"]}}},
    {"Sid": "Apps", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["kms:Encrypt", "kms:GenerateDataKey"], "Resource": "*",
     "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::ACCT:role/app-*"}, "StringLike": {"kms:RequestAlias": "alias/app-*"}}}
  ]
}`)

// benchEncrypt sets up BenchmarkAuthorizeEncrypt's case: alice, named by
// the ten-statement key policy's "Users" statement, with two identity-based
// policies of her own (which Decide evaluates for a Deny), encrypting with
// an encryption context under a tagged key that has an alias.
func benchEncrypt(b *testing.B) (*testNode, *awsproto.EncryptInput) {
	n, ids := newAuthzNode(b)
	for _, r := range []string{"KeyAdmin", "App", "Contractor"} {
		ids.exists["arn:aws:iam::"+testAccount+":role/"+r] = true
	}
	ids.set(b, aliceARN,
		iamPolicy("Allow", `["kms:Encrypt","kms:Decrypt"]`, "arn:aws:kms:*:"+testAccount+":key/*", ""),
		iamPolicy("Deny", `"kms:*"`, "*", `{"Bool":{"aws:MultiFactorAuthPresent":"true"}}`))
	md := n.makeKey(b, benchKeyPolicy, tag("env", "prod"), tag("team", "payments"))
	alias := "alias/bench"
	if _, err := n.run(b.Context(), "CreateAlias", &awsproto.AliasInput{AliasName: &alias, TargetKeyId: &md.KeyId}); err != nil {
		b.Fatal(err)
	}
	in := &awsproto.EncryptInput{KeyId: &md.Arn, Plaintext: []byte("benchmark"), EncryptionContext: map[string]string{"Department": "IT"}}
	a := n.newAccess(alice, "kms:Encrypt")
	defer a.release()
	if err := authEncrypt(a, b.Context(), in); err != nil {
		b.Fatalf("the benchmark's request is refused: %v", err)
	}
	return n, in
}

// BenchmarkAuthorizeEncrypt measures the authorization of one Encrypt:
// resolve the key (cached), build the policy context, decide with the key
// policy and the caller's identity-based policies. Compare with
// BenchmarkEncryptRow, the whole row including the crypto.
func BenchmarkAuthorizeEncrypt(b *testing.B) {
	n, in := benchEncrypt(b)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		a := n.newAccess(alice, "kms:Encrypt")
		if err := authEncrypt(a, ctx, in); err != nil {
			b.Fatal(err)
		}
		a.release()
	}
}

// BenchmarkAuthorizeEncryptRoot is the default case: the account's root
// user and the default key policy.
func BenchmarkAuthorizeEncryptRoot(b *testing.B) {
	n, _ := newAuthzNode(b)
	md := n.makeKey(b, "")
	in := &awsproto.EncryptInput{KeyId: &md.KeyId, Plaintext: []byte("benchmark")}
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		a := n.newAccess(root, "kms:Encrypt")
		if err := authEncrypt(a, ctx, in); err != nil {
			b.Fatal(err)
		}
		a.release()
	}
}

// BenchmarkEncryptRow runs the whole Encrypt row — check, authorize,
// encrypt — on the same request, to put the authorization's share in
// proportion.
func BenchmarkEncryptRow(b *testing.B) {
	n, in := benchEncrypt(b)
	op, _ := Lookup("Encrypt")
	ctx := b.Context()
	pt := in.Plaintext
	b.ReportAllocs()
	for b.Loop() {
		in.Plaintext = bytes.Clone(pt) // Encrypt wipes its input
		if _, err := op.invoke(ctx, n.Service, alice, in); err != nil {
			b.Fatal(err)
		}
	}
}
