package e2e

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/sigv4"
	"github.com/trent-kms/trent/internal/testenv"
)

// querySeeds are IAM and STS bodies that reach deep into the handlers and
// the authorization of their actions.
var querySeeds = []string{
	``,
	`Action=GetCallerIdentity&Version=2011-06-15`,
	`Action=CreateUser&Version=2010-05-08&UserName=fuzz&Path=%2Fa%2F&Tags.member.1.Key=k&Tags.member.1.Value=v`,
	`Action=PutUserPolicy&Version=2010-05-08&UserName=fuzz&PolicyName=p&PolicyDocument=%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22kms%3A*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D`,
	`Action=CreateAccessKey&Version=2010-05-08&UserName=fuzz`,
	`Action=CreateRole&Version=2010-05-08&RoleName=r&AssumeRolePolicyDocument=%7B%7D`,
	`Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fr&RoleSessionName=ss&Tags.member.1.Key=a&Tags.member.1.Value=b&PolicyArns.member.1.arn=x`,
	`Action=SimulatePrincipalPolicy&Version=2010-05-08&PolicySourceArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Auser%2Ffuzz&ActionNames.member.1=kms%3AEncrypt&ContextEntries.member.1.ContextKeyName=aws%3ASourceIp&ContextEntries.member.1.ContextKeyType=ip&ContextEntries.member.1.ContextKeyValues.member.1=10.0.0.1`,
	`Action=CreatePolicy&Version=2010-05-08&PolicyName=p&PolicyDocument=%7B%7D&Path=%2F`,
	`Action=ListUsers&Version=2010-05-08&MaxItems=1&Marker=%00`,
	`Action=GetAccessKeyInfo&Version=2011-06-15&AccessKeyId=ASIAAAAAAAAAAAAAAAAA`,
	`Action=GetSessionToken&Version=2011-06-15&DurationSeconds=99999999999999999999`,
}

// FuzzQueryDispatch sends arbitrary signed IAM and STS bodies to a real
// server and checks that none is answered with a 5xx.
func FuzzQueryDispatch(f *testing.F) {
	if len(querySeeds) == 0 {
		f.Fatal("empty seed corpus")
	}
	for _, s := range querySeeds {
		f.Add(false, []byte(s))
		f.Add(true, []byte(s))
	}
	env := testenv.Start(f)
	h := env.App.Handler
	f.Fuzz(func(t *testing.T, sts bool, body []byte) {
		service := "iam"
		if sts {
			service = "sts"
		}
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		if err := sigv4.Sign(req, body, env.AccessKeyID, []byte(env.Secret), env.Region, service, time.Now()); err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q: status %d, body %s", service, body, rec.Code, rec.Body.Bytes())
		}
		if !bytes.Contains(rec.Body.Bytes(), []byte("<RequestId>")) {
			t.Fatalf("%s %q: no RequestId in %s", service, body, rec.Body.Bytes())
		}
	})
}
