package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/trent-kms/trent/internal/testenv"
)

func cloudTrailClient(e *testenv.Env, id, secret string) *cloudtrail.Client {
	return cloudtrail.NewFromConfig(testenv.Config(e.URL, e.Region, id, secret, ""))
}

// lookupAll pages through every event that in matches.
func lookupAll(t *testing.T, c *cloudtrail.Client, in *cloudtrail.LookupEventsInput) []cttypes.Event {
	t.Helper()
	var evs []cttypes.Event
	p := cloudtrail.NewLookupEventsPaginator(c, in)
	for p.HasMorePages() {
		out, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatalf("LookupEvents: %v", err)
		}
		evs = append(evs, out.Events...)
	}
	return evs
}

func attr(k cttypes.LookupAttributeKey, v string) []cttypes.LookupAttribute {
	return []cttypes.LookupAttribute{{AttributeKey: k, AttributeValue: aws.String(v)}}
}

func eventNames(evs []cttypes.Event) []string {
	var names []string
	for _, e := range evs {
		names = append(names, aws.ToString(e.EventName))
	}
	return names
}

// newUser makes an IAM user with an inline policy (none if policy is "")
// and returns its name and access key.
func newUser(t *testing.T, e *testenv.Env, name, policy string) (arn, id, secret string) {
	t.Helper()
	c := iamClient(e, e.AccessKeyID, e.Secret)
	u, err := c.CreateUser(t.Context(), &iam.CreateUserInput{UserName: aws.String(name)})
	mustOK(t, err, "CreateUser")
	if policy != "" {
		_, err = c.PutUserPolicy(t.Context(), &iam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String("p"), PolicyDocument: aws.String(policy)})
		mustOK(t, err, "PutUserPolicy")
	}
	k, err := c.CreateAccessKey(t.Context(), &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	mustOK(t, err, "CreateAccessKey")
	return aws.ToString(u.User.Arn), aws.ToString(k.AccessKey.AccessKeyId), aws.ToString(k.AccessKey.SecretAccessKey)
}

// apiError returns err's AWS error code and HTTP status.
func apiError(err error) (string, int) {
	var ae smithy.APIError
	var re *awshttp.ResponseError
	code, status := "", 0
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return code, status
}

