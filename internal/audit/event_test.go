package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/awsproto"
	"github.com/trent-kms/trent/internal/identity"
	"github.com/trent-kms/trent/internal/policy"
)

// keysInOrder returns the top-level member names of a JSON object as
// written.
func keysInOrder(t *testing.T, obj []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(obj))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", obj)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// TestEventLineShape: a written line has CloudTrail's field names, in
// CloudTrail's order, then the log's two fields; omitted fields are absent
// rather than empty.
func TestEventLineShape(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{})
	ev := testEvent(0)
	ev.TLSDetails = &TLSDetails{TLSVersion: "TLSv1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", ClientProvidedHostHeader: "kms.example"}
	failed := testEvent(1)
	failed.SetError("AccessDeniedException", "User: arn:aws:iam::111122223333:user/alice is not authorized")
	if err := l.Record(context.Background(), ev, failed); err != nil {
		t.Fatal(err)
	}
	closeLog(t, l)
	lines := allLines(t, dir)
	want := []string{
		"eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
		"sourceIPAddress", "userAgent", "requestParameters", "responseElements", "requestID",
		"eventID", "readOnly", "resources", "eventType", "managementEvent", "recipientAccountId",
		"eventCategory", "tlsDetails", "trentSeq", "trentPrevHash",
	}
	if got := keysInOrder(t, []byte(lines[0])); !reflect.DeepEqual(got, want) {
		t.Errorf("members\n got %v\nwant %v", got, want)
	}
	for _, s := range []string{
		`"eventVersion":"1.11"`, `"eventTime":"2026-12-06T10:13:12Z"`, `"responseElements":null`,
		`"resources":[{"accountId":"111122223333","type":"AWS::KMS::Key","ARN":"` + testKeyARN + `"}]`,
		`"eventType":"AwsApiCall"`, `"managementEvent":true`, `"eventCategory":"Management"`,
		`"userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLEUSER00001","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","accessKeyId":"AKIAEXAMPLEKEY000001","userName":"alice"}`,
	} {
		if !strings.Contains(lines[0], s) {
			t.Errorf("line lacks %s:\n%s", s, lines[0])
		}
	}
	if strings.Contains(lines[0], "errorCode") {
		t.Errorf("a successful event has an errorCode member: %s", lines[0])
	}
	keys := keysInOrder(t, []byte(lines[1]))
	if keys[8] != "errorCode" || keys[9] != "errorMessage" {
		t.Errorf("errorCode and errorMessage belong after userAgent: %v", keys)
	}
}

