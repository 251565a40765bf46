package kms

import (
	"bytes"
	"encoding/json"
	"sync"

	"context"
	"errors"
	"github.com/trent-kms/trent/internal/audit"
	"reflect"
	"slices"
	"strconv"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsproto"
)

// Operation is one row of the operation table: the wire name, the IAM
// action that authorizes it, and how the dispatch layer runs it. Every row
// runs the same way (invoke): decode, check the input against the API
// model, resolve the resources it names and decide whether the caller may
// act on them (the row's access step, authz.go), then the handler with the
// resources it was allowed. Handlers never decide access.
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
	// params picks the input members an audit event shows as
	// requestParameters; respond says whether it shows the output as
	// responseElements (AWS shows none for cryptographic and read-only
	// operations).
	params  *audit.AllowList
	respond bool
	// keyInResponse adds the key's ARN to responseElements
	// (keyARNResponse), grantInEvent the retired grant's id to
	// additionalEventData: decided once per row, not per request.
	keyInResponse, grantInEvent bool
	// invoke runs the row on an already decoded input (package tests).
	invoke func(ctx context.Context, s *Service, r *Request, in any) (any, error)
	// quota is how the row finds the request quota it counts against
	// (throttle.go).
	quota quota
}

// spec is what a row declares.
type spec[In any] struct {
	// check applies the API model's constraints and the rules that need no
	// key, so a malformed request is refused before anything is looked up
	// (AWS answers ValidationException before AccessDeniedException).
	check func(*In) error
	// auth resolves the resources the request names, sets its condition
	// keys and decides; it leaves what it authorized in the access value.
	auth func(*access, context.Context, *In) error
	// run does the work on the resources auth allowed.
	run func(*Service, context.Context, *Request, *In, *access) (any, error)
}

func row[In any](name string, readOnly bool, sp spec[In]) *Operation {
	if sp.auth == nil || sp.run == nil {
		panic("kms: row " + name + " lacks an access step or a handler")
	}
	// Cryptographic operations change nothing either: AWS's events mark
	// them readOnly (the developer guide's 2025 examples for Encrypt,
	// GenerateDataKey, ReEncrypt and Decapsulate).
	op := &Operation{Name: name, Action: "kms:" + name, ReadOnly: readOnly || cryptoOperations[name], Input: reflect.TypeFor[In]()}
	op.params = audit.MustAllowList(op.Input, audit.AuditableMembers(op.Input, notAudited...)...)
	for member, v := range auditDefaults[name] {
		op.params.WithDefault(member, v)
	}
	op.respond = !readOnly && !cryptoOperations[name]
	op.keyInResponse = keyARNResponse[name]
	op.grantInEvent = name == "RetireGrant"
	op.quota = quotaOf(name)
	op.call = func(ctx context.Context, s *Service, r *Request, body []byte) (any, error) {
		in := new(In)
		if err := awsproto.Decode(body, in); err != nil {
			return nil, err
		}
		return invoke(ctx, s, r, op, &sp, in)
	}
	op.invoke = func(ctx context.Context, s *Service, r *Request, in any) (any, error) {
		return invoke(ctx, s, r, op, &sp, in.(*In))
	}
	return op
}

// invoke runs one request through a row: check, authorize, handle.
func invoke[In any](ctx context.Context, s *Service, r *Request, op *Operation, sp *spec[In], in *In) (any, error) {
	if r == nil || r.Caller == nil || r.Caller.Principal.ARN == "" || r.Region == "" {
		// The server always says who calls and where; without that there
		// is nothing to authorize against.
		return nil, apierr.Internal(errors.New("kms: request without a caller or a region"))
	}
	if s.throttle != nil {
		if err := s.throttleEarly(r, op.quota, in); err != nil {
			return nil, err
		}
	}
	if sp.check != nil {
		if err := sp.check(in); err != nil {
			return nil, err
		}
	}
	if r.Audit != nil {
		_ = r.Audit.SetRequestParameters(op.params, in) // an error leaves them null, as auditJSON does
	}
	// The request may read key material: the cache must not zero what
	// it looked up until it ends (reclaim.go).
	defer s.leaveSection(s.enterSection())
	a := s.newAccess(r, op.Action)
	defer a.release()
	err := sp.auth(a, ctx, in)
	if s.throttle != nil && op.quota.by == quotaByKey {
		if terr := s.throttleByKey(r, a); terr != nil {
			return nil, terr
		}
	}
	if err != nil {
		return nil, err
	}
	out, err := sp.run(s, ctx, r, in, a)
	if err == nil && r.Audit != nil {
		auditOutcome(r.Audit, op, out, a)
	}
	return out, err
}

