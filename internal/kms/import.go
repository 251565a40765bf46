package kms

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsproto"
	"github.com/trent-kms/trent/internal/keys"
	"github.com/trent-kms/trent/internal/store"
)

// Imported key material (BYOK): keys of Origin EXTERNAL.
//
// A key made with Origin EXTERNAL has no material and is PendingImport.
// GetParametersForImport makes a fresh RSA wrapping key pair and returns
// its public half with an import token that carries the private half,
// sealed by the root key and bound to the key (importtoken.go).
// ImportKeyMaterial opens the token, unwraps the material, checks it
// against the key spec (keys.ImportedMaterial) and stores it, wrapped by
// the root key, as a key version. Each version of an EXTERNAL key keeps its
// import metadata (store.KeyVersion's ImportState, ExpirationModel,
// ValidTo, Description) beside its material; a version whose material was
// deleted or expired keeps its row without material, so the same material
// — the same KeyMaterialId, which is derived from key and material — can
// be imported again, and different material cannot take its place.
//
// Versions and states:
//
//   - the first import is version 1 and makes the key Enabled;
//   - a symmetric key may import NEW_KEY_MATERIAL: a version after the
//     current one, PENDING_ROTATION, which RotateKeyOnDemand makes current
//     (one pending at a time);
//   - EXISTING_KEY_MATERIAL re-imports a version's own material (to restore
//     it or change its expiration); re-importing the current version's
//     material makes a PendingImport key Enabled again;
//   - DeleteImportedKeyMaterial and expiry (the job runner) remove a
//     version's material; when it is the current version's, the key becomes
//     PendingImport, and ciphertexts of that material are unusable until
//     the same material is imported again.
//
// Every write here holds writeMu, writes the store, and drops the key from
// the cache (forget), so the next request reads and unwraps it afresh:
// imports are rare, and forgetting retires the old entry's material
// through the same reclamation as an eviction.

const (
	importStateImported = "IMPORTED"
	importStatePending  = "PENDING_IMPORT"
	expires             = "KEY_MATERIAL_EXPIRES"
	doesNotExpire       = "KEY_MATERIAL_DOES_NOT_EXPIRE"
	importNew           = "NEW_KEY_MATERIAL"
	importExisting      = "EXISTING_KEY_MATERIAL"
	keyMaterialPending  = "PENDING_ROTATION"
	// keyMaterialPendingMultiRegion: material a multi-Region primary has
	// pending rotation that a replica has not imported yet.
	keyMaterialPendingMultiRegion = "PENDING_MULTI_REGION_IMPORT_AND_ROTATION"
	incorrectMaterialMsg          = "The key material in the request is, expired, invalid, or is not the same key material that was previously imported into this KMS key."
	// maxValidTo is how far ahead imported material may be set to expire.
	maxValidTo = 365 * 24 * time.Hour

	condWrappingAlgorithm = "kms:wrappingalgorithm"
	condWrappingKeySpec   = "kms:wrappingkeyspec"
	condExpirationModel   = "kms:expirationmodel"
	condValidTo           = "kms:validto"
)

var (
	expirationModels = []string{expires, doesNotExpire}
	importTypes      = []string{importNew, importExisting}
)

// Exception names of the import operations (AWS's model).
const (
	excIncorrectKeyMaterial = "IncorrectKeyMaterialException"
	excExpiredImportToken   = "ExpiredImportTokenException"
	excInvalidImportToken   = "InvalidImportTokenException"
)

