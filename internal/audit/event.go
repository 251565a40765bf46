package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/identity"
	"github.com/trent-kms/trent/internal/ids"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/store"
)

// Values of the event fields that CloudTrail fixes.
const (
	EventVersion = "1.11"

	TypeAPICall      = "AwsApiCall"      // a request to the API
	TypeServiceEvent = "AwsServiceEvent" // background work: deletion, rotation, expiry

	CategoryManagement = "Management"

	SourceKMS = "kms.amazonaws.com"
	SourceIAM = "iam.amazonaws.com"
	SourceSTS = "sts.amazonaws.com"
	// SourceCloudTrail is the source of LookupEvents calls: reading the
	// log is itself an event in it, as in CloudTrail.
	SourceCloudTrail = "cloudtrail.amazonaws.com"

	ResourceTypeKey = "AWS::KMS::Key"

	// IdentityUnknown is the userIdentity.type of a request whose signature
	// did not verify: it names only what the request claimed.
	IdentityUnknown = "Unknown"
	// IdentityAWSService is the type CloudTrail gives a service calling on
	// its own behalf.
	IdentityAWSService = "AWSService"

	// Internal is what CloudTrail puts in sourceIPAddress, userAgent and
	// userIdentity.invokedBy of an event no client caused.
	Internal = "AWS Internal"
)

// Event is one CloudTrail event: the JSON field names and their order are
// CloudTrail's. The log appends two fields of its own to every line it
// writes, after all of these — "trentSeq" and "trentPrevHash" (see the
// package comment) — so an Event cannot carry them.
//
// Never put plaintext, key material, secret access keys, session tokens,
// passwords or signatures in an event: requestParameters and
// responseElements are built through an AllowList, which refuses blobs and
// secret-named members.
type Event struct {
	EventVersion        string          `json:"eventVersion"`
	UserIdentity        UserIdentity    `json:"userIdentity"`
	EventTime           Timestamp       `json:"eventTime"`
	EventSource         string          `json:"eventSource"`
	EventName           string          `json:"eventName"`
	AWSRegion           string          `json:"awsRegion"`
	SourceIPAddress     string          `json:"sourceIPAddress"`
	UserAgent           string          `json:"userAgent"`
	ErrorCode           string          `json:"errorCode,omitempty"`
	ErrorMessage        string          `json:"errorMessage,omitempty"`
	RequestParameters   json.RawMessage `json:"requestParameters"` // a JSON object, or nil for null
	ResponseElements    json.RawMessage `json:"responseElements"`  // null for crypto operations, as AWS
	AdditionalEventData json.RawMessage `json:"additionalEventData,omitempty"`
	RequestID           string          `json:"requestID,omitempty"` // absent from service events, as AWS
	EventID             string          `json:"eventID"`
	ReadOnly            bool            `json:"readOnly"`
	Resources           []Resource      `json:"resources,omitempty"`
	EventType           string          `json:"eventType"`
	ManagementEvent     bool            `json:"managementEvent"`
	RecipientAccountID  string          `json:"recipientAccountId"`
	ServiceEventDetails json.RawMessage `json:"serviceEventDetails,omitempty"`
	EventCategory       string          `json:"eventCategory"`
	TLSDetails          *TLSDetails     `json:"tlsDetails,omitempty"`

	// paramsMark is set by SetRequestParameters.
	paramsMark rawMark
	// intent is the request's audit intent (Log.Intent), or nil.
	intent *store.AuditIntent
}

// rawMark remembers a raw member an allow-list wrote, so that encoding
// the event copies it without validating it again: it applies while the
// member is still that very slice. (An allow-list writes valid, compact
// JSON: TestCompiledMatchesWriteValue.)
type rawMark struct {
	p *byte
	n int
}

func markOf(raw []byte) rawMark {
	if len(raw) == 0 {
		return rawMark{}
	}
	return rawMark{&raw[0], len(raw)}
}

func (m rawMark) marks(raw []byte) bool {
	return m.p != nil && len(raw) == m.n && &raw[0] == m.p
}

// SetRequestParameters sets requestParameters to the members of v that a
// allows (a.JSON), or to null, returning the error, if a refuses v. The
// event owns the bytes; it encodes them without checking them again as
// long as RequestParameters is left as this sets it.
func (e *Event) SetRequestParameters(a *AllowList, v any) error {
	b, err := a.JSON(v)
	if err != nil {
		e.RequestParameters, e.paramsMark = nil, rawMark{}
		return err
	}
	e.RequestParameters, e.paramsMark = b, markOf(b)
	return nil
}

