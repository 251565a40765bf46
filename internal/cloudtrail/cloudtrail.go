// Package cloudtrail serves the one CloudTrail operation Trent answers,
// LookupEvents, from the audit log, so that `aws cloudtrail lookup-events`
// and the SDKs' CloudTrail clients can search what Trent recorded. It
// decodes and checks the input, authorizes the caller (cloudtrail:
// LookupEvents, by identity policy) and restricts every search to the
// caller's own account. It never writes the log, never decides access by
// itself (its Config says who does) and never picks HTTP status codes: it
// returns *apierr.Error values with CloudTrail's exception names, and the
// wire layer (internal/awsproto) writes them.
package cloudtrail

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/awsproto"
	"github.com/trent-kms/trent/internal/identity"
)

// The X-Amz-Target prefixes of CloudTrail's JSON requests: the API
// model's (the AWS CLI, botocore) and the shorter one the Smithy-built
// SDKs send (aws-sdk-go-v2: "CloudTrail_20131101.LookupEvents"). AWS
// accepts both.
const (
	TargetPrefix      = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
	ShortTargetPrefix = "CloudTrail_20131101."
)

// Operation returns the operation an X-Amz-Target names, and whether it
// is a CloudTrail target at all.
func Operation(target string) (string, bool) {
	if name, ok := strings.CutPrefix(target, TargetPrefix); ok {
		return name, true
	}
	if name, ok := strings.CutPrefix(target, ShortTargetPrefix); ok {
		return name, true
	}
	return "", false
}

// ActionLookupEvents is the IAM action that authorizes LookupEvents.
const ActionLookupEvents = "cloudtrail:LookupEvents"

// Searcher finds events in the audit log (*audit.Log implements it).
type Searcher interface {
	Lookup(ctx context.Context, q audit.Query) ([]audit.Match, string, error)
}

// Config is what a Service needs.
type Config struct {
	// Log is the audit log LookupEvents searches. Required.
	Log Searcher
	// Authorize decides whether r's caller may perform action on resource
	// by its identity-based policies (iam.Service.AuthorizeAction); it
	// returns nil or an AccessDenied *apierr.Error. Required.
	Authorize func(ctx context.Context, r *Request, action, resource string) error
}

// Service answers CloudTrail requests.
type Service struct {
	log       Searcher
	authorize func(ctx context.Context, r *Request, action, resource string) error
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Log == nil || cfg.Authorize == nil {
		return nil, errors.New("cloudtrail: a log and an authorizer are required")
	}
	return &Service{log: cfg.Log, authorize: cfg.Authorize}, nil
}

// Request is what the dispatch layer knows of a CloudTrail request
// besides its operation and body.
type Request struct {
	Caller          *identity.Caller
	RequestID       string
	SourceIP        string
	Region          string
	SecureTransport bool
	// Audit is the request's own audit event (nil when audit is off); Call
	// fills its requestParameters.
	Audit *audit.Event
}

// Call runs the operation named (the part of X-Amz-Target after
// TargetPrefix) on body. Operations of CloudTrail other than LookupEvents
// answer UnsupportedOperationException, as Trent keeps no trails.
func (s *Service) Call(ctx context.Context, name string, r *Request, body []byte) (any, error) {
	if r == nil || r.Caller == nil {
		return nil, apierr.Internal(errors.New("cloudtrail: request without a caller"))
	}
	if name != "LookupEvents" {
		return nil, apierr.New(apierr.UnsupportedOperation, "%s is not supported by Trent.", awsproto.Clip(name, 128))
	}
	in := new(LookupEventsInput)
	if err := awsproto.Decode(body, in); err != nil {
		return nil, err
	}
	// Checked before its parameters are recorded, as the KMS rows do: a
	// refused input (an AttributeValue of 300,000 characters) is not
	// repeated into the event, whose requestParameters stay null.
	q, err := in.query(r.Caller.Principal.Account)
	if err != nil {
		return nil, err
	}
	if r.Audit != nil {
		_ = r.Audit.SetRequestParameters(lookupParams, in) // an error leaves them null
	}
	if err := s.authorize(ctx, r, ActionLookupEvents, "*"); err != nil {
		return nil, err
	}
	if in.EventCategory != nil {
		// Only "insight" passes query: Trent records no Insights events.
		return &LookupEventsOutput{Events: []Event{}}, nil
	}
	ms, next, err := s.log.Lookup(ctx, q)
	if err != nil {
		return nil, lookupError(err)
	}
	out := &LookupEventsOutput{Events: make([]Event, 0, len(ms)), NextToken: next}
	for _, m := range ms {
		out.Events = append(out.Events, eventOf(m))
	}
	return out, nil
}

