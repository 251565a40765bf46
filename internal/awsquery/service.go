// Package awsquery is the AWS Query wire format of the IAM and STS APIs:
// decoding form-encoded request bodies into typed inputs, encoding typed
// outputs as XML, and turning *apierr.Error values into Query error
// responses with AWS's HTTP status codes. It mirrors internal/awsproto,
// which does the same for the JSON 1.1 protocol of KMS.
//
// Each service (IAM, STS) is a table of operations: a name, an input type
// and an output type. Service.Decode picks the row from the Action
// parameter and fills a new input; Service.WriteResult and
// Service.WriteError answer. Inputs and outputs are hand-written structs
// tagged with AWS's member names (`query:"UserName,required"`); the
// aws-sdk-go-v2 shapes are a test-only dependency, never wire types.
//
// The package decodes and encodes; it never decides what a request means.
// It checks the structure of a request (percent-encoding, duplicates,
// list numbering, value types, absent required members) but leaves
// lengths, patterns and enumerations to the handlers, and it never echoes
// more than a bounded prefix of caller-supplied text in a message.
package awsquery

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/trent-kms/trent/internal/apierr"
)

// Service is one Query API: its name in the SigV4 credential scope, the
// API version its requests must name, the XML namespace of its responses
// and its operations. A Service is immutable and safe for concurrent use.
type Service struct {
	Name      string // "iam" or "sts"
	Version   string // "2010-05-08" or "2011-06-15"
	Namespace string // e.g. "https://iam.amazonaws.com/doc/2010-05-08/"

	// internalCode answers failures of the server itself: IAM models
	// ServiceFailure; STS has only the common InternalFailure.
	internalCode string
	ops          map[string]*Operation
}

// Operation is one row of a service's table.
type Operation struct {
	Name   string // the Action, e.g. "CreateUser"
	input  reflect.Type
	output reflect.Type // nil when the operation has no result
}

// NewInput returns a pointer to a new, zero input of the operation.
func (op *Operation) NewInput() any { return reflect.New(op.input).Interface() }

// InputType is the operation's input struct type.
func (op *Operation) InputType() reflect.Type { return op.input }

// OutputType is the operation's output struct type, or nil when its
// response has no Result element.
func (op *Operation) OutputType() reflect.Type { return op.output }

// row declares an operation with a result.
func row[In, Out any](name string) *Operation {
	return &Operation{Name: name, input: reflect.TypeFor[In](), output: reflect.TypeFor[Out]()}
}

// rowNoResult declares an operation whose response is only
// ResponseMetadata.
func rowNoResult[In any](name string) *Operation {
	return &Operation{Name: name, input: reflect.TypeFor[In]()}
}

// newService builds a table and checks every shape in it once, so that a
// shape the codec cannot carry fails at start-up (and in every test run)
// rather than on a request.
func newService(name, version, namespace, internalCode string, ops ...*Operation) *Service {
	s := &Service{Name: name, Version: version, Namespace: namespace, internalCode: internalCode,
		ops: make(map[string]*Operation, len(ops))}
	for _, op := range ops {
		if _, dup := s.ops[op.Name]; dup {
			panic(fmt.Sprintf("awsquery: %s: operation %s declared twice", name, op.Name))
		}
		if err := checkShape(op.input, true); err != nil {
			panic(fmt.Sprintf("awsquery: %s %s input: %v", name, op.Name, err))
		}
		if op.output != nil {
			if err := checkShape(op.output, false); err != nil {
				panic(fmt.Sprintf("awsquery: %s %s output: %v", name, op.Name, err))
			}
		}
		s.ops[op.Name] = op
	}
	return s
}

// Lookup returns the operation named action.
func (s *Service) Lookup(action string) (*Operation, bool) {
	op, ok := s.ops[action]
	return op, ok
}

// Operations returns the service's operations sorted by name.
func (s *Service) Operations() []*Operation {
	ops := make([]*Operation, 0, len(s.ops))
	for _, op := range s.ops {
		ops = append(ops, op)
	}
	slices.SortFunc(ops, func(a, b *Operation) int { return strings.Compare(a.Name, b.Name) })
	return ops
}

// Decode parses a form-encoded request body (the server has already
// capped its size) and returns the operation its Action names with a
// pointer to the decoded input. Every error is an *apierr.Error with a
// Query code and a 4xx status:
//
//   - a malformed body: MalformedQueryString; too many or repeated
//     parameters, or a list that is not numbered 1..N: InvalidQueryParameter
//   - no Action: MissingAction
//   - an Action the service does not serve, or a Version other than the
//     service's: InvalidAction, "Could not find operation X for version V"
//   - a value of the wrong type: InvalidParameterValue
//   - absent required members: ValidationError, worded as AWS words it
func (s *Service) Decode(body []byte) (*Operation, any, error) {
	ps, err := parseForm(body)
	if err != nil {
		return nil, nil, err
	}
	action, ok := lookup(ps, "Action")
	if !ok || action == "" {
		return nil, nil, apierr.New(MissingAction, "Missing Action")
	}
	version, ok := lookup(ps, "Version")
	if !ok {
		version = noVersion
	}
	op, found := s.ops[action]
	if !found || version != s.Version {
		return nil, nil, apierr.New(InvalidAction, "Could not find operation %s for version %s", clip(action), clip(version))
	}
	in := op.NewInput()
	if err := unmarshal(ps, in); err != nil {
		return nil, nil, err
	}
	return op, in, nil
}