// UserIdentity is who made the request. A service event has only
// accountId and invokedBy, as AWS writes it.
type UserIdentity struct {
	Type           string          `json:"type,omitempty"`
	PrincipalID    string          `json:"principalId,omitempty"`
	ARN            string          `json:"arn,omitempty"`
	AccountID      string          `json:"accountId,omitempty"`
	AccessKeyID    string          `json:"accessKeyId,omitempty"`
	UserName       string          `json:"userName,omitempty"`
	SessionContext *SessionContext `json:"sessionContext,omitempty"`
	InvokedBy      string          `json:"invokedBy,omitempty"`
}

// SessionContext describes temporary credentials.
type SessionContext struct {
	SessionIssuer  *SessionIssuer    `json:"sessionIssuer,omitempty"`
	Attributes     SessionAttributes `json:"attributes"`
	SourceIdentity string            `json:"sourceIdentity,omitempty"`
}

// SessionAttributes are when the session began and whether MFA was used;
// CloudTrail writes the latter as the string "true" or "false".
type SessionAttributes struct {
	CreationDate     Timestamp `json:"creationDate"`
	MFAAuthenticated string    `json:"mfaAuthenticated"`
}

// SessionIssuer is the role a session was issued for.
type SessionIssuer struct {
	Type        string `json:"type"` // "Role"
	PrincipalID string `json:"principalId"`
	ARN         string `json:"arn"`
	AccountID   string `json:"accountId"`
	UserName    string `json:"userName"`
}

// Resource is a resource the event concerns.
type Resource struct {
	AccountID string `json:"accountId"`
	Type      string `json:"type"`
	ARN       string `json:"ARN"`
}

// TLSDetails describes the connection the request came over.
type TLSDetails struct {
	TLSVersion               string `json:"tlsVersion"`
	CipherSuite              string `json:"cipherSuite"`
	ClientProvidedHostHeader string `json:"clientProvidedHostHeader"`
}

// Timestamp is a time as CloudTrail writes it: UTC, whole seconds,
// "2026-12-06T10:13:12Z".
type Timestamp struct{ time.Time }

const timestampLayout = "2006-01-02T15:04:05Z"

func (t Timestamp) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return nil, fmt.Errorf("audit: zero timestamp")
	}
	return []byte(`"` + t.UTC().Format(timestampLayout) + `"`), nil
}

func (t *Timestamp) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(timestampLayout, s)
	if err != nil {
		return fmt.Errorf("audit: timestamp %q: %w", s, err)
	}
	t.Time = v
	return nil
}

// NewAPICall returns the event of a request at time at, with a fresh
// eventID and the fields CloudTrail fixes for API calls filled in. The
// caller sets the rest: identity, region, source address, user agent,
// parameters, outcome, request id, resources, recipient account.
func NewAPICall(at time.Time, source, name string, readOnly bool) *Event {
	e := apiCall(at, source, name, readOnly)
	return &e
}

func apiCall(at time.Time, source, name string, readOnly bool) Event {
	return Event{
		EventVersion:    EventVersion,
		EventTime:       Timestamp{at},
		EventSource:     source,
		EventName:       name,
		EventID:         ids.NewUUID(),
		ReadOnly:        readOnly,
		EventType:       TypeAPICall,
		ManagementEvent: true,
		EventCategory:   CategoryManagement,
	}
}

// CallEvent is an API call's event with room for the one key most such
// events name, for a server to allocate with the rest of a request's
// state: what NewAPICall and the first AddKey allocate apart, it holds in
// whatever holds it.
type CallEvent struct {
	ev   Event
	keys [1]Resource
}

// Init begins the event as NewAPICall does and returns it; it lives as
// long as c.
func (c *CallEvent) Init(at time.Time, source, name string, readOnly bool) *Event {
	c.ev = apiCall(at, source, name, readOnly)
	c.ev.Resources = c.keys[:0]
	return &c.ev
}