// TestLookupEventsWithTheSDK searches the log with aws-sdk-go-v2's
// CloudTrail client by each lookup attribute, by time and page by page,
// as the account root and as IAM users, and checks that each account
// sees its own events only.
func TestLookupEventsWithTheSDK(t *testing.T) {
	e := testenv.Start(t)
	ctx := t.Context()
	root := cloudTrailClient(e, e.AccessKeyID, e.Secret)
	t0 := time.Now()

	key := aws.ToString(createKey(t, e, nil).Arn)
	const encrypts = 5
	for i := 0; i < encrypts; i++ {
		encrypt(t, e, key, []byte("lookup"), nil)
	}
	describe(t, e, key)
	_, auditorID, auditorSecret := newUser(t, e, "auditor", policyDoc(`{"Effect":"Allow","Action":"cloudtrail:LookupEvents","Resource":"*"}`))
	_, nobodyID, nobodySecret := newUser(t, e, "nobody", "")
	auditor := cloudTrailClient(e, auditorID, auditorSecret)
	// The auditor's own call is an event to find by its user name and key.
	if _, err := auditor.LookupEvents(ctx, &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(1)}); err != nil {
		t.Fatalf("auditor LookupEvents: %v", err)
	}

	encs := lookupAll(t, root, &cloudtrail.LookupEventsInput{LookupAttributes: attr(cttypes.LookupAttributeKeyEventName, "Encrypt")})
	if len(encs) != encrypts {
		t.Fatalf("EventName Encrypt: %d events, want %d", len(encs), encrypts)
	}
	enc := encs[0]
	var full map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(enc.CloudTrailEvent)), &full); err != nil {
		t.Fatalf("CloudTrailEvent is not JSON: %v", err)
	}
	if full["eventID"] != aws.ToString(enc.EventId) || full["eventSource"] != "kms.amazonaws.com" || full["recipientAccountId"] != e.Account {
		t.Errorf("CloudTrailEvent %v does not match event %s", full, aws.ToString(enc.EventId))
	}
	if _, ok := full["trentSeq"]; ok {
		t.Errorf("CloudTrailEvent carries the log's own trentSeq: %v", full)
	}
	if aws.ToString(enc.ReadOnly) != "true" || aws.ToString(enc.EventSource) != "kms.amazonaws.com" ||
		aws.ToString(enc.Username) != "root" || aws.ToString(enc.AccessKeyId) != e.AccessKeyID ||
		enc.EventTime == nil || enc.EventTime.Before(t0.Truncate(time.Second)) ||
		len(enc.Resources) != 1 || aws.ToString(enc.Resources[0].ResourceName) != key || aws.ToString(enc.Resources[0].ResourceType) != "AWS::KMS::Key" {
		t.Errorf("Encrypt event = %+v", enc)
	}

	// each checks every event found; want names events that must be among
	// them, unwanted names that must not.
	for _, tc := range []struct {
		name           string
		attrs          []cttypes.LookupAttribute
		each           func(cttypes.Event) bool
		want, unwanted []string
		count          int // exact number of events, when > 0
	}{
		{name: "ResourceName key ARN", attrs: attr(cttypes.LookupAttributeKeyResourceName, key),
			each: func(ev cttypes.Event) bool {
				return slices.ContainsFunc(ev.Resources, func(r cttypes.Resource) bool { return aws.ToString(r.ResourceName) == key })
			},
			want: []string{"CreateKey", "Encrypt", "DescribeKey"}, unwanted: []string{"CreateUser", "LookupEvents"}},
		{name: "ResourceType key", attrs: attr(cttypes.LookupAttributeKeyResourceType, "AWS::KMS::Key"),
			want: []string{"CreateKey", "Encrypt"}, unwanted: []string{"CreateUser"}},
		{name: "Username root", attrs: attr(cttypes.LookupAttributeKeyUsername, "root"),
			each: func(ev cttypes.Event) bool { return aws.ToString(ev.Username) == "root" },
			want: []string{"CreateKey", "Encrypt", "CreateUser"}, unwanted: nil},
		{name: "Username auditor", attrs: attr(cttypes.LookupAttributeKeyUsername, "auditor"),
			each: func(ev cttypes.Event) bool { return aws.ToString(ev.Username) == "auditor" },
			want: []string{"LookupEvents"}, count: 1},
		{name: "AccessKeyId of the auditor", attrs: attr(cttypes.LookupAttributeKeyAccessKeyId, auditorID),
			each: func(ev cttypes.Event) bool { return aws.ToString(ev.AccessKeyId) == auditorID },
			want: []string{"LookupEvents"}, count: 1},
		{name: "EventId", attrs: attr(cttypes.LookupAttributeKeyEventId, aws.ToString(enc.EventId)),
			each: func(ev cttypes.Event) bool { return aws.ToString(ev.EventId) == aws.ToString(enc.EventId) },
			want: []string{"Encrypt"}, count: 1},
		{name: "ReadOnly true", attrs: attr(cttypes.LookupAttributeKeyReadOnly, "true"),
			each: func(ev cttypes.Event) bool { return aws.ToString(ev.ReadOnly) == "true" },
			want: []string{"DescribeKey", "LookupEvents", "Encrypt"}, unwanted: []string{"CreateKey"}},
		{name: "ReadOnly false", attrs: attr(cttypes.LookupAttributeKeyReadOnly, "false"),
			each: func(ev cttypes.Event) bool { return aws.ToString(ev.ReadOnly) == "false" },
			want: []string{"CreateKey", "CreateUser"}, unwanted: []string{"DescribeKey", "Encrypt"}},
		// LookupEvents is itself recorded, under CloudTrail's source.
		{name: "EventSource cloudtrail", attrs: attr(cttypes.LookupAttributeKeyEventSource, "cloudtrail.amazonaws.com"),
			each: func(ev cttypes.Event) bool {
				return aws.ToString(ev.EventSource) == "cloudtrail.amazonaws.com" && aws.ToString(ev.EventName) == "LookupEvents" && aws.ToString(ev.ReadOnly) == "true"
			},
			want: []string{"LookupEvents"}},
		{name: "EventSource iam", attrs: attr(cttypes.LookupAttributeKeyEventSource, "iam.amazonaws.com"),
			each: func(ev cttypes.Event) bool { return aws.ToString(ev.EventSource) == "iam.amazonaws.com" },
			want: []string{"CreateUser", "PutUserPolicy", "CreateAccessKey"}, unwanted: []string{"Encrypt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs := lookupAll(t, root, &cloudtrail.LookupEventsInput{LookupAttributes: tc.attrs})
			names := eventNames(evs)
			for _, ev := range evs {
				if tc.each != nil && !tc.each(ev) {
					t.Errorf("event %s %s does not match the attribute: %+v", aws.ToString(ev.EventName), aws.ToString(ev.EventId), ev)
				}
			}
			for _, w := range tc.want {
				if !slices.Contains(names, w) {
					t.Errorf("found %v, want a %s", names, w)
				}
			}
			for _, u := range tc.unwanted {
				if slices.Contains(names, u) {
					t.Errorf("found %v, want no %s", names, u)
				}
			}
			if tc.count > 0 && len(evs) != tc.count {
				t.Errorf("found %d events (%v), want %d", len(evs), names, tc.count)
			}
		})
	}

	t.Run("time range", func(t *testing.T) {
		now := time.Now()
		for _, tc := range []struct {
			name       string
			start, end time.Time
			want       int
		}{
			{"around the calls", t0.Add(-time.Second), now.Add(time.Second), encrypts},
			{"from the future", now.Add(time.Hour), time.Time{}, 0},
			{"before the calls", time.Time{}, t0.Add(-10 * time.Second), 0},
		} {
			in := &cloudtrail.LookupEventsInput{LookupAttributes: attr(cttypes.LookupAttributeKeyEventName, "Encrypt")}
			if !tc.start.IsZero() {
				in.StartTime = aws.Time(tc.start)
			}
			if !tc.end.IsZero() {
				in.EndTime = aws.Time(tc.end)
			}
			if got := len(lookupAll(t, root, in)); got != tc.want {
				t.Errorf("%s: %d Encrypt events, want %d", tc.name, got, tc.want)
			}
		}
	})

	t.Run("paging", func(t *testing.T) {
		in := &cloudtrail.LookupEventsInput{LookupAttributes: attr(cttypes.LookupAttributeKeyEventName, "Encrypt"), MaxResults: aws.Int32(2)}
		var ids []string
		pages := 0
		for {
			out, err := root.LookupEvents(ctx, in)
			if err != nil {
				t.Fatalf("page %d: %v", pages, err)
			}
			pages++
			if len(out.Events) > 2 {
				t.Fatalf("page %d has %d events, MaxResults 2", pages, len(out.Events))
			}
			for i, ev := range out.Events {
				if len(ids) > 0 && i == 0 && ev.EventTime.After(*encs[len(ids)-1].EventTime) {
					t.Errorf("page %d starts after the previous one ended: not newest first", pages)
				}
				ids = append(ids, aws.ToString(ev.EventId))
			}
			if out.NextToken == nil {
				break
			}
			in.NextToken = out.NextToken
		}
		if pages != 3 || len(ids) != encrypts {
			t.Errorf("%d pages, %d events; want 3 pages of the %d Encrypts", pages, len(ids), encrypts)
		}
		for i, ev := range encs {
			if ids[i] != aws.ToString(ev.EventId) {
				t.Errorf("paged event %d is %s, want %s (the order of one big page)", i, ids[i], aws.ToString(ev.EventId))
			}
		}
	})

	t.Run("IAM users", func(t *testing.T) {
		if evs := lookupAll(t, auditor, &cloudtrail.LookupEventsInput{LookupAttributes: attr(cttypes.LookupAttributeKeyEventName, "Encrypt")}); len(evs) != encrypts {
			t.Errorf("allowed user found %d Encrypt events, want %d", len(evs), encrypts)
		}
		_, err := cloudTrailClient(e, nobodyID, nobodySecret).LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
		code, status := apiError(err)
		if code != "AccessDeniedException" || status != 400 ||
			!strings.Contains(err.Error(), "is not authorized to perform: cloudtrail:LookupEvents because no identity-based policy allows the cloudtrail:LookupEvents action") {
			t.Errorf("user without a policy: %v (%s, %d), want AccessDeniedException", err, code, status)
		}
	})

	t.Run("account isolation", func(t *testing.T) {
		other, id, secret := e.NewAccount(t)
		if _, err := e.Client(id, secret).ListKeys(ctx, &kms.ListKeysInput{}); err != nil {
			t.Fatalf("ListKeys in the second account: %v", err)
		}
		oc := cloudTrailClient(e, id, secret)
		if names := eventNames(lookupAll(t, oc, &cloudtrail.LookupEventsInput{})); !slices.Equal(names, []string{"ListKeys"}) {
			t.Errorf("the second account sees %v, want its own ListKeys only", names)
		}
		for _, in := range []*cloudtrail.LookupEventsInput{
			{},
			{LookupAttributes: attr(cttypes.LookupAttributeKeyEventId, aws.ToString(enc.EventId))},
			{LookupAttributes: attr(cttypes.LookupAttributeKeyResourceName, key)},
			{LookupAttributes: attr(cttypes.LookupAttributeKeyUsername, "auditor")},
		} {
			for _, ev := range lookupAll(t, oc, in) {
				var m map[string]any
				if err := json.Unmarshal([]byte(aws.ToString(ev.CloudTrailEvent)), &m); err != nil || m["recipientAccountId"] != other {
					t.Errorf("account %s sees an event of another account: %s", other, aws.ToString(ev.CloudTrailEvent))
				}
			}
		}
	})

	t.Run("bad input", func(t *testing.T) {
		now := time.Now()
		two := append(attr(cttypes.LookupAttributeKeyEventName, "Encrypt"), attr(cttypes.LookupAttributeKeyUsername, "root")...)
		for _, tc := range []struct {
			name string
			in   cloudtrail.LookupEventsInput
			code string
		}{
			{"two attributes", cloudtrail.LookupEventsInput{LookupAttributes: two}, "InvalidLookupAttributesException"},
			{"unknown attribute", cloudtrail.LookupEventsInput{LookupAttributes: attr("Bucket", "b")}, "InvalidLookupAttributesException"},
			{"empty value", cloudtrail.LookupEventsInput{LookupAttributes: attr(cttypes.LookupAttributeKeyEventName, "")}, "InvalidLookupAttributesException"},
			{"ReadOnly maybe", cloudtrail.LookupEventsInput{LookupAttributes: attr(cttypes.LookupAttributeKeyReadOnly, "maybe")}, "InvalidLookupAttributesException"},
			{"start after end", cloudtrail.LookupEventsInput{StartTime: aws.Time(now), EndTime: aws.Time(now.Add(-time.Hour))}, "InvalidTimeRangeException"},
			{"MaxResults 0", cloudtrail.LookupEventsInput{MaxResults: aws.Int32(0)}, "InvalidMaxResultsException"},
			{"MaxResults 51", cloudtrail.LookupEventsInput{MaxResults: aws.Int32(51)}, "InvalidMaxResultsException"},
			{"garbage NextToken", cloudtrail.LookupEventsInput{NextToken: aws.String("garbage")}, "InvalidNextTokenException"},
			{"EventCategory", cloudtrail.LookupEventsInput{EventCategory: "data"}, "InvalidEventCategoryException"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := root.LookupEvents(ctx, &tc.in)
				if code, status := apiError(err); code != tc.code || status != 400 {
					t.Errorf("LookupEvents: %v (%s, %d), want %s and 400", err, code, status, tc.code)
				}
			})
		}
		// A token is bound to the query it continues.
		out, err := root.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: attr(cttypes.LookupAttributeKeyEventName, "Encrypt"), MaxResults: aws.Int32(1)})
		if err != nil || out.NextToken == nil {
			t.Fatalf("first page: %v, token %v", err, out)
		}
		_, err = root.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: attr(cttypes.LookupAttributeKeyEventName, "Decrypt"), NextToken: out.NextToken})
		if code, _ := apiError(err); code != "InvalidNextTokenException" {
			t.Errorf("token of another query: %v, want InvalidNextTokenException", err)
		}
	})
}

