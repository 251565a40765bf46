package kms

import (
	"context"
	"reflect"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsproto"
)

// Caller is the authenticated principal of a request.
type Caller struct {
	Account      string
	PrincipalARN string
	AccessKeyID  string
}

// Request carries what the dispatch layer knows about a call.
type Request struct {
	Caller    Caller
	RequestID string
	SourceIP  string
}

// Operation is one row of the operation table: the wire name, the IAM action
// that authorizes it, and the handler. The dispatch layer authenticates,
// authorizes and audits every row the same way; handlers never do.
type Operation struct {
	Name   string
	Action string
	// ReadOnly marks operations that change nothing (CloudTrail's readOnly).
	ReadOnly bool
	// Input is the type the request body decodes into (nil for operations
	// Trent does not implement), so that tests and tools can reach every
	// member of every operation.
	Input reflect.Type
	call  func(ctx context.Context, s *Service, r *Request, body []byte) (any, error)
}

// handler adapts a typed handler to the table: the body is decoded into a
// fresh input value before the handler runs.
func handler[In any](h func(s *Service, ctx context.Context, r *Request, in *In) (any, error)) func(context.Context, *Service, *Request, []byte) (any, error) {
	return func(ctx context.Context, s *Service, r *Request, body []byte) (any, error) {
		in := new(In)
		if err := awsproto.Decode(body, in); err != nil {
			return nil, err
		}
		return h(s, ctx, r, in)
	}
}

func row[In any](name string, readOnly bool, h func(s *Service, ctx context.Context, r *Request, in *In) (any, error)) *Operation {
	return &Operation{Name: name, Action: "kms:" + name, ReadOnly: readOnly, Input: reflect.TypeFor[In](), call: handler(h)}
}

var operations = map[string]*Operation{}

func init() {
	for _, op := range []*Operation{
		row("CreateKey", false, (*Service).CreateKey),
		row("DescribeKey", true, (*Service).DescribeKey),
		row("ListKeys", true, (*Service).ListKeys),
		row("UpdateKeyDescription", false, (*Service).UpdateKeyDescription),
		row("EnableKey", false, (*Service).EnableKey),
		row("DisableKey", false, (*Service).DisableKey),
		row("ScheduleKeyDeletion", false, (*Service).ScheduleKeyDeletion),
		row("CancelKeyDeletion", false, (*Service).CancelKeyDeletion),
		row("Encrypt", false, (*Service).Encrypt),
		row("Decrypt", false, (*Service).Decrypt),
		row("ReEncrypt", false, (*Service).ReEncrypt),
		row("GenerateDataKey", false, (*Service).GenerateDataKey),
		row("GenerateDataKeyWithoutPlaintext", false, (*Service).GenerateDataKeyWithoutPlaintext),
		row("GenerateRandom", false, (*Service).GenerateRandom),
		row("CreateAlias", false, (*Service).CreateAlias),
		row("UpdateAlias", false, (*Service).UpdateAlias),
		row("DeleteAlias", false, (*Service).DeleteAlias),
		row("ListAliases", true, (*Service).ListAliases),
		row("TagResource", false, (*Service).TagResource),
		row("UntagResource", false, (*Service).UntagResource),
		row("ListResourceTags", true, (*Service).ListResourceTags),
		row("GetKeyPolicy", true, (*Service).GetKeyPolicy),
		row("PutKeyPolicy", false, (*Service).PutKeyPolicy),
		row("ListKeyPolicies", true, (*Service).ListKeyPolicies),
		row("EnableKeyRotation", false, (*Service).EnableKeyRotation),
		row("DisableKeyRotation", false, (*Service).DisableKeyRotation),
		row("GetKeyRotationStatus", true, (*Service).GetKeyRotationStatus),
		row("RotateKeyOnDemand", false, (*Service).RotateKeyOnDemand),
		row("ListKeyRotations", true, (*Service).ListKeyRotations),
		row("Sign", false, (*Service).Sign),
		row("Verify", false, (*Service).Verify),
		row("GetPublicKey", true, (*Service).GetPublicKey),
		row("GenerateMac", false, (*Service).GenerateMac),
		row("VerifyMac", false, (*Service).VerifyMac),
		row("DeriveSharedSecret", false, (*Service).DeriveSharedSecret),
		row("GenerateDataKeyPair", false, (*Service).GenerateDataKeyPair),
		row("GenerateDataKeyPairWithoutPlaintext", false, (*Service).GenerateDataKeyPairWithoutPlaintext),
	} {
		operations[op.Name] = op
	}
	// Operations AWS KMS has that Trent does not implement yet answer
	// UnsupportedOperationException naming themselves, so a client can tell
	// "not here yet" from "no such operation".
	for _, name := range []string{
		"ConnectCustomKeyStore", "CreateCustomKeyStore", "CreateGrant", "DeleteCustomKeyStore",
		"DeleteImportedKeyMaterial", "DescribeCustomKeyStores", "DisconnectCustomKeyStore",
		"GetKeyLastUsage", "GetParametersForImport", "ImportKeyMaterial", "ListGrants",
		"ListRetirableGrants", "ReplicateKey", "RetireGrant", "RevokeGrant",
		"UpdateCustomKeyStore", "UpdatePrimaryRegion",
	} {
		name := name
		operations[name] = &Operation{Name: name, Action: "kms:" + name,
			call: func(context.Context, *Service, *Request, []byte) (any, error) {
				return nil, apierr.New(apierr.UnsupportedOperation, "%s is not supported by Trent yet.", name)
			}}
	}
}

// Lookup returns the operation with the given wire name.
func Lookup(name string) (*Operation, bool) {
	op, ok := operations[name]
	return op, ok
}

// Call decodes body and runs the operation. It returns the typed output (nil
// for operations without one) or an error for the wire layer to encode.
func (s *Service) Call(ctx context.Context, op *Operation, r *Request, body []byte) (any, error) {
	return op.call(ctx, s, r, body)
}