// NewServiceEvent returns the event of work Trent did on its own in
// account's region — DeleteKey at the end of a deletion window, RotateKey,
// DeleteExpiredKeyMaterial — shaped as AWS shapes those: no caller, "AWS
// Internal" as source and agent, serviceEventDetails (e.g. {"keyId": …}).
func NewServiceEvent(at time.Time, source, name, account, region string, details any) (*Event, error) {
	ev := &Event{
		EventVersion:       EventVersion,
		UserIdentity:       UserIdentity{AccountID: account, InvokedBy: Internal},
		EventTime:          Timestamp{at},
		EventSource:        source,
		EventName:          name,
		AWSRegion:          region,
		SourceIPAddress:    Internal,
		UserAgent:          Internal,
		EventID:            ids.NewUUID(),
		EventType:          TypeServiceEvent,
		ManagementEvent:    true,
		RecipientAccountID: account,
		EventCategory:      CategoryManagement,
	}
	if details != nil {
		b, err := json.Marshal(details)
		if err != nil {
			return nil, fmt.Errorf("audit: service event details of %s: %w", name, err)
		}
		ev.ServiceEventDetails = b
	}
	return ev, nil
}

// AddKey names a KMS key the event concerns, by ARN.
func (e *Event) AddKey(arn string) {
	e.Resources = append(e.Resources, Resource{AccountID: arnAccount(arn), Type: ResourceTypeKey, ARN: arn})
}

// MaxErrorMessageBytes bounds an event's errorMessage. Messages repeat
// parts of requests (IAM's AccessDenied names the resource, a validation
// error may echo values), so an unbounded one would let a caller size the
// event; what the message says first is what an auditor needs, and the
// errorCode is kept whole. AWS documents no bound: this one is Trent's.
const MaxErrorMessageBytes = 1 << 10

// SetError records a failed outcome: the AWS exception name and message,
// the message clipped to MaxErrorMessageBytes (at a character boundary,
// ending in "...").
func (e *Event) SetError(code, message string) {
	e.ErrorCode, e.ErrorMessage = code, apierr.ClipMessage(message, MaxErrorMessageBytes)
}

// CopyFor returns the same event as delivered to another account: a
// cross-account call is recorded once for the caller's account and once
// for the key owner's, with the same eventID, as CloudTrail does. Record
// both in one Record call.
func (e *Event) CopyFor(account string) *Event {
	c := *e
	c.RecipientAccountID = account
	return &c
}

// arnAccount returns the account field of an ARN ("" if it has none).
// It is strings.SplitN(arn, ":", 6)[4] when that has six parts, without
// the slice SplitN allocates: AddKey runs for nearly every request.
func arnAccount(arn string) string {
	rest := arn
	for range 4 {
		i := strings.IndexByte(rest, ':')
		if i < 0 {
			return ""
		}
		rest = rest[i+1:]
	}
	account, _, ok := strings.Cut(rest, ":")
	if !ok {
		return ""
	}
	return account
}

// IdentityOf returns the userIdentity of an authenticated caller, in the
// shape CloudTrail gives each kind of principal.
func IdentityOf(c *identity.Caller) UserIdentity {
	p := c.Principal
	u := UserIdentity{
		Type:        p.Type,
		PrincipalID: p.UserID,
		ARN:         p.ARN,
		AccountID:   p.Account,
		AccessKeyID: c.AccessKeyID,
	}
	// CloudTrail names a user only for IAM users: not for the root user,
	// whose ARN says who it is, nor for role sessions, whose issuer does.
	if p.Type == policy.PrincipalIAMUser {
		u.UserName = p.Username
	}
	if s := c.Session; s != nil {
		sc := &SessionContext{
			Attributes:     SessionAttributes{CreationDate: Timestamp{s.Issued}, MFAAuthenticated: "false"},
			SourceIdentity: s.SourceIdentity,
		}
		if s.RoleARN != "" {
			sc.SessionIssuer = &SessionIssuer{
				Type:        "Role",
				PrincipalID: s.RoleID,
				ARN:         s.RoleARN,
				AccountID:   arnAccount(s.RoleARN),
				UserName:    s.RoleARN[strings.LastIndexByte(s.RoleARN, '/')+1:],
			}
		}
		u.SessionContext = sc
	}
	return u
}

// UnknownIdentity is the userIdentity of a request that could not be
// authenticated: only the access key it claimed, as given.
func UnknownIdentity(accessKeyID string) UserIdentity {
	return UserIdentity{Type: IdentityUnknown, AccessKeyID: accessKeyID}
}

