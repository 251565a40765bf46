package cloudtrail

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/identity"
)

func TestOperation(t *testing.T) {
	for _, tc := range []struct {
		target, name string
		ok           bool
	}{
		{"com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents", "LookupEvents", true},
		{"CloudTrail_20131101.LookupEvents", "LookupEvents", true},
		{"CloudTrail_20131101.", "", true},
		{"TrentService.Encrypt", "", false},
		{"", "", false},
	} {
		name, ok := Operation(tc.target)
		if name != tc.name || ok != tc.ok {
			t.Errorf("Operation(%q) = %q, %v; want %q, %v", tc.target, name, ok, tc.name, tc.ok)
		}
	}
}

func TestQuery(t *testing.T) {
	s := func(v string) *string { return &v }
	f := func(v float64) *float64 { return &v }
	n := func(v int32) *int32 { return &v }
	for _, tc := range []struct {
		name string
		in   LookupEventsInput
		want audit.Query
		code string
	}{
		{name: "empty", want: audit.Query{AccountID: "111122223333"}},
		{name: "attribute, times, page",
			in: LookupEventsInput{LookupAttributes: []LookupAttribute{{s("EventName"), s("Encrypt")}},
				StartTime: f(1_765_000_000.5), EndTime: f(1_765_000_100), MaxResults: n(7), NextToken: s("tok")},
			want: audit.Query{AccountID: "111122223333", Attributes: []audit.Attribute{{Key: "EventName", Value: "Encrypt"}},
				StartTime: time.Unix(1_765_000_000, 5e8).UTC(), EndTime: time.Unix(1_765_000_100, 0).UTC(), MaxResults: 7, NextToken: "tok"}},
		{name: "two attributes", in: LookupEventsInput{LookupAttributes: []LookupAttribute{{s("EventName"), s("a")}, {s("Username"), s("b")}}}, code: apierr.InvalidLookupAttributes},
		{name: "no key", in: LookupEventsInput{LookupAttributes: []LookupAttribute{{nil, s("a")}}}, code: apierr.InvalidLookupAttributes},
		{name: "no value", in: LookupEventsInput{LookupAttributes: []LookupAttribute{{s("EventName"), nil}}}, code: apierr.InvalidLookupAttributes},
		{name: "ReadOnly yes", in: LookupEventsInput{LookupAttributes: []LookupAttribute{{s("ReadOnly"), s("yes")}}}, code: apierr.InvalidLookupAttributes},
		{name: "start after end", in: LookupEventsInput{StartTime: f(2), EndTime: f(1)}, code: apierr.InvalidTimeRange},
		{name: "time out of range", in: LookupEventsInput{StartTime: f(1e300)}, code: apierr.InvalidTimeRange},
		{name: "MaxResults 0", in: LookupEventsInput{MaxResults: n(0)}, code: apierr.InvalidMaxResults},
		{name: "MaxResults 51", in: LookupEventsInput{MaxResults: n(51)}, code: apierr.InvalidMaxResults},
		{name: "EventCategory data", in: LookupEventsInput{EventCategory: s("data")}, code: apierr.InvalidEventCategory},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := tc.in.query("111122223333")
			if tc.code != "" {
				if !apierr.Is(err, tc.code) {
					t.Fatalf("query: %v, want %s", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if q.AccountID != tc.want.AccountID || len(q.Attributes) != len(tc.want.Attributes) ||
				len(q.Attributes) > 0 && q.Attributes[0] != tc.want.Attributes[0] ||
				!q.StartTime.Equal(tc.want.StartTime) || !q.EndTime.Equal(tc.want.EndTime) ||
				q.MaxResults != tc.want.MaxResults || q.NextToken != tc.want.NextToken {
				t.Errorf("query = %+v, want %+v", q, tc.want)
			}
		})
	}
}

// nothingFound is a Searcher with no events.
type nothingFound struct{}

func (nothingFound) Lookup(context.Context, audit.Query) ([]audit.Match, string, error) {
	return nil, "", nil
}

// TestCallRecordsCheckedParameters: an input is checked before the event
// shows it, so a refused one — an AttributeValue far past CloudTrail's
// 2,000 characters — is answered 400 with requestParameters null, and an
// accepted one shows all of it.
func TestCallRecordsCheckedParameters(t *testing.T) {
	s, err := New(Config{Log: nothingFound{}, Authorize: func(context.Context, *Request, string, string) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	caller := identity.Root("111122223333", "AKIAEXAMPLEROOT00001")
	for _, tc := range []struct {
		name, body, code, params string
	}{
		{name: "value of 2,000", body: `{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"` + strings.Repeat("a", 2000) + `"}]}`,
			params: `{"lookupAttributes":[{"attributeKey":"EventName","attributeValue":"` + strings.Repeat("a", 2000) + `"}]}`},
		{name: "value of 2,001", body: `{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"` + strings.Repeat("a", 2001) + `"}]}`,
			code: apierr.InvalidLookupAttributes},
		{name: "value of 300,000", body: `{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"` + strings.Repeat("a", 300_000) + `"}]}`,
			code: apierr.InvalidLookupAttributes},
		{name: "bad MaxResults", body: `{"MaxResults":51,"NextToken":"` + strings.Repeat("t", 300_000) + `"}`, code: apierr.InvalidMaxResults},
		{name: "empty", body: `{}`, params: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := audit.NewAPICall(time.Now(), audit.SourceCloudTrail, "LookupEvents", true)
			_, err := s.Call(t.Context(), "LookupEvents", &Request{Caller: caller, Audit: ev}, []byte(tc.body))
			if tc.code != "" {
				if !apierr.Is(err, tc.code) {
					t.Fatalf("Call: %v, want %s", err, tc.code)
				}
			} else if err != nil {
				t.Fatalf("Call: %v", err)
			}
			if got := string(ev.RequestParameters); got != tc.params && !(tc.params == "" && got == "null") {
				t.Errorf("requestParameters = %.120s, want %.120s", got, tc.params)
			}
		})
	}
}