// TestLookupEventsServiceScope checks that a JSON request is routed by its
// target and must be signed for that target's service.
func TestLookupEventsServiceScope(t *testing.T) {
	e := testenv.Start(t)
	for _, tc := range []struct {
		name, target, service, want string
	}{
		{"cloudtrail target signed for kms", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents", "kms", "InvalidSignatureException"},
		{"kms target signed for cloudtrail", "TrentService.ListKeys", "cloudtrail", "InvalidSignatureException"},
		{"another CloudTrail operation", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.CreateTrail", "cloudtrail", "UnsupportedOperationException"},
		{"LookupEvents", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents", "cloudtrail", ""},
		{"LookupEvents, the SDKs' short target", "CloudTrail_20131101.LookupEvents", "cloudtrail", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(`{"MaxResults":1}`)
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.URL+"/", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
			req.Header.Set("X-Amz-Target", tc.target)
			sum := sha256.Sum256(body)
			creds := aws.Credentials{AccessKeyID: e.AccessKeyID, SecretAccessKey: e.Secret}
			if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), tc.service, e.Region, time.Now()); err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			var out struct {
				Type string `json:"__type"`
			}
			_ = json.Unmarshal(b, &out)
			if out.Type != tc.want || (tc.want == "") != (resp.StatusCode == 200) {
				t.Errorf("%d %s, want %q", resp.StatusCode, b, tc.want)
			}
		})
	}
}