func TestServiceEventShape(t *testing.T) {
	at := time.Date(2026, 12, 6, 10, 13, 12, 0, time.UTC)
	ev, err := NewServiceEvent(at, SourceKMS, "RotateKey", testAccount, "us-east-1",
		map[string]string{"keyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "rotationType": "AUTOMATIC"})
	if err != nil {
		t.Fatal(err)
	}
	ev.AddKey(testKeyARN)
	b, err := ev.marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		`"userIdentity":{"accountId":"111122223333","invokedBy":"AWS Internal"}`,
		`"sourceIPAddress":"AWS Internal"`, `"userAgent":"AWS Internal"`, `"requestParameters":null`,
		`"eventType":"AwsServiceEvent"`, `"serviceEventDetails":{"keyId":"1234abcd-12ab-34cd-56ef-1234567890ab","rotationType":"AUTOMATIC"}`,
	} {
		if !bytes.Contains(b, []byte(s)) {
			t.Errorf("service event lacks %s:\n%s", s, b)
		}
	}
	if bytes.Contains(b, []byte(`"requestID"`)) {
		t.Errorf("service event has a requestID, which AWS's do not: %s", b)
	}
}

func TestIdentityOf(t *testing.T) {
	issued := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		caller *identity.Caller
		want   string
	}{
		{
			"root", identity.Root(testAccount, "AKIAROOTKEY000000001"),
			`{"type":"Root","principalId":"111122223333","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333","accessKeyId":"AKIAROOTKEY000000001"}`,
		},
		{
			"IAM user", &identity.Caller{
				Principal:   policy.Principal{ARN: "arn:aws:iam::111122223333:user/ops/alice", Account: testAccount, Type: policy.PrincipalIAMUser, UserID: "AIDAALICE", Username: "alice"},
				AccessKeyID: "AKIAALICE",
			},
			`{"type":"IAMUser","principalId":"AIDAALICE","arn":"arn:aws:iam::111122223333:user/ops/alice","accountId":"111122223333","accessKeyId":"AKIAALICE","userName":"alice"}`,
		},
		{
			"role session", &identity.Caller{
				Principal: policy.Principal{
					ARN: "arn:aws:sts::111122223333:assumed-role/deployer/build-42", Account: testAccount,
					Type: policy.PrincipalAssumedRole, UserID: "AROADEPLOYER:build-42", RoleARN: "arn:aws:iam::111122223333:role/ci/deployer",
				},
				AccessKeyID: "ASIASESSION",
				Session:     &identity.Session{Name: "build-42", RoleARN: "arn:aws:iam::111122223333:role/ci/deployer", RoleID: "AROADEPLOYER", Issued: issued},
			},
			`{"type":"AssumedRole","principalId":"AROADEPLOYER:build-42","arn":"arn:aws:sts::111122223333:assumed-role/deployer/build-42","accountId":"111122223333","accessKeyId":"ASIASESSION",` +
				`"sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROADEPLOYER","arn":"arn:aws:iam::111122223333:role/ci/deployer","accountId":"111122223333","userName":"deployer"},` +
				`"attributes":{"creationDate":"2026-12-06T09:00:00Z","mfaAuthenticated":"false"}}}`,
		},
		{"unauthenticated", nil, `{"type":"Unknown","accessKeyId":"AKIAFORGED"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var u UserIdentity
			if tc.caller != nil {
				u = IdentityOf(tc.caller)
			} else {
				u = UnknownIdentity("AKIAFORGED")
			}
			got, err := json.Marshal(u)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestCopyForAnotherAccount(t *testing.T) {
	ev := testEvent(0)
	c := ev.CopyFor(otherAcct)
	if c.RecipientAccountID != otherAcct || ev.RecipientAccountID != testAccount || c.EventID != ev.EventID {
		t.Errorf("copy %s/%s of %s/%s: want the same event for another recipient", c.RecipientAccountID, c.EventID, ev.RecipientAccountID, ev.EventID)
	}
}

func ptr[T any](v T) *T { return &v }

func TestAllowList(t *testing.T) {
	enc := &awsproto.EncryptInput{
		KeyId: ptr("alias/app"), Plaintext: []byte("SECRET-PLAINTEXT"),
		EncryptionContext: map[string]string{"Dept": "ops", "app": "<b>"}, EncryptionAlgorithm: ptr("SYMMETRIC_DEFAULT"),
	}
	gdk := &awsproto.GenerateDataKeyInput{}
	gdk.KeyId, gdk.NumberOfBytes = ptr("k"), ptr(int32(32))
	for _, tc := range []struct {
		name    string
		typ     reflect.Type
		members []string
		value   any
		want    string // JSON, or the start of the error
	}{
		{"Encrypt", reflect.TypeFor[awsproto.EncryptInput](), []string{"KeyId", "EncryptionContext", "EncryptionAlgorithm"}, enc,
			`{"keyId":"alias/app","encryptionContext":{"Dept":"ops","app":"<b>"},"encryptionAlgorithm":"SYMMETRIC_DEFAULT"}`},
		{"absent members left out", reflect.TypeFor[awsproto.EncryptInput](), []string{"KeyId", "GrantTokens", "EncryptionAlgorithm"}, &awsproto.EncryptInput{KeyId: ptr("k")},
			`{"keyId":"k"}`},
		{"through an embedded struct", reflect.TypeFor[awsproto.GenerateDataKeyInput](), []string{"KeyId", "NumberOfBytes", "KeySpec"}, gdk,
			`{"keyId":"k","numberOfBytes":32}`},
		{"nested structs take CloudTrail's case", reflect.TypeFor[awsproto.CreateKeyInput](), []string{"Tags", "Description"},
			&awsproto.CreateKeyInput{Tags: []awsproto.Tag{{TagKey: ptr("env"), TagValue: ptr("prod")}}},
			`{"tags":[{"tagKey":"env","tagValue":"prod"}]}`},
		{"nil input", reflect.TypeFor[awsproto.EncryptInput](), []string{"KeyId"}, (*awsproto.EncryptInput)(nil), `null`},
		{"no member to show", reflect.TypeFor[awsproto.EncryptInput](), []string{"KeyId", "GrantTokens"}, &awsproto.EncryptInput{}, `null`},
		{"blob refused", reflect.TypeFor[awsproto.EncryptInput](), []string{"KeyId", "Plaintext"}, nil, `audit: allow-list of awsproto.EncryptInput: member "Plaintext" is a secret`},
		{"ciphertext blob refused", reflect.TypeFor[awsproto.DecryptInput](), []string{"CiphertextBlob"}, nil, `audit: allow-list of awsproto.DecryptInput: member "CiphertextBlob" is a blob`},
		{"secret string refused", reflect.TypeFor[struct {
			SecretAccessKey string `json:"SecretAccessKey"`
		}](), []string{"SecretAccessKey"}, nil, `audit: allow-list of struct`},
		{"secret nested refused", reflect.TypeFor[struct {
			Creds struct {
				SessionToken string `json:"SessionToken"`
			} `json:"Credentials"`
		}](), []string{"Credentials"}, nil, `audit: allow-list of struct`},
		{"unknown member", reflect.TypeFor[awsproto.EncryptInput](), []string{"KeyID"}, nil, `audit: allow-list of awsproto.EncryptInput: no member "KeyID"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := NewAllowList(tc.typ, tc.members...)
			if strings.HasPrefix(tc.want, "audit:") {
				if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
					t.Fatalf("NewAllowList = %v, want an error starting %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := a.JSON(tc.value)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("\n got %s\nwant %s", got, tc.want)
			}
			if bytes.Contains(got, []byte("SECRET")) {
				t.Errorf("plaintext in %s", got)
			}
		})
	}
	a := MustAllowList(reflect.TypeFor[awsproto.EncryptInput](), "KeyId")
	if _, err := a.JSON(&awsproto.DecryptInput{}); err == nil {
		t.Error("an allow-list applied to another type: no error")
	}
}