// auditDefaults are the parameters an operation's event shows with their
// default when the request leaves them out: "The CloudTrail log entry for a
// Decrypt operation always includes the encryptionAlgorithm in the
// requestParameters even if the encryption algorithm wasn't specified in
// the request" (AWS KMS developer guide, ct-decrypt).
var auditDefaults = map[string]map[string]string{
	"Decrypt": {"EncryptionAlgorithm": AlgSymmetric},
}

// notAudited are input and output members that are credentials even
// though they are strings: a grant token lets its bearer use a grant.
var notAudited = []string{"GrantTokens", "GrantToken"}

// cryptoOperations answer with data, not with a changed resource:
// CloudTrail shows their responseElements as null.
var cryptoOperations = map[string]bool{
	"Encrypt": true, "Decrypt": true, "ReEncrypt": true, "GenerateDataKey": true,
	"GenerateDataKeyWithoutPlaintext": true, "GenerateDataKeyPair": true,
	"GenerateDataKeyPairWithoutPlaintext": true, "GenerateRandom": true, "Sign": true,
	"Verify": true, "GenerateMac": true, "VerifyMac": true, "DeriveSharedSecret": true,
	"Encapsulate": true, "Decapsulate": true,
}

// responseLists caches the allow-list of each output type.
var responseLists sync.Map // reflect.Type → *audit.AllowList

// auditOutcome fills an event from a successful operation's output: the
// key a CreateKey made, the key material a symmetric cryptographic
// operation used, and the response elements of operations that change
// something, from what the access step authorized (a.key, the key; nil
// for operations without one).
func auditOutcome(ev *audit.Event, op *Operation, out any, a *access) {
	e := a.key
	auditMaterial(ev, out, e)
	if op.grantInEvent && a.grant != nil {
		// The grant retired, which a request by token alone does not
		// show: AWS's event names it in additionalEventData.
		ev.AdditionalEventData = grantEvent(a.grant.g.GrantID)
	}
	if k, ok := out.(*awsproto.KeyMetadataOutput); ok && op.Name == "CreateKey" && k.KeyMetadata != nil {
		addKeyOnce(ev, k.KeyMetadata.Arn)
	}
	if r, ok := out.(*awsproto.ReplicateKeyOutput); ok && r.ReplicaKeyMetadata != nil {
		addKeyOnce(ev, r.ReplicaKeyMetadata.Arn) // the replica it made, beside the primary
	}
	if op.respond && out != nil {
		t := reflect.TypeOf(out)
		l, ok := responseLists.Load(t)
		if !ok {
			l, _ = responseLists.LoadOrStore(t, audit.MustAllowList(t, audit.AuditableMembers(t, notAudited...)...))
		}
		ev.ResponseElements = auditJSON(l.(*audit.AllowList), out)
	}
	if op.keyInResponse && e != nil {
		ev.ResponseElements = withKeyARN(ev.ResponseElements, e.arn)
	}
}

// keyARNResponse are the operations whose events AWS has given, since
// December 2022, "the key ARN of the affected KMS key in the
// responseElements.keyId value, even though this operation does not
// return the key ARN" (the developer guide's CloudTrail pages for each).
var keyARNResponse = map[string]bool{
	"EnableKey": true, "DisableKey": true, "UpdateAlias": true, "DeleteAlias": true, "CreateGrant": true,
}