// TestGetKeyLastUsage checks GetKeyLastUsage before and after a use, that
// its ids are those of the Encrypt's event and response, and its errors.
func TestGetKeyLastUsage(t *testing.T) {
	e := testenv.Start(t)
	ctx := t.Context()
	md := createKey(t, e, nil)
	keyID, keyARN := aws.ToString(md.KeyId), aws.ToString(md.Arn)
	createAlias(t, e, "alias/used", keyID)

	before, err := e.KMS.GetKeyLastUsage(ctx, &kms.GetKeyLastUsageInput{KeyId: aws.String(keyID)})
	mustOK(t, err, "GetKeyLastUsage")
	if aws.ToString(before.KeyId) != keyARN || before.KeyLastUsage == nil || before.KeyLastUsage.Operation != "" || before.KeyLastUsage.CloudTrailEventId != nil ||
		before.KeyCreationDate == nil || !before.KeyCreationDate.Equal(*md.CreationDate) ||
		before.TrackingStartDate == nil || before.TrackingStartDate.Before(*md.CreationDate) {
		t.Errorf("before any use: %+v (usage %+v)", before, before.KeyLastUsage)
	}

	enc, err := e.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/used"), Plaintext: []byte("use")})
	mustOK(t, err, "Encrypt")
	requestID, _ := awsmw.GetRequestIDMetadata(enc.ResultMetadata)
	// A failed use is no use.
	if _, err := e.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: []byte("use"), EncryptionAlgorithm: "RSAES_OAEP_SHA_256"}); err == nil {
		t.Fatal("Encrypt with an RSA algorithm on a symmetric key succeeded")
	}
	evs := lookupAll(t, cloudTrailClient(e, e.AccessKeyID, e.Secret), &cloudtrail.LookupEventsInput{LookupAttributes: attr(cttypes.LookupAttributeKeyEventName, "Encrypt")})
	var eventID string
	for _, ev := range evs {
		if strings.Contains(aws.ToString(ev.CloudTrailEvent), `"requestID":"`+requestID+`"`) {
			eventID = aws.ToString(ev.EventId)
		}
	}
	if eventID == "" {
		t.Fatalf("no Encrypt event with request id %q among %d", requestID, len(evs))
	}

	for _, id := range []string{keyID, keyARN} {
		after, err := e.KMS.GetKeyLastUsage(ctx, &kms.GetKeyLastUsageInput{KeyId: aws.String(id)})
		mustOK(t, err, "GetKeyLastUsage "+id)
		u := after.KeyLastUsage
		if u == nil || u.Operation != "Encrypt" || aws.ToString(u.CloudTrailEventId) != eventID || aws.ToString(u.KmsRequestId) != requestID ||
			u.Timestamp == nil || u.Timestamp.Before(md.CreationDate.Truncate(time.Second)) {
			t.Errorf("after Encrypt, by %s: %+v, want event %s request %s", id, u, eventID, requestID)
		}
	}

	_, oid, osecret := e.NewAccount(t)
	for _, tc := range []struct {
		name, keyID string
		client      *kms.Client
		want        string
	}{
		{"unknown key", "00000000-0000-0000-0000-000000000000", e.KMS, "NotFoundException"},
		{"alias", "alias/used", e.KMS, "NotFoundException"},
		{"another account's key", keyARN, e.Client(oid, osecret), "AccessDeniedException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.client.GetKeyLastUsage(ctx, &kms.GetKeyLastUsageInput{KeyId: aws.String(tc.keyID)})
			if code, _ := apiError(err); code != tc.want {
				t.Errorf("GetKeyLastUsage(%s): %v, want %s", tc.keyID, err, tc.want)
			}
		})
	}
}

// TestAWSCLILookupEvents runs `aws cloudtrail lookup-events` against Trent.
func TestAWSCLILookupEvents(t *testing.T) {
	e := testenv.Start(t)
	cli := newAWSCLI(t, e.URL, e.AccessKeyID, e.Secret)
	key := aws.ToString(createKey(t, e, nil).Arn)
	encrypt(t, e, key, []byte("cli"), nil)
	out := cli.awsJSON(t, nil, "cloudtrail", "lookup-events", "--lookup-attributes", "AttributeKey=EventName,AttributeValue=Encrypt")
	evs, _ := out["Events"].([]any)
	if len(evs) != 1 {
		t.Fatalf("lookup-events printed %v, want one Encrypt", out)
	}
	ev, _ := evs[0].(map[string]any)
	if str(ev, "EventName") != "Encrypt" || str(ev, "ReadOnly") != "true" || !strings.Contains(str(ev, "CloudTrailEvent"), key) {
		t.Errorf("lookup-events event = %v", ev)
	}
}