func init() {
	for _, op := range []*Operation{
		row("GetParametersForImport", false, spec[awsproto.GetParametersForImportInput]{check: checkGetParametersForImport,
			auth: keyAuth(keyed[awsproto.GetParametersForImportInput]{id: paramsKeyID, cond: condGetParameters}), run: (*Service).getParametersForImport}),
		row("ImportKeyMaterial", false, spec[awsproto.ImportKeyMaterialInput]{check: checkImportKeyMaterial,
			auth: keyAuth(keyed[awsproto.ImportKeyMaterialInput]{id: importKeyID, cond: condImport}), run: (*Service).importKeyMaterial}),
		row("DeleteImportedKeyMaterial", false, spec[awsproto.DeleteImportedKeyMaterialInput]{check: checkDeleteImportedKeyMaterial,
			auth: keyAuth(keyed[awsproto.DeleteImportedKeyMaterialInput]{id: deleteImportKeyID}), run: (*Service).deleteImportedKeyMaterial}),
	} {
		operations[op.Name] = op
	}
}

func paramsKeyID(in *awsproto.GetParametersForImportInput) *string          { return in.KeyId }
func importKeyID(in *awsproto.ImportKeyMaterialInput) *string               { return in.KeyId }
func deleteImportKeyID(in *awsproto.DeleteImportedKeyMaterialInput) *string { return in.KeyId }

func condGetParameters(a *access, in *awsproto.GetParametersForImportInput) {
	a.setOr(condWrappingAlgorithm, in.WrappingAlgorithm, "")
	a.setOr(condWrappingKeySpec, in.WrappingKeySpec, "")
}

// expirationModel is the request's ExpirationModel or AWS's default,
// KEY_MATERIAL_EXPIRES: a request that names neither the model nor ValidTo
// is refused, not made permanent.
func expirationModel(in *awsproto.ImportKeyMaterialInput) string {
	if in.ExpirationModel != nil {
		return *in.ExpirationModel
	}
	return expires
}

func condImport(a *access, in *awsproto.ImportKeyMaterialInput) {
	a.set(condExpirationModel, expirationModel(in))
	if in.ValidTo != nil {
		a.set(condValidTo, strconv.FormatInt(int64(*in.ValidTo), 10))
	}
}

// originNotValid is AWS's answer to an operation the key's origin rules
// out.
func originNotValid(arn, origin string) error {
	return apierr.New(apierr.UnsupportedOperation, "%s origin is %s which is not valid for this operation.", arn, origin)
}

// importable is the origin and state rule of GetParametersForImport and
// ImportKeyMaterial.
func importable(e *keyEntry) error {
	if e.meta.Origin != OriginExternal {
		return originNotValid(e.arn, e.meta.Origin)
	}
	return notPendingDeletion(e.arn, &e.meta)
}

// hasAllMaterial reports whether key k (of entry e, read under the same
// writeMu) has the material of every version up to its current one: its
// permanently associated materials, in AWS's words. AWS keeps a key whose
// permanently associated materials are all there usable, and puts it in
// PendingImport when any of them is deleted or expires, not only the
// current one (review, December 8).
func hasAllMaterial(e *keyEntry, k *store.Key) bool {
	return materialComplete(k.CurrentVersion, func(n uint32) (store.KeyVersion, bool) {
		v, ok := e.imported[n]
		return v, ok
	})
}

// materialComplete reports whether the versions 1 to current that the
// key holds all have their imported material, version(n) giving each; the
// current one must be held. (A replica made after its primary rotated
// holds only the versions imported into it: the older ones are not its
// own yet, and it is usable without them.)
func materialComplete(current uint32, version func(n uint32) (store.KeyVersion, bool)) bool {
	if v, ok := version(current); current == 0 || !ok || v.ImportState != importStateImported {
		return false
	}
	for n := uint32(1); n < current; n++ {
		if v, ok := version(n); ok && v.ImportState != importStateImported {
			return false
		}
	}
	return true
}

// pendingDeletion reports whether k is waiting to be deleted: an import
// or a loss of material does not change that state.
func pendingDeletion(k *store.Key) bool {
	return k.State == StatePendingDeletion || k.State == StatePendingReplicaDeletion
}