// withKeyARN adds "keyId": arn to response elements: the object they are,
// or a new one if they are none.
func withKeyARN(elems json.RawMessage, arn string) json.RawMessage {
	key, _ := json.Marshal(arn)
	if n := len(elems); n >= 2 && elems[0] == '{' && elems[n-1] == '}' {
		out := append(bytes.Clone(elems[:n-1]), ',')
		if n == 2 {
			out = out[:1] // {} has no member to follow
		}
		out = append(append(append(out, `"keyId":`...), key...), '}')
		return out
	}
	return append(append([]byte(`{"keyId":`), key...), '}')
}

// auditMaterial records, as AWS's events have since 2025, which key
// material a symmetric cryptographic operation used: additionalEventData
// {"keyMaterialId"} for Encrypt, Decrypt and the data key operations,
// {"sourceKeyMaterialId", "destinationKeyMaterialId"} for ReEncrypt.
// Encrypt's answer does not name its material: it is the current one of
// the key the request was authorized on, which the handler encrypted
// under.
func auditMaterial(ev *audit.Event, out any, e *keyEntry) {
	var id string
	switch o := out.(type) {
	case *awsproto.EncryptOutput:
		if e != nil && e.materialID(e.current) != "" {
			ev.AdditionalEventData = e.current.materialEvent
		}
		return
	case *awsproto.DecryptOutput:
		id = o.KeyMaterialId
	case *awsproto.GenerateDataKeyOutput:
		id = o.KeyMaterialId
	case *awsproto.GenerateDataKeyPairOutput:
		id = o.KeyMaterialId
	case *awsproto.ReEncryptOutput:
		if o.SourceKeyMaterialId != "" || o.DestinationKeyMaterialId != "" {
			ev.AdditionalEventData = materialPairEvent(o.SourceKeyMaterialId, o.DestinationKeyMaterialId)
		}
		return
	}
	switch {
	case id == "":
	case e != nil && e.current != nil && e.current.materialID == id:
		ev.AdditionalEventData = e.current.materialEvent // prepared: no work per request
	default:
		ev.AdditionalEventData = materialEvent(id) // an older version's material
	}
}

// materialEvent and materialPairEvent are additionalEventData naming key
// material.
func materialEvent(id string) json.RawMessage {
	b, _ := json.Marshal(struct {
		KeyMaterialID string `json:"keyMaterialId"`
	}{id})
	return b
}

func grantEvent(id string) json.RawMessage {
	b, _ := json.Marshal(struct {
		GrantID string `json:"grantId"`
	}{id})
	return b
}

func materialPairEvent(source, destination string) json.RawMessage {
	b, _ := json.Marshal(struct {
		Destination string `json:"destinationKeyMaterialId,omitempty"`
		Source      string `json:"sourceKeyMaterialId,omitempty"`
	}{destination, source})
	return b
}

// auditJSON is the allow-listed JSON of v; an error (which the list's
// checks at build time rule out) leaves the member null rather than fail
// the request.
func auditJSON(l *audit.AllowList, v any) json.RawMessage {
	b, err := l.JSON(v)
	if err != nil {
		return nil
	}
	return b
}

var operations = map[string]*Operation{}