// TestAllowListDefaultsAndFlags: a member with a default shows it when
// absent and its own value when present; a bool tagged omitempty (DryRun)
// shows only when true.
func TestAllowListDefaultsAndFlags(t *testing.T) {
	a := MustAllowList(reflect.TypeFor[awsproto.DecryptInput](), "KeyId", "EncryptionAlgorithm", "DryRun").
		WithDefault("EncryptionAlgorithm", "SYMMETRIC_DEFAULT")
	for _, tc := range []struct {
		in   *awsproto.DecryptInput
		want string
	}{
		{&awsproto.DecryptInput{}, `{"encryptionAlgorithm":"SYMMETRIC_DEFAULT"}`},
		{&awsproto.DecryptInput{KeyId: ptr("k"), EncryptionAlgorithm: ptr("RSAES_OAEP_SHA_256")}, `{"keyId":"k","encryptionAlgorithm":"RSAES_OAEP_SHA_256"}`},
		{&awsproto.DecryptInput{DryRun: true}, `{"encryptionAlgorithm":"SYMMETRIC_DEFAULT","dryRun":true}`},
	} {
		got, err := a.JSON(tc.in)
		if err != nil || string(got) != tc.want {
			t.Errorf("JSON(%+v) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	for _, member := range []string{"GrantTokens", "Nope"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("WithDefault(%q) of a member the list lacks: no panic", member)
				}
			}()
			a.WithDefault(member, "x")
		}()
	}
}

// TestEventAllocations: an Encrypt's event, held in a CallEvent, costs
// two allocations from its start to its encoded line body — its eventID
// and its parameters — whatever the encoder does.
func TestEventAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	a := MustAllowList(reflect.TypeFor[awsproto.EncryptInput](), "KeyId", "EncryptionContext")
	in := &awsproto.EncryptInput{KeyId: ptr(testKeyARN), EncryptionContext: map[string]string{"b": "2", "a": "1"}}
	caller := &identity.Caller{
		Principal:   policy.Principal{ARN: "arn:aws:iam::111122223333:user/alice", Account: testAccount, Type: policy.PrincipalIAMUser, UserID: "AIDAEXAMPLE", Username: "alice"},
		AccessKeyID: "AKIAEXAMPLE",
	}
	var held CallEvent
	buf := make([]byte, 0, 4096)
	n := testing.AllocsPerRun(100, func() {
		ev := held.Init(time.Now(), SourceKMS, "Encrypt", false)
		ev.UserIdentity = IdentityOf(caller)
		ev.AWSRegion, ev.RecipientAccountID = "us-east-1", testAccount
		_ = ev.SetRequestParameters(a, in)
		ev.AddKey(testKeyARN)
		var err error
		if buf, err = ev.appendBody(buf[:0]); err != nil {
			t.Fatal(err)
		}
	})
	if n != 2 {
		t.Errorf("%v allocations per event, want 2 (eventID, requestParameters)", n)
	}
}
