package cloudtrail

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/identity"
	"github.com/trent-kms/trent/internal/policy"
)

const (
	fuzzAccount = "111122223333"
	fuzzOther   = "444455556666"
)

func lookupSeeds() []string {
	return []string{
		`{}`,
		`{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"Encrypt"}],"MaxResults":2}`,
		`{"LookupAttributes":[{"AttributeKey":"Username","AttributeValue":"alice"}],"StartTime":1796551992,"EndTime":1796552100.5}`,
		`{"LookupAttributes":[{"AttributeKey":"ResourceName","AttributeValue":"1234abcd-12ab-34cd-56ef-1234567890ab"}]}`,
		`{"LookupAttributes":[{"AttributeKey":"ReadOnly","AttributeValue":"true"}]}`,
		`{"LookupAttributes":[{"AttributeKey":"AccessKeyId","AttributeValue":"AKIAEXAMPLEKEY000001"}]}`,
		`{"LookupAttributes":[{"AttributeKey":"EventSource","AttributeValue":"kms.amazonaws.com"}],"MaxResults":1,"NextToken":"eyJ9"}`,
		`{"LookupAttributes":[{"AttributeKey":"EventId","AttributeValue":"x"},{"AttributeKey":"EventName","AttributeValue":"y"}]}`,
		`{"EventCategory":"insight"}`,
		`{"StartTime":2,"EndTime":1}`,
		`{"StartTime":-1e17}`,
		`{"MaxResults":51}`,
		`{"NextToken":""}`,
		`{"LookupAttributes":null,"StartTime":null}`,
		``,
		`[]`,
	}
}

// FuzzLookupEvents sends any body to LookupEvents over a real audit log
// holding the caller's events and another account's: the answer is
// events or a CloudTrail client error (4xx, never an internal error), a
// page holds at most MaxResults events, and every event found is the
// caller's account's, never the other's.
func FuzzLookupEvents(f *testing.F) {
	for _, s := range lookupSeeds() {
		f.Add([]byte(s))
	}
	signer, err := audit.GenerateSigningKey()
	if err != nil {
		f.Fatal(err)
	}
	l, err := audit.Open(audit.Options{Dir: f.TempDir(), Signer: signer})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { l.Close() })
	start := time.Date(2026, 12, 6, 10, 13, 12, 0, time.UTC)
	for i := range 12 {
		account := fuzzAccount
		if i%3 == 2 {
			account = fuzzOther
		}
		ev := audit.NewAPICall(start.Add(time.Duration(i)*time.Second), audit.SourceKMS, []string{"Encrypt", "Decrypt", "DescribeKey"}[i%3], i%3 == 2)
		ev.UserIdentity = audit.UserIdentity{Type: "IAMUser", ARN: "arn:aws:iam::" + account + ":user/alice",
			AccountID: account, AccessKeyID: "AKIAEXAMPLEKEY000001", UserName: "alice"}
		ev.RequestID = fmt.Sprintf("00000000-0000-0000-0000-%012d", i)
		ev.RecipientAccountID = account
		ev.AddKey("arn:aws:kms:us-east-1:" + account + ":key/1234abcd-12ab-34cd-56ef-1234567890ab")
		if err := l.Record(context.Background(), ev); err != nil {
			f.Fatal(err)
		}
	}
	svc, err := New(Config{Log: l, Authorize: func(context.Context, *Request, string, string) error { return nil }})
	if err != nil {
		f.Fatal(err)
	}
	caller := &identity.Caller{Principal: policy.Principal{ARN: "arn:aws:iam::" + fuzzAccount + ":root", Account: fuzzAccount, Type: policy.PrincipalRoot, UserID: fuzzAccount}}
	// The log must answer with events, or the account check below holds
	// vacuously.
	out, err := svc.Call(context.Background(), "LookupEvents", &Request{Caller: caller}, []byte(`{}`))
	if err != nil || len(out.(*LookupEventsOutput).Events) != 8 {
		f.Fatalf("the caller's 8 events are not found: %v, %v", out, err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := svc.Call(context.Background(), "LookupEvents", &Request{Caller: caller, RequestID: "r", Region: "us-east-1"}, body)
		if err != nil {
			e := apierr.As(err)
			if s := apierr.HTTPStatus(e.Code); s < 400 || s > 499 {
				t.Fatalf("body %q: %s (status %d): %v", body, e.Code, s, err)
			}
			return
		}
		res, ok := out.(*LookupEventsOutput)
		if !ok {
			t.Fatalf("body %q: answer %T", body, out)
		}
		if len(res.Events) > 50 {
			t.Fatalf("body %q: %d events in a page", body, len(res.Events))
		}
		for _, e := range res.Events {
			if !strings.Contains(e.CloudTrailEvent, `"recipientAccountId":"`+fuzzAccount+`"`) {
				t.Fatalf("body %q: an event of another account: %s", body, e.CloudTrailEvent)
			}
		}
	})
}