// Accessors of the members rows authorize on.
func keyIDOf(in *awsproto.KeyIdInput) *string                    { return in.KeyId }
func describeKeyID(in *awsproto.DescribeKeyInput) *string        { return in.KeyId }
func describeTokens(in *awsproto.DescribeKeyInput) []string      { return in.GrantTokens }
func encryptKeyID(in *awsproto.EncryptInput) *string             { return in.KeyId }
func encryptEC(in *awsproto.EncryptInput) map[string]string      { return in.EncryptionContext }
func encryptTokens(in *awsproto.EncryptInput) []string           { return in.GrantTokens }
func signKeyID(in *awsproto.SignInput) *string                   { return in.KeyId }
func signTokens(in *awsproto.SignInput) []string                 { return in.GrantTokens }
func verifyKeyID(in *awsproto.VerifyInput) *string               { return in.KeyId }
func verifyTokens(in *awsproto.VerifyInput) []string             { return in.GrantTokens }
func macKeyID(in *awsproto.GenerateMacInput) *string             { return in.KeyId }
func macTokens(in *awsproto.GenerateMacInput) []string           { return in.GrantTokens }
func verifyMacKeyID(in *awsproto.VerifyMacInput) *string         { return in.KeyId }
func verifyMacTokens(in *awsproto.VerifyMacInput) []string       { return in.GrantTokens }
func deriveKeyID(in *awsproto.DeriveSharedSecretInput) *string   { return in.KeyId }
func deriveTokens(in *awsproto.DeriveSharedSecretInput) []string { return in.GrantTokens }
func tagKeyID(in *awsproto.TagResourceInput) *string             { return in.KeyId }
func untagKeyID(in *awsproto.UntagResourceInput) *string         { return in.KeyId }
func listTagsKeyID(in *awsproto.ListResourceTagsInput) *string   { return in.KeyId }
func getPolicyKeyID(in *awsproto.GetKeyPolicyInput) *string      { return in.KeyId }
func putPolicyKeyID(in *awsproto.PutKeyPolicyInput) *string      { return in.KeyId }
func listPoliciesKeyID(in *awsproto.ListKeyPoliciesInput) *string {
	return in.KeyId
}
func describeKeyUpdateID(in *awsproto.UpdateKeyDescriptionInput) *string { return in.KeyId }
func scheduleKeyID(in *awsproto.ScheduleKeyDeletionInput) *string        { return in.KeyId }
func rotationKeyID(in *awsproto.EnableKeyRotationInput) *string          { return in.KeyId }
func rotationsKeyID(in *awsproto.ListKeyRotationsInput) *string          { return in.KeyId }
func listGrantsKeyID(in *awsproto.ListGrantsInput) *string               { return in.KeyId }
func revokeKeyID(in *awsproto.RevokeGrantInput) *string                  { return in.KeyId }

func dataKeyID(in *awsproto.GenerateDataKeyWithoutPlaintextInput) *string { return in.KeyId }
func dataKeyEC(in *awsproto.GenerateDataKeyWithoutPlaintextInput) map[string]string {
	return in.EncryptionContext
}
func dataKeyTokens(in *awsproto.GenerateDataKeyWithoutPlaintextInput) []string {
	return in.GrantTokens
}
func dataKeyWithID(in *awsproto.GenerateDataKeyInput) *string { return in.KeyId }
func dataKeyWithEC(in *awsproto.GenerateDataKeyInput) map[string]string {
	return in.EncryptionContext
}
func dataKeyWithTokens(in *awsproto.GenerateDataKeyInput) []string { return in.GrantTokens }
func pairKeyID(in *awsproto.GenerateDataKeyPairWithoutPlaintextInput) *string {
	return in.KeyId
}
func pairEC(in *awsproto.GenerateDataKeyPairWithoutPlaintextInput) map[string]string {
	return in.EncryptionContext
}
func pairTokens(in *awsproto.GenerateDataKeyPairWithoutPlaintextInput) []string {
	return in.GrantTokens
}
func pairWithID(in *awsproto.GenerateDataKeyPairInput) *string { return in.KeyId }
func pairWithEC(in *awsproto.GenerateDataKeyPairInput) map[string]string {
	return in.EncryptionContext
}
func pairWithTokens(in *awsproto.GenerateDataKeyPairInput) []string { return in.GrantTokens }