// importedMetadata adds what DescribeKey shows of an EXTERNAL key's
// current material: its expiration while it is imported, and its
// KeyMaterialId (symmetric keys only, as AWS) even after it was deleted.
func importedMetadata(e *keyEntry, md *awsproto.KeyMetadata) {
	v, ok := e.imported[e.meta.CurrentVersion]
	if !ok {
		return
	}
	if e.meta.KeySpec == SpecSymmetric {
		md.CurrentKeyMaterialId = v.MaterialID
	}
	if v.ImportState != importStateImported {
		return
	}
	// AWS: ValidTo is the earliest time at which any material permanently
	// associated with the key expires, so a rotated-out material's
	// expiry shows too.
	md.ExpirationModel = v.ExpirationModel
	var earliest time.Time
	for n, w := range e.imported {
		if n > e.meta.CurrentVersion || w.ImportState != importStateImported || w.ExpirationModel != expires {
			continue
		}
		if earliest.IsZero() || w.ValidTo.Before(earliest) {
			earliest = w.ValidTo
		}
	}
	if !earliest.IsZero() {
		md.ExpirationModel, md.ValidTo = expires, awsproto.Time(earliest)
	}
}

// createKeyWithoutMaterial finishes CreateKey for Origin EXTERNAL.
func (s *Service) createKeyWithoutMaterial(ctx context.Context, k store.Key, arn string) (any, error) {
	k.Origin = OriginExternal
	k.State = StatePendingImport
	k.CurrentVersion = 0
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	create := s.store.CreateKeyWithoutMaterial
	if isMultiRegion(&k) {
		create = s.createMultiRegionKeyWithoutMaterial // multiregion_import.go
	}
	if err := create(ctx, k); err != nil {
		return nil, apierr.Internal(fmt.Errorf("create key %s: %w", k.ID, err))
	}
	k.Revision = 1
	e := &keyEntry{meta: k, arn: arn, versions: map[uint32]*backing{}, imported: map[uint32]store.KeyVersion{}}
	e.prepare(nil)
	s.publish(e)
	md, err := s.metadata(ctx, e)
	if err != nil {
		return nil, err
	}
	return &awsproto.KeyMetadataOutput{KeyMetadata: md}, nil
}

func checkGetParametersForImport(in *awsproto.GetParametersForImportInput) error {
	var v validator
	v.keyID("keyId", in.KeyId)
	if v.requiredString("wrappingAlgorithm", in.WrappingAlgorithm) {
		v.enum("wrappingAlgorithm", in.WrappingAlgorithm, wrappingAlgorithms)
	}
	if v.requiredString("wrappingKeySpec", in.WrappingKeySpec) {
		v.enum("wrappingKeySpec", in.WrappingKeySpec, wrappingKeySpecs)
	}
	if err := v.err(); err != nil {
		return err
	}
	switch alg, spec := *in.WrappingAlgorithm, *in.WrappingKeySpec; {
	case alg == "SM2PKE" || spec == "SM2":
		return apierr.New(apierr.UnsupportedOperation, "Trent does not support SM2 wrapping (AWS offers it in China Regions only).")
	case alg == "RSAES_PKCS1_V1_5":
		return apierr.New(apierr.Validation, "The RSAES_PKCS1_V1_5 wrapping algorithm is no longer supported. Use RSAES_OAEP_SHA_256 or RSA_AES_KEY_WRAP_SHA_256.")
	}
	return nil
}

// wrappingFits applies AWS's rules on which wrapping algorithm and key spec
// can carry a key spec's material: RSA private keys are too large for
// RSAES-OAEP and need an RSA_AES algorithm, and a P-521 private key does
// not fit RSAES-OAEP under an RSA_2048 wrapping key.
func wrappingFits(keySpec, alg, wrapSpec string) error {
	oaep := alg == keys.WrapOAEPSHA1 || alg == keys.WrapOAEPSHA256
	switch {
	case oaep && len(keySpec) > 4 && keySpec[:4] == "RSA_":
		return apierr.New(apierr.Validation, "%s key material cannot be wrapped with %s: it is too large. Use RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256.", keySpec, alg)
	case oaep && keySpec == "ECC_NIST_P521" && wrapSpec == "RSA_2048":
		return apierr.New(apierr.Validation, "ECC_NIST_P521 key material cannot be wrapped with %s and wrapping key spec RSA_2048. Use a larger wrapping key spec or an RSA_AES wrapping algorithm.", alg)
	}
	return nil
}

