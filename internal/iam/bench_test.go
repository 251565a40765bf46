package iam

import (
	"context"
	"testing"

	"github.com/trent-kms/trent/internal/awsquery"
)

// BenchmarkResolve measures the directory's hot path: a cached long-term
// key, a cached session, and a user's cached policies.
func BenchmarkResolve(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	dev, key := f.userWithKey("dev")
	f.iam(f.rootCaller, "CreateRole", "RoleName=r&AssumeRolePolicyDocument="+q(trust(testAccount, `"sts:AssumeRole"`, "")))
	creds := f.sts(dev, "AssumeRole", "RoleArn="+q("arn:aws:iam::"+testAccount+":role/r")+"&RoleSessionName=bench").(*awsquery.AssumeRoleOutput).Credentials
	b.Run("LongTerm", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := f.s.Resolve(ctx, key, ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Session", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := f.s.Resolve(ctx, creds.AccessKeyId, creds.SessionToken); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("PrincipalPolicies", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.s.PrincipalPolicies(ctx, dev); err != nil {
				b.Fatal(err)
			}
		}
	})
}