// lookupParams is what a LookupEvents event shows of its input: all of
// it (attributes, times, page size, token), as CloudTrail does.
var lookupParams = audit.MustAllowList(reflect.TypeFor[LookupEventsInput](), audit.AuditableMembers(reflect.TypeFor[LookupEventsInput]())...)

// LookupEventsInput is CloudTrail's LookupEvents request.
type LookupEventsInput struct {
	LookupAttributes []LookupAttribute `json:"LookupAttributes"`
	// StartTime and EndTime are epoch seconds, as the JSON protocol sends
	// timestamps.
	StartTime     *float64 `json:"StartTime"`
	EndTime       *float64 `json:"EndTime"`
	EventCategory *string  `json:"EventCategory"`
	MaxResults    *int32   `json:"MaxResults"`
	NextToken     *string  `json:"NextToken"`
}

// LookupAttribute is one search condition.
type LookupAttribute struct {
	AttributeKey   *string `json:"AttributeKey"`
	AttributeValue *string `json:"AttributeValue"`
}

// LookupEventsOutput is CloudTrail's LookupEvents response.
type LookupEventsOutput struct {
	Events    []Event `json:"Events"`
	NextToken string  `json:"NextToken,omitempty"`
}

// Event is one event found, as LookupEvents returns it.
type Event struct {
	EventId     string              `json:"EventId"`
	EventName   string              `json:"EventName"`
	ReadOnly    string              `json:"ReadOnly"` // "true" or "false": CloudTrail sends a string
	AccessKeyId string              `json:"AccessKeyId,omitempty"`
	EventTime   *awsproto.Timestamp `json:"EventTime,omitempty"`
	EventSource string              `json:"EventSource"`
	Username    string              `json:"Username,omitempty"`
	Resources   []Resource          `json:"Resources"`
	// CloudTrailEvent is the whole event, as a JSON document in a string.
	CloudTrailEvent string `json:"CloudTrailEvent"`
}

// Resource is a resource an event names.
type Resource struct {
	ResourceType string `json:"ResourceType"`
	ResourceName string `json:"ResourceName"`
}

// maxAttributeValue is the API model's bound on AttributeValue.
const maxAttributeValue = 2000

