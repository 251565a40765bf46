package cloudtrail

import (
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/audit"
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