func (s *Service) getParametersForImport(ctx context.Context, r *Request, in *awsproto.GetParametersForImportInput, a *access) (any, error) {
	e := a.key
	if err := importable(e); err != nil {
		return nil, err
	}
	if err := wrappingFits(e.meta.KeySpec, *in.WrappingAlgorithm, *in.WrappingKeySpec); err != nil {
		return nil, err
	}
	bits, _ := strconv.Atoi((*in.WrappingKeySpec)[len("RSA_"):])
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("generate wrapping key for %s: %w", e.arn, err))
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("encode wrapping key for %s: %w", e.arn, err))
	}
	validTo := s.now().Add(importTokenValidity)
	token, err := s.sealImportToken(e.arn, importToken{validTo: validTo, algorithm: *in.WrappingAlgorithm, bits: bits, private: k})
	if err != nil {
		return nil, apierr.Internal(err)
	}
	return &awsproto.GetParametersForImportOutput{
		KeyId: e.arn, ImportToken: token, PublicKey: pub, ParametersValidTo: awsproto.Time(validTo),
	}, nil
}

func checkImportKeyMaterial(in *awsproto.ImportKeyMaterialInput) error {
	var v validator
	v.keyID("keyId", in.KeyId)
	if v.required("importToken", in.ImportToken != nil) {
		v.blobLength("importToken", in.ImportToken, 1, maxImportToken)
	}
	if v.required("encryptedKeyMaterial", in.EncryptedKeyMaterial != nil) {
		v.blobLength("encryptedKeyMaterial", in.EncryptedKeyMaterial, 1, 6144)
	}
	v.enum("expirationModel", in.ExpirationModel, expirationModels)
	v.enum("importType", in.ImportType, importTypes)
	v.length("keyMaterialDescription", in.KeyMaterialDescription, 0, 256)
	v.length("keyMaterialId", in.KeyMaterialId, 64, 64)
	v.pattern("keyMaterialId", in.KeyMaterialId, "^[a-f0-9]+$", isLowerHex)
	if err := v.err(); err != nil {
		return err
	}
	model := expirationModel(in)
	switch {
	case model == expires && in.ValidTo == nil:
		return apierr.New(apierr.Validation, "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES")
	case model == doesNotExpire && in.ValidTo != nil:
		return apierr.New(apierr.Validation, "A validTo date must not be set if the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE")
	case in.ValidTo != nil && (math.IsNaN(*in.ValidTo) || math.IsInf(*in.ValidTo, 0)):
		return apierr.New(apierr.Validation, "ValidTo is not a valid date.")
	case in.KeyMaterialId != nil && in.ImportType != nil && *in.ImportType == importNew:
		return apierr.New(apierr.Validation, "You cannot specify a KeyMaterialId with ImportType NEW_KEY_MATERIAL.")
	}
	return nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// validTo converts ImportKeyMaterial's ValidTo (epoch seconds) and checks
// it is in the future and at most a year ahead.
func (s *Service) validTo(secs float64) (time.Time, error) {
	now := s.now()
	if secs > float64(now.Add(maxValidTo).Unix()+1) || secs <= float64(now.Unix()) {
		return time.Time{}, apierr.New(apierr.Validation, "ValidTo must be a date in the future, at most 365 days from now.")
	}
	whole, frac := math.Modf(secs)
	return time.Unix(int64(whole), int64(frac*1e9)).UTC(), nil
}

func (s *Service) importKeyMaterial(ctx context.Context, r *Request, in *awsproto.ImportKeyMaterialInput, a *access) (any, error) {
	e := a.key
	if err := importable(e); err != nil {
		return nil, err
	}
	// In FIPS mode, material of a spec outside Go's module (secp256k1,
	// ML-DSA) is not even parsed.
	if err := s.checkFIPSKey(e); err != nil {
		return nil, err
	}
	symmetric := e.meta.KeySpec == SpecSymmetric
	if !symmetric && (in.KeyMaterialId != nil || in.ImportType != nil && *in.ImportType == importNew) {
		return nil, apierr.New(apierr.Validation, "ImportType NEW_KEY_MATERIAL and KeyMaterialId are only valid with symmetric encryption keys.")
	}
	model := expirationModel(in)
	var until time.Time
	if in.ValidTo != nil {
		var err error
		if until, err = s.validTo(*in.ValidTo); err != nil {
			return nil, err
		}
	}
	tok, err := s.openImportToken(e.arn, in.ImportToken)
	if err != nil {
		return nil, apierr.New(excInvalidImportToken, "The import token is invalid or is associated with a different KMS key.")
	}
	if !s.now().Before(tok.validTo) {
		return nil, apierr.New(excExpiredImportToken, "The import token has expired. Call GetParametersForImport for a new one.")
	}
	if err := wrappingFits(e.meta.KeySpec, tok.algorithm, "RSA_"+strconv.Itoa(tok.bits)); err != nil {
		return nil, err
	}
	raw, err := keys.UnwrapImported(tok.algorithm, tok.private, in.EncryptedKeyMaterial)
	if err != nil {
		return nil, errInvalidCiphertext
	}
	defer clear(raw)
	material, err := keys.ImportedMaterial(e.meta.KeySpec, raw)
	if err != nil {
		if errors.Is(err, keys.ErrInvalidKeyMaterial) {
			return nil, apierr.New(excIncorrectKeyMaterial, incorrectMaterialMsg)
		}
		return nil, apierr.Internal(fmt.Errorf("import into %s: %w", e.arn, err))
	}
	defer clear(material)
	// The members of a multi-Region key derive the id from their shared
	// id, so the same material has the same id in every region, and a
	// replica's material is checked against the primary's by its id.
	id := keys.ImportedMaterialID(wireKeyID(e.meta.ID), material)
	if in.KeyMaterialId != nil && *in.KeyMaterialId != id {
		return nil, apierr.New(excIncorrectKeyMaterial, incorrectMaterialMsg)
	}
	desc := ""
	if in.KeyMaterialDescription != nil {
		desc = *in.KeyMaterialDescription
	}

	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	cur, err := s.reload(ctx, e)
	if err != nil {
		return nil, err
	}
	if err := importable(cur); err != nil {
		return nil, err
	}
	k := cur.metaCopy()
	if isMultiRegion(&k) {
		return s.importIntoMember(ctx, cur, k, in, material, id, model, until, desc) // multiregion_import.go
	}
	importType := importExisting
	if len(cur.imported) == 0 {
		importType = importNew
	}
	if in.ImportType != nil {
		importType = *in.ImportType
	}
	var v store.KeyVersion
	switch {
	case len(cur.imported) == 0:
		// The first material: version 1, current.
		if importType != importNew && in.KeyMaterialId != nil {
			return nil, apierr.New(excIncorrectKeyMaterial, incorrectMaterialMsg)
		}
		v = store.KeyVersion{Version: 1, CreatedAt: s.now()}
		k.CurrentVersion = 1
	case importType == importExisting:
		n, ok := versionWithMaterial(cur, id)
		if !ok {
			return nil, apierr.New(excIncorrectKeyMaterial, incorrectMaterialMsg)
		}
		v = cur.imported[n]
		if desc == "" {
			desc = v.Description
		}
	default: // a new material of a symmetric key, pending rotation
		if _, ok := versionWithMaterial(cur, id); ok {
			return nil, apierr.New(excIncorrectKeyMaterial, incorrectMaterialMsg)
		}
		v = store.KeyVersion{Version: lastVersion(cur) + 1, CreatedAt: s.now()}
		if p, ok := pendingRotation(cur); ok {
			if p.ImportState == importStateImported {
				return nil, apierr.New(apierr.KMSInvalidState, "New key material (id: %s) cannot be imported into KMS key %s, because another key material (id: %s) is pending rotation.", id, k.ID, p.MaterialID)
			}
			// Material pending rotation is not bound to the key until the
			// rotation: once deleted, other material may take its place
			// (AWS's RotationsListEntry), in its version.
			v.Version = p.Version
		}
	}
	return s.putImported(ctx, cur, k, v, material, id, model, until, desc)
}

// putImported stores material, whose KeyMaterialId is id, as version
// v of key k (cur, as reloaded), wrapped for that version; the version that
// is current takes the key out of PendingImport. It is the end of every
// import, into a single-Region key or a multi-Region member, under
// writeMu.
func (s *Service) putImported(ctx context.Context, cur *keyEntry, k store.Key, v store.KeyVersion,
	material []byte, id, model string, until time.Time, desc string) (any, error) {
	wrapped, err := s.root.Wrap(material, wrapAAD(cur.arn, v.Version))
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("wrap imported material of %s: %w", cur.arn, err))
	}
	v.KeyID, v.MaterialID, v.Wrapped = k.ID, id, wrapped
	v.ImportState, v.ExpirationModel, v.ValidTo, v.Description = importStateImported, model, until, desc
	if k.State == StatePendingImport && v.Version <= k.CurrentVersion && materialComplete(k.CurrentVersion, func(n uint32) (store.KeyVersion, bool) {
		if n == v.Version {
			return v, true
		}
		w, ok := cur.imported[n]
		return w, ok
	}) {
		k.State = StateEnabled
	}
	if _, err := s.store.PutKeyMaterial(ctx, k, v); err != nil {
		s.forget(k.ID)
		return nil, apierr.Internal(fmt.Errorf("import into %s: %w", cur.arn, err))
	}
	s.forget(k.ID)
	return &awsproto.ImportKeyMaterialOutput{KeyId: cur.arn, KeyMaterialId: id}, nil
}