// MaxEventBytes bounds one event line. KMS inputs are far smaller (a key
// policy is at most 32 KiB); the bound keeps a bug from writing megabytes
// per request.
const MaxEventBytes = 256 << 10

// marshal returns the event's JSON object, checked for what the log relies
// on. HTML characters are not escaped, so that the files read as written.
func (e *Event) marshal() ([]byte, error) {
	return e.appendBody(make([]byte, 0, 1024))
}

// appendBody appends what marshal returns to dst.
func (e *Event) appendBody(dst []byte) ([]byte, error) {
	switch {
	case e.EventVersion == "" || e.EventSource == "" || e.EventName == "" || e.EventID == "":
		return nil, fmt.Errorf("audit: event lacks eventVersion, eventSource, eventName or eventID: %q %q %q %q",
			e.EventVersion, e.EventSource, e.EventName, e.EventID)
	case e.EventType != TypeAPICall && e.EventType != TypeServiceEvent:
		return nil, fmt.Errorf("audit: event %s: eventType %q", e.EventName, e.EventType)
	case e.EventTime.IsZero():
		return nil, fmt.Errorf("audit: event %s: no eventTime", e.EventName)
	}
	for _, raw := range []json.RawMessage{e.RequestParameters, e.ResponseElements} {
		if len(raw) > 0 && !isObjectOrNull(raw) {
			return nil, fmt.Errorf("audit: event %s: requestParameters and responseElements must be JSON objects or null", e.EventName)
		}
	}
	start := len(dst)
	b, err := e.appendJSON(dst)
	if err != nil {
		return nil, fmt.Errorf("audit: encode event %s: %w", e.EventName, err)
	}
	if n := len(b) - start; n > MaxEventBytes {
		return e.appendOmitted(b[:start], n)
	}
	return b, nil
}

// appendOmitted appends e, whose line would be n bytes, more than
// MaxEventBytes, with what made it large left out, as CloudTrail does
// with a field past its maximum size: the field becomes an object whose
// member "omitted" is true. The caller's requestParameters and
// responseElements, and an errorMessage that did not come through
// SetError (clipped as SetError clips), the largest first (a policy
// document near IAM's 131,072 characters, escaped, is enough alone).
// "trentOmittedBytes" says how long
// the field was. Every request yields its event: none is refused only
// because its event is large. What is left past the bound is Trent's own
// doing (identity, resources, additionalEventData), and an error.
func (e *Event) appendOmitted(dst []byte, n int) ([]byte, error) {
	c := *e
	c.paramsMark = rawMark{}
	for range 3 {
		msg := 0
		if len(c.ErrorMessage) > MaxErrorMessageBytes {
			msg = len(c.ErrorMessage)
		}
		switch rp, re := omittable(c.RequestParameters), omittable(c.ResponseElements); {
		case msg > 0 && msg >= rp && msg >= re:
			c.ErrorMessage = apierr.ClipMessage(c.ErrorMessage, MaxErrorMessageBytes)
		case rp > 0 && rp >= re:
			c.RequestParameters = omittedField(len(c.RequestParameters))
		case re > 0:
			c.ResponseElements = omittedField(len(c.ResponseElements))
		default:
			return nil, fmt.Errorf("audit: event %s is %d bytes, more than %d, with nothing left to omit", e.EventName, n, MaxEventBytes)
		}
		b, err := c.appendJSON(dst)
		if err != nil {
			return nil, fmt.Errorf("audit: encode event %s: %w", e.EventName, err)
		}
		if len(b)-len(dst) <= MaxEventBytes {
			return b, nil
		}
		dst = b[:len(dst)]
	}
	return nil, fmt.Errorf("audit: event %s is %d bytes, more than %d, after omitting its parameters", e.EventName, n, MaxEventBytes)
}

// omittable is the length of a field appendOmitted may leave out: 0 when
// it is null or already omitted.
func omittable(raw json.RawMessage) int {
	if len(raw) == 0 || bytes.HasPrefix(raw, omittedPrefix) || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return 0
	}
	return len(raw)
}

var omittedPrefix = []byte(`{"omitted":true`)

// omittedField is what stands for a field of n bytes left out of an event.
func omittedField(n int) json.RawMessage {
	return fmt.Appendf(nil, `{"omitted":true,"trentOmittedBytes":%d}`, n)
}

func isObjectOrNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return bytes.Equal(t, []byte("null")) || len(t) > 0 && t[0] == '{'
}