// The condition keys rows set from their requests.
func condEncryptAlg(a *access, in *awsproto.EncryptInput) {
	a.setOr(condEncryptionAlg, in.EncryptionAlgorithm, AlgSymmetric)
}
func condSymmetricAlg[In any](a *access, _ *In) { a.set(condEncryptionAlg, AlgSymmetric) }
func condPairSpec(a *access, in *awsproto.GenerateDataKeyPairWithoutPlaintextInput) {
	a.set(condEncryptionAlg, AlgSymmetric)
	a.setOr(condDataKeyPairSpec, in.KeyPairSpec, "")
}
func condPairWithSpec(a *access, in *awsproto.GenerateDataKeyPairInput) {
	condPairSpec(a, &in.GenerateDataKeyPairWithoutPlaintextInput)
}
func condSign(a *access, in *awsproto.SignInput) {
	a.setOr(condSigningAlg, in.SigningAlgorithm, "")
	a.setOr(condMessageType, in.MessageType, messageTypeRaw)
}
func condVerify(a *access, in *awsproto.VerifyInput) {
	a.setOr(condSigningAlg, in.SigningAlgorithm, "")
	a.setOr(condMessageType, in.MessageType, messageTypeRaw)
}
func condMac(a *access, in *awsproto.GenerateMacInput) { a.setOr(condMacAlg, in.MacAlgorithm, "") }
func condVerifyMac(a *access, in *awsproto.VerifyMacInput) {
	a.setOr(condMacAlg, in.MacAlgorithm, "")
}
func condDerive(a *access, in *awsproto.DeriveSharedSecretInput) {
	a.setOr(condKeyAgreementAlg, in.KeyAgreementAlgorithm, "")
}
func condSchedule(a *access, in *awsproto.ScheduleKeyDeletionInput) {
	days := int32(defaultPendingWindow)
	if in.PendingWindowInDays != nil {
		days = *in.PendingWindowInDays
	}
	a.set(condPendingWindow, strconv.Itoa(int(days)))
}
func condRotation(a *access, in *awsproto.EnableKeyRotationInput) {
	days := int32(defaultRotationPeriod)
	if in.RotationPeriodInDays != nil {
		days = *in.RotationPeriodInDays
	}
	a.set(condRotationPeriod, strconv.Itoa(int(days)))
}
func condPutPolicy(a *access, in *awsproto.PutKeyPolicyInput) {
	a.set(condBypassLockout, boolString(in.BypassPolicyLockoutSafetyCheck))
}
func condTagResource(a *access, in *awsproto.TagResourceInput) { a.requestTags(in.Tags) }
func condUntagResource(a *access, in *awsproto.UntagResourceInput) {
	a.req.Context.SetMulti(condTagKeys, in.TagKeys)
}
func condNotForAWS[In any](a *access, _ *In) { a.set(condGrantForAWS, "false") }

// requestTags sets aws:RequestTag/<k> and aws:TagKeys for the tags a
// request adds. Tag keys are case-sensitive, so "Team" and "team" may both
// be there: Add keeps both values of aws:RequestTag/team.
func (a *access) requestTags(tags []awsproto.Tag) {
	if len(tags) == 0 {
		return
	}
	keys := make([]string, 0, len(tags))
	for _, t := range tags {
		if t.TagKey == nil || t.TagValue == nil {
			continue
		}
		a.req.Context.Add(prefixRequestTag+*t.TagKey, *t.TagValue)
		keys = append(keys, *t.TagKey)
	}
	a.req.Context.SetMulti(condTagKeys, keys)
}

// authEncrypt is Encrypt's access step, named for BenchmarkAuthorizeEncrypt.
var authEncrypt = keyAuth(keyed[awsproto.EncryptInput]{id: encryptKeyID, flags: crypto, cross: true, grant: opEncrypt, ec: encryptEC, tokens: encryptTokens, cond: condEncryptAlg})

const (
	// crypto is the lookup of the cryptographic operations: every KeyId
	// form, keys of other accounts included.
	crypto = aliasOK
)