// versionWithMaterial is the version of e whose KeyMaterialId is id.
func versionWithMaterial(e *keyEntry, id string) (uint32, bool) {
	for n, v := range e.imported {
		if v.MaterialID == id {
			return n, true
		}
	}
	return 0, false
}

// pendingRotation is the imported version after the current one, if any.
func pendingRotation(e *keyEntry) (store.KeyVersion, bool) {
	for n, v := range e.imported {
		if n > e.meta.CurrentVersion {
			return v, true
		}
	}
	return store.KeyVersion{}, false
}

func lastVersion(e *keyEntry) uint32 {
	var last uint32
	for n := range e.imported {
		last = max(last, n)
	}
	return last
}

func checkDeleteImportedKeyMaterial(in *awsproto.DeleteImportedKeyMaterialInput) error {
	var v validator
	v.keyID("keyId", in.KeyId)
	v.length("keyMaterialId", in.KeyMaterialId, 64, 64)
	v.pattern("keyMaterialId", in.KeyMaterialId, "^[a-f0-9]+$", isLowerHex)
	return v.err()
}

func (s *Service) deleteImportedKeyMaterial(ctx context.Context, r *Request, in *awsproto.DeleteImportedKeyMaterialInput, a *access) (any, error) {
	e := a.key
	if e.meta.Origin != OriginExternal {
		return nil, originNotValid(e.arn, e.meta.Origin)
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	cur, err := s.reload(ctx, e)
	if err != nil {
		return nil, err
	}
	k := cur.metaCopy()
	n := k.CurrentVersion
	if in.KeyMaterialId != nil {
		var ok bool
		if n, ok = versionWithMaterial(cur, *in.KeyMaterialId); !ok {
			return nil, apierr.New(apierr.NotFound, "Key material %s is not associated with %s.", *in.KeyMaterialId, cur.arn)
		}
	}
	v, ok := cur.imported[n]
	if !ok {
		// Nothing was ever imported: AWS's "no effect".
		return &awsproto.DeleteImportedKeyMaterialOutput{KeyId: cur.arn}, nil
	}
	out := &awsproto.DeleteImportedKeyMaterialOutput{KeyId: cur.arn, KeyMaterialId: v.MaterialID}
	if v.ImportState != importStateImported {
		return out, nil
	}
	if n <= k.CurrentVersion && !pendingDeletion(&k) {
		k.State = StatePendingImport
	}
	if err := s.deleteMaterial(ctx, cur, k, []uint32{n}); err != nil {
		return nil, err
	}
	if isPrimary(&k) && n > k.CurrentVersion {
		// AWS: deleting a primary's material pending rotation deletes the
		// replicas' copies of it too.
		if err := s.deletePendingInReplicas(ctx, k, n); err != nil { // multiregion_import.go
			return nil, err
		}
	}
	return out, nil
}

// deleteMaterial removes the material of versions of key cur and stores
// k, under writeMu. The cached entry is dropped, so its unwrapped material
// is retired and zeroed once the requests using it end.
func (s *Service) deleteMaterial(ctx context.Context, cur *keyEntry, k store.Key, versions []uint32) error {
	_, err := s.store.DeleteKeyMaterial(ctx, k, versions)
	s.forget(k.ID)
	switch {
	case errors.Is(err, store.ErrNotPurged):
		s.log.Error("deleted imported key material, but its wrapped form may remain in the database files until the store completes the purge", "key", cur.arn, "err", err)
	case err != nil:
		return apierr.Internal(fmt.Errorf("delete imported material of %s: %w", cur.arn, err))
	}
	return nil
}

// rotateImported is RotateKeyOnDemand for a key with imported material: it
// makes the material imported as NEW_KEY_MATERIAL current.
func (s *Service) rotateImported(ctx context.Context, e *keyEntry) (any, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	cur, err := s.reload(ctx, e)
	if err != nil {
		return nil, err
	}
	k := cur.metaCopy()
	if err := replicaRotation(cur.arn, &k); err != nil {
		return nil, err
	}
	if err := enabled(cur.arn, &k); err != nil {
		return nil, err
	}
	if k.KeySpec != SpecSymmetric {
		return nil, apierr.New(apierr.UnsupportedOperation, "")
	}
	if k.OnDemandRotations >= maxOnDemandRotations {
		return nil, apierr.New(apierr.LimitExceeded, "The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: %s", cur.arn)
	}
	p, ok := pendingRotation(cur)
	if !ok || p.ImportState != importStateImported {
		return nil, apierr.New(apierr.KMSInvalidState, "No available key material pending rotation for the key: %s.", cur.arn)
	}
	k.CurrentVersion = p.Version
	k.OnDemandRotations++
	p.RotationType = rotationTypeOnDemand
	p.CreatedAt = s.now() // the rotation date
	// The material is rewritten as it is; PutKeyMaterial needs it whole.
	vs, err := s.store.KeyVersions(ctx, k.ID)
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("rotate %s: %w", cur.arn, err))
	}
	for _, v := range vs {
		if v.Version == p.Version {
			p.Wrapped = v.Wrapped
		}
	}
	if len(p.Wrapped) == 0 {
		return nil, apierr.New(apierr.KMSInvalidState, "No available key material pending rotation for the key: %s.", cur.arn)
	}
	if isMultiRegion(&k) {
		return s.rotateImportedMembers(ctx, cur, k, p) // multiregion_import.go
	}
	_, err = s.store.PutKeyMaterial(ctx, k, p)
	s.forget(k.ID)
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("rotate %s: %w", cur.arn, err))
	}
	return &awsproto.KeyIdOutput{KeyId: cur.arn}, nil
}