// query checks the input as CloudTrail does and turns it into a search of
// account's events.
func (in *LookupEventsInput) query(account string) (audit.Query, error) {
	q := audit.Query{AccountID: account}
	if len(in.LookupAttributes) > 1 {
		return q, apierr.New(apierr.InvalidLookupAttributes, "You can specify only one lookup attribute.")
	}
	for _, a := range in.LookupAttributes {
		if a.AttributeKey == nil || !knownKey(*a.AttributeKey) {
			return q, apierr.New(apierr.InvalidLookupAttributes, "The attribute key is not valid. Valid keys: EventId, EventName, ReadOnly, Username, ResourceType, ResourceName, EventSource, AccessKeyId.")
		}
		if a.AttributeValue == nil || *a.AttributeValue == "" || len(*a.AttributeValue) > maxAttributeValue {
			return q, apierr.New(apierr.InvalidLookupAttributes, "The attribute value must be 1 to %d characters long.", maxAttributeValue)
		}
		if *a.AttributeKey == audit.AttrReadOnly && *a.AttributeValue != "true" && *a.AttributeValue != "false" {
			return q, apierr.New(apierr.InvalidLookupAttributes, "The ReadOnly attribute value must be true or false.")
		}
		q.Attributes = append(q.Attributes, audit.Attribute{Key: *a.AttributeKey, Value: *a.AttributeValue})
	}
	if in.EventCategory != nil && *in.EventCategory != "insight" {
		return q, apierr.New(apierr.InvalidEventCategory, "The event category is not valid. The only valid value is insight.")
	}
	var err error
	if q.StartTime, err = epoch(in.StartTime); err != nil {
		return q, err
	}
	if q.EndTime, err = epoch(in.EndTime); err != nil {
		return q, err
	}
	if !q.StartTime.IsZero() && !q.EndTime.IsZero() && q.StartTime.After(q.EndTime) {
		return q, apierr.New(apierr.InvalidTimeRange, "Start time must be before end time.")
	}
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 50 {
			return q, apierr.New(apierr.InvalidMaxResults, "MaxResults must be from 1 to 50.")
		}
		q.MaxResults = int(*in.MaxResults)
	}
	if in.NextToken != nil {
		q.NextToken = *in.NextToken
	}
	return q, nil
}

func knownKey(k string) bool {
	switch k {
	case audit.AttrEventID, audit.AttrEventName, audit.AttrReadOnly, audit.AttrUsername,
		audit.AttrResourceType, audit.AttrResourceName, audit.AttrEventSource, audit.AttrAccessKeyID:
		return true
	}
	return false
}

// epoch converts a JSON timestamp (epoch seconds, maybe fractional); nil
// is the zero time, an unbounded end of the range.
func epoch(secs *float64) (time.Time, error) {
	if secs == nil {
		return time.Time{}, nil
	}
	// Beyond ±2^53 seconds a float64 no longer holds whole seconds, and
	// no event is that far from now anyway.
	if math.Abs(*secs) > 1<<53 {
		return time.Time{}, apierr.New(apierr.InvalidTimeRange, "The time is out of range.")
	}
	whole, frac := math.Modf(*secs)
	return time.Unix(int64(whole), int64(frac*1e9)).UTC(), nil
}

// lookupError maps the audit log's errors to CloudTrail's exceptions.
func lookupError(err error) error {
	for _, m := range []struct {
		err  error
		code string
		msg  string
	}{
		{audit.ErrInvalidLookupAttributes, apierr.InvalidLookupAttributes, "The lookup attributes are not valid."},
		{audit.ErrInvalidTimeRange, apierr.InvalidTimeRange, "Start time must be before end time."},
		{audit.ErrInvalidMaxResults, apierr.InvalidMaxResults, "MaxResults must be from 1 to 50."},
		{audit.ErrInvalidNextToken, apierr.InvalidNextToken, "The NextToken is not valid for this request."},
	} {
		if errors.Is(err, m.err) {
			return apierr.New(m.code, "%s", m.msg)
		}
	}
	return apierr.Internal(fmt.Errorf("cloudtrail: lookup: %w", err))
}

func eventOf(m audit.Match) Event {
	e := Event{
		EventId: m.EventID, EventName: m.EventName, ReadOnly: fmt.Sprint(m.ReadOnly),
		AccessKeyId: m.AccessKeyID, EventTime: awsproto.Time(m.EventTime), EventSource: m.EventSource,
		Username: m.Username, Resources: make([]Resource, 0, len(m.Resources)),
		CloudTrailEvent: string(m.CloudTrailEvent),
	}
	for _, r := range m.Resources {
		e.Resources = append(e.Resources, Resource{ResourceType: r.Type, ResourceName: r.ARN})
	}
	return e
}