func init() {
	for _, op := range []*Operation{
		row("CreateKey", false, spec[awsproto.CreateKeyInput]{check: checkCreateKey, auth: accountAuth(condCreateKey), run: (*Service).createKey}),
		row("DescribeKey", true, spec[awsproto.DescribeKeyInput]{check: checkDescribeKey,
			auth: keyAuth(keyed[awsproto.DescribeKeyInput]{id: describeKeyID, flags: aliasOK, cross: true, grant: opDescribeKey, tokens: describeTokens}),
			run:  (*Service).describeKey}),
		row("ListKeys", true, spec[awsproto.ListInput]{check: checkListKeys, auth: accountAuth[awsproto.ListInput](nil), run: (*Service).listKeys}),
		row("UpdateKeyDescription", false, spec[awsproto.UpdateKeyDescriptionInput]{check: checkUpdateKeyDescription,
			auth: keyAuth(keyed[awsproto.UpdateKeyDescriptionInput]{id: describeKeyUpdateID}), run: (*Service).updateKeyDescription}),
		row("EnableKey", false, spec[awsproto.KeyIdInput]{check: checkKeyIDOnly, auth: keyAuth(keyed[awsproto.KeyIdInput]{id: keyIDOf}), run: (*Service).enableKey}),
		row("DisableKey", false, spec[awsproto.KeyIdInput]{check: checkKeyIDOnly, auth: keyAuth(keyed[awsproto.KeyIdInput]{id: keyIDOf}), run: (*Service).disableKey}),
		row("ScheduleKeyDeletion", false, spec[awsproto.ScheduleKeyDeletionInput]{check: checkScheduleKeyDeletion,
			auth: keyAuth(keyed[awsproto.ScheduleKeyDeletionInput]{id: scheduleKeyID, cond: condSchedule}), run: (*Service).scheduleKeyDeletion}),
		row("CancelKeyDeletion", false, spec[awsproto.KeyIdInput]{check: checkKeyIDOnly, auth: keyAuth(keyed[awsproto.KeyIdInput]{id: keyIDOf}), run: (*Service).cancelKeyDeletion}),

		row("Encrypt", false, spec[awsproto.EncryptInput]{check: checkEncrypt, auth: authEncrypt, run: (*Service).encrypt}),
		row("Decrypt", false, spec[awsproto.DecryptInput]{check: checkDecrypt, auth: authDecrypt, run: (*Service).decrypt}),
		row("ReEncrypt", false, spec[awsproto.ReEncryptInput]{check: checkReEncrypt, auth: authReEncrypt, run: (*Service).reEncrypt}),
		row("GenerateDataKey", false, spec[awsproto.GenerateDataKeyInput]{check: checkGenerateDataKeyWith,
			auth: keyAuth(keyed[awsproto.GenerateDataKeyInput]{id: dataKeyWithID, flags: crypto, cross: true, grant: opGenerateDataKey, ec: dataKeyWithEC, tokens: dataKeyWithTokens, cond: condSymmetricAlg[awsproto.GenerateDataKeyInput]}),
			run:  (*Service).generateDataKeyWith}),
		row("GenerateDataKeyWithoutPlaintext", false, spec[awsproto.GenerateDataKeyWithoutPlaintextInput]{check: checkGenerateDataKey,
			auth: keyAuth(keyed[awsproto.GenerateDataKeyWithoutPlaintextInput]{id: dataKeyID, flags: crypto, cross: true, grant: opGenerateDataKeyWithoutPlaintext, ec: dataKeyEC, tokens: dataKeyTokens, cond: condSymmetricAlg[awsproto.GenerateDataKeyWithoutPlaintextInput]}),
			run:  (*Service).generateDataKeyWithout}),
		row("GenerateRandom", false, spec[awsproto.GenerateRandomInput]{check: checkGenerateRandom, auth: accountAuth[awsproto.GenerateRandomInput](nil), run: (*Service).generateRandom}),

		row("CreateAlias", false, spec[awsproto.AliasInput]{check: checkCreateAlias, auth: authCreateAlias, run: (*Service).createAlias}),
		row("UpdateAlias", false, spec[awsproto.AliasInput]{check: checkCreateAlias, auth: authUpdateAlias, run: (*Service).updateAlias}),
		row("DeleteAlias", false, spec[awsproto.AliasInput]{check: checkDeleteAlias, auth: authDeleteAlias, run: (*Service).deleteAlias}),
		row("ListAliases", true, spec[awsproto.ListAliasesInput]{check: checkListAliases, auth: authListAliases, run: (*Service).listAliases}),

		row("TagResource", false, spec[awsproto.TagResourceInput]{check: checkTagResource,
			auth: keyAuth(keyed[awsproto.TagResourceInput]{id: tagKeyID, cond: condTagResource}), run: (*Service).tagResource}),
		row("UntagResource", false, spec[awsproto.UntagResourceInput]{check: checkUntagResource,
			auth: keyAuth(keyed[awsproto.UntagResourceInput]{id: untagKeyID, cond: condUntagResource}), run: (*Service).untagResource}),
		row("ListResourceTags", true, spec[awsproto.ListResourceTagsInput]{check: checkListResourceTags,
			auth: keyAuth(keyed[awsproto.ListResourceTagsInput]{id: listTagsKeyID}), run: (*Service).listResourceTags}),

		row("GetKeyPolicy", true, spec[awsproto.GetKeyPolicyInput]{check: checkGetKeyPolicy,
			auth: keyAuth(keyed[awsproto.GetKeyPolicyInput]{id: getPolicyKeyID}), run: (*Service).getKeyPolicy}),
		row("PutKeyPolicy", false, spec[awsproto.PutKeyPolicyInput]{check: checkPutKeyPolicy,
			auth: keyAuth(keyed[awsproto.PutKeyPolicyInput]{id: putPolicyKeyID, cond: condPutPolicy}), run: (*Service).putKeyPolicy}),
		row("ListKeyPolicies", true, spec[awsproto.ListKeyPoliciesInput]{check: checkListKeyPolicies,
			auth: keyAuth(keyed[awsproto.ListKeyPoliciesInput]{id: listPoliciesKeyID}), run: (*Service).listKeyPolicies}),

		row("EnableKeyRotation", false, spec[awsproto.EnableKeyRotationInput]{check: checkEnableKeyRotation,
			auth: keyAuth(keyed[awsproto.EnableKeyRotationInput]{id: rotationKeyID, cond: condRotation}), run: (*Service).enableKeyRotation}),
		row("DisableKeyRotation", false, spec[awsproto.KeyIdInput]{check: checkKeyIDOnly, auth: keyAuth(keyed[awsproto.KeyIdInput]{id: keyIDOf}), run: (*Service).disableKeyRotation}),
		row("GetKeyRotationStatus", true, spec[awsproto.KeyIdInput]{check: checkKeyIDOnly,
			auth: keyAuth(keyed[awsproto.KeyIdInput]{id: keyIDOf, cross: true}), run: (*Service).getKeyRotationStatus}),
		// Key id or key ARN only, and never another account's key, as AWS.
		row("GetKeyLastUsage", true, spec[awsproto.KeyIdInput]{check: checkKeyIDOnly,
			auth: keyAuth(keyed[awsproto.KeyIdInput]{id: keyIDOf}), run: (*Service).getKeyLastUsage}),
		row("RotateKeyOnDemand", false, spec[awsproto.KeyIdInput]{check: checkKeyIDOnly, auth: keyAuth(keyed[awsproto.KeyIdInput]{id: keyIDOf}), run: (*Service).rotateKeyOnDemand}),
		row("ListKeyRotations", true, spec[awsproto.ListKeyRotationsInput]{check: checkListKeyRotations,
			auth: keyAuth(keyed[awsproto.ListKeyRotationsInput]{id: rotationsKeyID}), run: (*Service).listKeyRotations}),

		row("Sign", false, spec[awsproto.SignInput]{check: checkSign,
			auth: keyAuth(keyed[awsproto.SignInput]{id: signKeyID, flags: crypto, cross: true, grant: opSign, tokens: signTokens, cond: condSign}), run: (*Service).sign}),
		row("Verify", false, spec[awsproto.VerifyInput]{check: checkVerify,
			auth: keyAuth(keyed[awsproto.VerifyInput]{id: verifyKeyID, flags: crypto, cross: true, grant: opVerify, tokens: verifyTokens, cond: condVerify}), run: (*Service).verify}),
		row("GetPublicKey", true, spec[awsproto.DescribeKeyInput]{check: checkDescribeKey,
			auth: keyAuth(keyed[awsproto.DescribeKeyInput]{id: describeKeyID, flags: crypto, cross: true, grant: opGetPublicKey, tokens: describeTokens}), run: (*Service).getPublicKey}),
		row("GenerateMac", false, spec[awsproto.GenerateMacInput]{check: checkGenerateMac,
			auth: keyAuth(keyed[awsproto.GenerateMacInput]{id: macKeyID, flags: crypto, cross: true, grant: opGenerateMac, tokens: macTokens, cond: condMac}), run: (*Service).generateMac}),
		row("VerifyMac", false, spec[awsproto.VerifyMacInput]{check: checkVerifyMac,
			auth: keyAuth(keyed[awsproto.VerifyMacInput]{id: verifyMacKeyID, flags: crypto, cross: true, grant: opVerifyMac, tokens: verifyMacTokens, cond: condVerifyMac}), run: (*Service).verifyMac}),
		row("DeriveSharedSecret", false, spec[awsproto.DeriveSharedSecretInput]{check: checkDeriveSharedSecret,
			auth: keyAuth(keyed[awsproto.DeriveSharedSecretInput]{id: deriveKeyID, flags: crypto, cross: true, grant: opDeriveSharedSecret, tokens: deriveTokens, cond: condDerive}), run: (*Service).deriveSharedSecret}),
		row("GenerateDataKeyPair", false, spec[awsproto.GenerateDataKeyPairInput]{check: checkGenerateDataKeyPairWith,
			auth: keyAuth(keyed[awsproto.GenerateDataKeyPairInput]{id: pairWithID, flags: crypto, cross: true, grant: opGenerateDataKeyPair, ec: pairWithEC, tokens: pairWithTokens, cond: condPairWithSpec}),
			run:  (*Service).generateDataKeyPairWith}),
		row("GenerateDataKeyPairWithoutPlaintext", false, spec[awsproto.GenerateDataKeyPairWithoutPlaintextInput]{check: checkGenerateDataKeyPair,
			auth: keyAuth(keyed[awsproto.GenerateDataKeyPairWithoutPlaintextInput]{id: pairKeyID, flags: crypto, cross: true, grant: opGenerateDataKeyPairWithoutPlaintext, ec: pairEC, tokens: pairTokens, cond: condPairSpec}),
			run:  (*Service).generateDataKeyPairWithout}),
		row("Encapsulate", false, spec[awsproto.EncapsulateInput]{check: checkEncapsulate, auth: authEncapsulate, run: (*Service).encapsulate}),
		row("Decapsulate", false, spec[awsproto.DecapsulateInput]{check: checkDecapsulate, auth: authDecapsulate, run: (*Service).decapsulate}),

		row("CreateGrant", false, spec[awsproto.CreateGrantInput]{check: checkCreateGrant, auth: authCreateGrant, run: (*Service).createGrant}),
		row("ListGrants", true, spec[awsproto.ListGrantsInput]{check: checkListGrants,
			auth: keyAuth(keyed[awsproto.ListGrantsInput]{id: listGrantsKeyID, cross: true, cond: condNotForAWS[awsproto.ListGrantsInput]}), run: (*Service).listGrants}),
		row("ListRetirableGrants", true, spec[awsproto.ListRetirableGrantsInput]{check: checkListRetirableGrants, auth: authListRetirableGrants, run: (*Service).listRetirableGrants}),
		row("RetireGrant", false, spec[awsproto.RetireGrantInput]{check: checkRetireGrant, auth: authRetireGrant, run: (*Service).retireGrant}),
		row("RevokeGrant", false, spec[awsproto.RevokeGrantInput]{check: checkRevokeGrant,
			auth: keyAuth(keyed[awsproto.RevokeGrantInput]{id: revokeKeyID, cross: true, cond: condNotForAWS[awsproto.RevokeGrantInput]}), run: (*Service).revokeGrant}),
	} {
		operations[op.Name] = op
	}
	// Operations AWS KMS has that Trent does not implement yet answer
	// UnsupportedOperationException naming themselves, so a client can tell
	// "not here yet" from "no such operation". They touch nothing, so there
	// is nothing to authorize.
	for _, name := range []string{
		"ConnectCustomKeyStore", "CreateCustomKeyStore", "DeleteCustomKeyStore",
		"DescribeCustomKeyStores", "DisconnectCustomKeyStore", "UpdateCustomKeyStore",
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

// OperationNames lists the wire name of every row of the table, sorted.
func OperationNames() []string {
	names := make([]string, 0, len(operations))
	for name := range operations {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