// listImportedRotations is ListKeyRotations for a symmetric key with
// imported material: every material with its import state (ROTATIONS_ONLY
// leaves out the first material and those not rotated in yet).
//
// waiting holds the versions of a multi-Region primary pending rotation
// that a replica has not imported yet (PENDING_MULTI_REGION_IMPORT_AND_ROTATION).
func listImportedRotations(e *keyEntry, in *awsproto.ListKeyRotationsInput, limit int, after string, waiting map[uint32]bool) (any, error) {
	all := in.IncludeKeyMaterial != nil && *in.IncludeKeyMaterial == includeAllKeyMaterial
	start := uint32(0)
	if after != "" {
		n, err := strconv.ParseUint(after, 10, 32)
		if err != nil {
			return nil, apierr.New(apierr.InvalidMarker, "Invalid marker.")
		}
		start = uint32(n)
	}
	versions := make([]uint32, 0, len(e.imported))
	for n := range e.imported {
		if n > start {
			versions = append(versions, n)
		}
	}
	slices.Sort(versions)
	out := &awsproto.ListKeyRotationsOutput{Rotations: []awsproto.RotationsListEntry{}}
	last := uint32(0)
	for _, n := range versions {
		v := e.imported[n]
		if !all && v.RotationType == "" {
			continue
		}
		if len(out.Rotations) == limit {
			out.Truncated = true
			out.NextMarker = encodeMarker("rotations", strconv.FormatUint(uint64(last), 10))
			break
		}
		entry := awsproto.RotationsListEntry{
			KeyId: e.arn, KeyMaterialId: v.MaterialID, KeyMaterialDescription: v.Description,
			ImportState: v.ImportState, ExpirationModel: v.ExpirationModel, ValidTo: awsproto.Time(v.ValidTo),
			RotationType: v.RotationType,
		}
		switch {
		case n == e.meta.CurrentVersion:
			entry.KeyMaterialState = keyMaterialCurrent
		case n > e.meta.CurrentVersion && waiting[n]:
			entry.KeyMaterialState = keyMaterialPendingMultiRegion
		case n > e.meta.CurrentVersion:
			entry.KeyMaterialState = keyMaterialPending
		default:
			entry.KeyMaterialState = keyMaterialNonCurrent
		}
		if v.RotationType != "" {
			entry.RotationDate = awsproto.Time(v.CreatedAt)
		}
		out.Rotations = append(out.Rotations, entry)
		last = n
	}
	return out, nil
}

// expireMaterial deletes imported material whose ValidTo has come, as AWS
// does: the key becomes PendingImport if the current material expired, and
// a DeleteExpiredKeyMaterial service event is recorded.
func (s *Service) expireMaterial(ctx context.Context, now time.Time) error {
	ids, err := s.store.KeysMaterialExpired(ctx, now)
	if err != nil {
		return fmt.Errorf("list keys with expired material: %w", err)
	}
	return s.eachKey(ids, "expiring imported key material failed", func(id string) error { // rotation.go
		return s.expireKeyMaterial(ctx, id, now)
	})
}

func (s *Service) expireKeyMaterial(ctx context.Context, id string, now time.Time) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	e, err := s.entry(ctx, id)
	if errors.Is(err, errKeyAbsent) {
		return nil
	}
	if err != nil {
		return err
	}
	var due []uint32
	for n, v := range e.imported {
		if v.ImportState == importStateImported && v.ExpirationModel == expires && !v.ValidTo.After(now) {
			due = append(due, n)
		}
	}
	if len(due) == 0 {
		return nil // re-imported since the job looked
	}
	slices.Sort(due)
	k := e.metaCopy()
	if due[0] <= k.CurrentVersion && !pendingDeletion(&k) {
		k.State = StatePendingImport
	}
	if err := s.deleteMaterial(ctx, e, k, due); err != nil {
		return err
	}
	s.log.Info("deleted expired imported key material", "key", e.arn, "versions", due)
	for _, n := range due { // one event per material, as each expires on its own
		s.serviceEvent(ctx, "DeleteExpiredKeyMaterial", e, now, expiredMaterialDetails{KeyID: wireKeyID(e.meta.ID), KeyMaterialID: e.imported[n].MaterialID})
	}
	return nil
}
