package kms

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsproto"
	"github.com/trent-kms/trent/internal/keys"
)

var (
	errInvalidCiphertext = apierr.New(apierr.InvalidCiphertext, "")
	errDryRun            = apierr.New(apierr.DryRunOperation, dryRunMessage)
	// Recipient asks for plaintext encrypted to a Nitro enclave's attested
	// key; Trent has no attestation to check it against.
	errRecipient = apierr.New(apierr.UnsupportedOperation, "Trent does not support Recipient (attested enclaves).")
)

// checkUsage refuses a key whose KeyUsage does not allow the operation.
func checkUsage(e *keyEntry, op, usage string) error {
	if e.meta.KeyUsage != usage {
		return apierr.New(apierr.InvalidKeyUsage, "%s key usage is %s which is not valid for %s.", e.arn, e.meta.KeyUsage, op)
	}
	return nil
}

// checkSymmetric applies the rules of the operations that need a usable
// symmetric encryption key (GenerateDataKey*, GenerateDataKeyPair*).
func checkSymmetric(e *keyEntry, op string) error {
	if err := usableFor(e, op, UsageEncryptDecrypt); err != nil {
		return err
	}
	if e.meta.KeySpec != SpecSymmetric {
		return apierr.New(apierr.InvalidKeyUsage, "%s key spec is %s which is not valid for %s.", e.arn, e.meta.KeySpec, op)
	}
	return nil
}

func checkEncryptionAlgorithm(e *keyEntry, alg *string) error {
	if alg != nil && *alg != AlgSymmetric {
		return apierr.New(apierr.InvalidKeyUsage, "Algorithm %s is incompatible with key spec %s.", *alg, e.meta.KeySpec)
	}
	return nil
}

// algorithmUsed is the encryption algorithm a decryption under e used.
func algorithmUsed(e *keyEntry, alg *string) string {
	if e.meta.KeySpec != SpecSymmetric && alg != nil {
		return *alg
	}
	return AlgSymmetric
}

func (s *Service) seal(e *keyEntry, plaintext []byte, ec map[string]string) ([]byte, error) {
	blob, err := keys.EncryptSymmetric(e.current.material, wireKeyID(e.meta.ID), e.current.version, plaintext, ec)
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("encrypt under key %s: %w", e.meta.ID, err))
	}
	return blob, nil
}

// encryptFor encrypts plaintext under e, an ENCRYPT_DECRYPT key of any
// spec, for Encrypt and for ReEncrypt's destination. Every rule is checked
// before the DryRun answer, so a DryRun that would fail says why. An RSA
// ciphertext is plain RSAES-OAEP output, as AWS's: no header, so Decrypt
// needs the KeyId.
func (s *Service) encryptFor(e *keyEntry, algorithm *string, plaintext []byte, ec map[string]string, dryRun bool) ([]byte, string, error) {
	if e.meta.KeySpec == SpecSymmetric {
		if err := checkEncryptionAlgorithm(e, algorithm); err != nil {
			return nil, "", err
		}
		if dryRun {
			return nil, "", errDryRun
		}
		blob, err := s.seal(e, plaintext, ec)
		return blob, AlgSymmetric, err
	}
	alg, err := checkAsymmetricEncrypt(e, algorithm, len(plaintext), ec)
	if err != nil {
		return nil, "", err
	}
	if dryRun {
		return nil, "", errDryRun
	}
	ct, err := e.current.private.EncryptRSA(alg, plaintext)
	if err != nil {
		return nil, "", apierr.Internal(fmt.Errorf("encrypt under key %s: %w", e.meta.ID, err))
	}
	return ct, alg, nil
}

func checkEncrypt(in *awsproto.EncryptInput) error {
	var v validator
	v.keyID("keyId", in.KeyId)
	if v.required("plaintext", in.Plaintext != nil) {
		v.blobLength("plaintext", in.Plaintext, 1, 4096)
	}
	v.encryptionContext("encryptionContext", in.EncryptionContext)
	v.grantTokens(in.GrantTokens)
	v.enum("encryptionAlgorithm", in.EncryptionAlgorithm, encryptionAlgorithms)
	return v.err()
}

func (s *Service) encrypt(ctx context.Context, r *Request, in *awsproto.EncryptInput, a *access) (any, error) {
	defer clear(in.Plaintext)
	e := a.key
	if err := usableFor(e, "Encrypt", UsageEncryptDecrypt); err != nil {
		return nil, err
	}
	blob, alg, err := s.encryptFor(e, in.EncryptionAlgorithm, in.Plaintext, in.EncryptionContext, in.DryRun)
	if err != nil {
		return nil, err
	}
	return &awsproto.EncryptOutput{CiphertextBlob: blob, KeyId: e.arn, EncryptionAlgorithm: alg}, nil
}

// blobKey finds the key a symmetric ciphertext names, for Decrypt and
// ReEncrypt without a KeyId. A blob that does not parse, or names a key
// that does not exist in this region, is not a ciphertext Trent made for
// anyone here: InvalidCiphertextException. A key of another account is
// found, and authorization decides whether the caller may use it.
func (s *Service) blobKey(ctx context.Context, region string, blob []byte) (*keyEntry, error) {
	h, err := keys.ParseBlob(blob)
	if err != nil {
		return nil, errInvalidCiphertext
	}
	e, err := s.entry(ctx, storeIDIn(h.KeyID, region))
	if errors.Is(err, errKeyAbsent) || err == nil && e.meta.Region != region {
		return nil, errInvalidCiphertext
	}
	return e, err
}

// open decrypts a ciphertext under e for Decrypt and ReEncrypt: a
// symmetric blob, or an RSA ciphertext when the request named e (named).
func (s *Service) open(e *keyEntry, named bool, blob []byte, alg *string, ec map[string]string) ([]byte, *backing, error) {
	if named && e.meta.KeyUsage != UsageEncryptDecrypt {
		// A key that cannot decrypt did not make this ciphertext; AWS
		// answers IncorrectKeyException here, not InvalidKeyUsageException.
		return nil, nil, apierr.New(apierr.IncorrectKey, incorrectKeyMessage)
	}
	if named && e.meta.KeySpec != SpecSymmetric {
		pt, err := openAsymmetric(e, blob, alg, ec)
		if err != nil {
			return nil, nil, err
		}
		return pt, e.current, nil
	}
	h, err := keys.ParseBlob(blob)
	if err != nil {
		return nil, nil, errInvalidCiphertext
	}
	if h.KeyID != wireKeyID(e.meta.ID) {
		return nil, nil, apierr.New(apierr.IncorrectKey, incorrectKeyMessage)
	}
	if e.meta.KeySpec != SpecSymmetric {
		// Only symmetric keys make blobs with this header; a header naming
		// another key was forged or damaged.
		return nil, nil, errInvalidCiphertext
	}
	if err := usable(e); err != nil {
		return nil, nil, err
	}
	if alg != nil && *alg != AlgSymmetric {
		return nil, nil, errInvalidCiphertext
	}
	b := e.versions[h.Version]
	if b == nil {
		return nil, nil, errInvalidCiphertext
	}
	pt, err := keys.DecryptSymmetric(b.material, blob, ec)
	if err != nil {
		if errors.Is(err, keys.ErrInvalidCiphertext) {
			return nil, nil, errInvalidCiphertext
		}
		return nil, nil, apierr.Internal(fmt.Errorf("decrypt under key %s: %w", e.meta.ID, err))
	}
	return pt, b, nil
}

// dryRunModifiers validates DryRunModifiers and reports whether it holds
// IGNORE_CIPHERTEXT. AWS's model sets no length for the list, so each
// element is checked, and a member name is built only for a violation that
// will be listed.
func (v *validator) dryRunModifiers(mods []string) bool {
	ignore := false
	for i, m := range mods {
		if !slices.Contains(dryRunModifiers, m) && v.violation() {
			v.list(enumMessage(m, "dryRunModifiers."+strconv.Itoa(i+1)+".member", dryRunModifiers))
		}
		ignore = ignore || m == ignoreCiphertext
	}
	return ignore
}

func ignoresCiphertext(mods []string) bool { return slices.Contains(mods, ignoreCiphertext) }

func checkDecrypt(in *awsproto.DecryptInput) error {
	var v validator
	if v.required("ciphertextBlob", in.CiphertextBlob != nil) {
		v.blobLength("ciphertextBlob", in.CiphertextBlob, 1, 6144)
	}
	v.encryptionContext("encryptionContext", in.EncryptionContext)
	v.length("keyId", in.KeyId, 1, 2048)
	v.grantTokens(in.GrantTokens)
	v.enum("encryptionAlgorithm", in.EncryptionAlgorithm, encryptionAlgorithms)
	ignore := v.dryRunModifiers(in.DryRunModifiers)
	if err := v.err(); err != nil {
		return err
	}
	if in.Recipient != nil {
		return errRecipient
	}
	if in.DryRun && ignore && in.KeyId == nil {
		return apierr.New(apierr.Validation, "KeyId is required when DryRunModifiers includes IGNORE_CIPHERTEXT.")
	}
	return nil
}

// authDecrypt authorizes kms:Decrypt on the key the request names or, with
// no KeyId, on the key the ciphertext names.
func authDecrypt(a *access, ctx context.Context, in *awsproto.DecryptInput) error {
	if err := a.parseTokens(in.GrantTokens); err != nil {
		return err
	}
	var e *keyEntry
	var alias string
	var err error
	if in.KeyId != nil {
		e, alias, err = a.s.resolve(ctx, a.r.tenant(), *in.KeyId, aliasOK)
	} else {
		e, err = a.s.blobKey(ctx, a.r.Region, in.CiphertextBlob)
	}
	if err != nil {
		return err
	}
	a.key = e
	if err := a.onKey(ctx, e, a.action, alias); err != nil {
		return err
	}
	a.encryptionContext(in.EncryptionContext)
	a.setOr(condEncryptionAlg, in.EncryptionAlgorithm, AlgSymmetric)
	return a.decideKey(ctx, e, grantUse{op: opDecrypt, ec: in.EncryptionContext})
}

func (s *Service) decrypt(ctx context.Context, r *Request, in *awsproto.DecryptInput, a *access) (any, error) {
	e := a.key
	if in.DryRun && ignoresCiphertext(in.DryRunModifiers) {
		// Authorization and the key only, never the ciphertext.
		if err := usableFor(e, "Decrypt", UsageEncryptDecrypt); err != nil {
			return nil, err
		}
		return nil, errDryRun
	}
	pt, b, err := s.open(e, in.KeyId != nil, in.CiphertextBlob, in.EncryptionAlgorithm, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	if in.DryRun {
		clear(pt)
		return nil, errDryRun
	}
	return &awsproto.DecryptOutput{KeyId: e.arn, Plaintext: pt, EncryptionAlgorithm: algorithmUsed(e, in.EncryptionAlgorithm), KeyMaterialId: e.materialID(b)}, nil
}

func checkReEncrypt(in *awsproto.ReEncryptInput) error {
	var v validator
	if v.required("ciphertextBlob", in.CiphertextBlob != nil) {
		v.blobLength("ciphertextBlob", in.CiphertextBlob, 1, 6144)
	}
	v.encryptionContext("sourceEncryptionContext", in.SourceEncryptionContext)
	v.length("sourceKeyId", in.SourceKeyId, 1, 2048)
	v.keyID("destinationKeyId", in.DestinationKeyId)
	v.encryptionContext("destinationEncryptionContext", in.DestinationEncryptionContext)
	v.enum("sourceEncryptionAlgorithm", in.SourceEncryptionAlgorithm, encryptionAlgorithms)
	v.enum("destinationEncryptionAlgorithm", in.DestinationEncryptionAlgorithm, encryptionAlgorithms)
	v.grantTokens(in.GrantTokens)
	ignore := v.dryRunModifiers(in.DryRunModifiers)
	if err := v.err(); err != nil {
		return err
	}
	if in.DryRun && ignore && in.SourceKeyId == nil {
		return apierr.New(apierr.Validation, "SourceKeyId is required when DryRunModifiers includes IGNORE_CIPHERTEXT.")
	}
	return nil
}

// authReEncrypt authorizes ReEncrypt's two halves as AWS does:
// kms:ReEncryptFrom on the source key (named, or the ciphertext's) with the
// source context and algorithm, and kms:ReEncryptTo on the destination key
// with the destination's.
func authReEncrypt(a *access, ctx context.Context, in *awsproto.ReEncryptInput) error {
	if err := a.parseTokens(in.GrantTokens); err != nil {
		return err
	}
	var src *keyEntry
	var srcAlias string
	var err error
	if in.SourceKeyId != nil {
		src, srcAlias, err = a.s.resolve(ctx, a.r.tenant(), *in.SourceKeyId, aliasOK)
	} else {
		src, err = a.s.blobKey(ctx, a.r.Region, in.CiphertextBlob)
	}
	if err != nil {
		return err
	}
	dst, dstAlias, err := a.s.resolve(ctx, a.r.tenant(), *in.DestinationKeyId, aliasOK)
	if err != nil {
		return err
	}
	a.src, a.key = src, dst
	same := boolString(src.meta.ID == dst.meta.ID)

	if err := a.onKey(ctx, src, "kms:ReEncryptFrom", srcAlias); err != nil {
		return err
	}
	a.encryptionContext(in.SourceEncryptionContext)
	a.setOr(condEncryptionAlg, in.SourceEncryptionAlgorithm, AlgSymmetric)
	a.set(condReEncryptSameKey, same)
	if err := a.decideKey(ctx, src, grantUse{op: opReEncryptFrom, ec: in.SourceEncryptionContext}); err != nil {
		return err
	}

	if err := a.onKey(ctx, dst, "kms:ReEncryptTo", dstAlias); err != nil {
		return err
	}
	a.encryptionContext(in.DestinationEncryptionContext)
	a.setOr(condEncryptionAlg, in.DestinationEncryptionAlgorithm, AlgSymmetric)
	a.set(condReEncryptSameKey, same)
	return a.decideKey(ctx, dst, grantUse{op: opReEncryptTo, ec: in.DestinationEncryptionContext})
}

func (s *Service) reEncrypt(ctx context.Context, r *Request, in *awsproto.ReEncryptInput, a *access) (any, error) {
	src, dst := a.src, a.key
	if in.DryRun && ignoresCiphertext(in.DryRunModifiers) {
		if err := usableFor(src, "ReEncrypt", UsageEncryptDecrypt); err != nil {
			return nil, err
		}
		if err := usableFor(dst, "ReEncrypt", UsageEncryptDecrypt); err != nil {
			return nil, err
		}
		return nil, errDryRun
	}
	// The source is opened first: AWS answers a SourceKeyId that did not
	// make the ciphertext (IncorrectKeyException) ahead of anything wrong
	// with the destination, as a Decrypt followed by an Encrypt would.
	pt, b, err := s.open(src, in.SourceKeyId != nil, in.CiphertextBlob, in.SourceEncryptionAlgorithm, in.SourceEncryptionContext)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	if err := usableFor(dst, "ReEncrypt", UsageEncryptDecrypt); err != nil {
		return nil, err
	}
	blob, dstAlg, err := s.encryptFor(dst, in.DestinationEncryptionAlgorithm, pt, in.DestinationEncryptionContext, in.DryRun)
	if err != nil {
		return nil, err
	}
	return &awsproto.ReEncryptOutput{
		CiphertextBlob: blob, SourceKeyId: src.arn, KeyId: dst.arn,
		SourceEncryptionAlgorithm: algorithmUsed(src, in.SourceEncryptionAlgorithm), DestinationEncryptionAlgorithm: dstAlg,
		SourceKeyMaterialId: src.materialID(b), DestinationKeyMaterialId: dst.materialID(dst.current),
	}, nil
}

func checkGenerateDataKey(in *awsproto.GenerateDataKeyWithoutPlaintextInput) error {
	var v validator
	v.keyID("keyId", in.KeyId)
	v.encryptionContext("encryptionContext", in.EncryptionContext)
	v.intRange("numberOfBytes", in.NumberOfBytes, 1, 1024)
	v.enum("keySpec", in.KeySpec, dataKeySpecs)
	v.grantTokens(in.GrantTokens)
	if err := v.err(); err != nil {
		return err
	}
	if (in.NumberOfBytes == nil) == (in.KeySpec == nil) {
		return apierr.New(apierr.Validation, "Please specify either number of bytes or key spec.")
	}
	return nil
}

func checkGenerateDataKeyWith(in *awsproto.GenerateDataKeyInput) error {
	if in.Recipient != nil {
		return errRecipient
	}
	return checkGenerateDataKey(&in.GenerateDataKeyWithoutPlaintextInput)
}

func (s *Service) generateDataKeyWith(ctx context.Context, r *Request, in *awsproto.GenerateDataKeyInput, a *access) (any, error) {
	return s.generateDataKey(a.key, "GenerateDataKey", &in.GenerateDataKeyWithoutPlaintextInput, true)
}

func (s *Service) generateDataKeyWithout(ctx context.Context, r *Request, in *awsproto.GenerateDataKeyWithoutPlaintextInput, a *access) (any, error) {
	return s.generateDataKey(a.key, "GenerateDataKeyWithoutPlaintext", in, false)
}

func (s *Service) generateDataKey(e *keyEntry, op string, in *awsproto.GenerateDataKeyWithoutPlaintextInput, withPlaintext bool) (any, error) {
	n := 32
	switch {
	case in.NumberOfBytes != nil:
		n = int(*in.NumberOfBytes)
	case *in.KeySpec == "AES_128":
		n = 16
	}
	if err := checkSymmetric(e, op); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, errDryRun
	}
	dataKey := make([]byte, n)
	if _, err := rand.Read(dataKey); err != nil {
		return nil, apierr.Internal(err)
	}
	blob, err := s.seal(e, dataKey, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	out := &awsproto.GenerateDataKeyOutput{CiphertextBlob: blob, KeyId: e.arn, KeyMaterialId: e.current.materialID}
	if withPlaintext {
		out.Plaintext = dataKey
	} else {
		clear(dataKey)
	}
	return out, nil
}

func checkGenerateRandom(in *awsproto.GenerateRandomInput) error {
	var v validator
	v.intRange("numberOfBytes", in.NumberOfBytes, 1, 1024)
	v.length("customKeyStoreId", in.CustomKeyStoreId, 1, 64)
	if err := v.err(); err != nil {
		return err
	}
	if in.NumberOfBytes == nil {
		return apierr.New(apierr.Validation, "NumberOfBytes is required.")
	}
	return nil
}

func (s *Service) generateRandom(ctx context.Context, r *Request, in *awsproto.GenerateRandomInput, a *access) (any, error) {
	if in.CustomKeyStoreId != nil {
		return nil, apierr.New("CustomKeyStoreNotFoundException", "Custom key store %s does not exist.", *in.CustomKeyStoreId)
	}
	if in.Recipient != nil {
		return nil, errRecipient
	}
	out := make([]byte, *in.NumberOfBytes)
	if _, err := rand.Read(out); err != nil {
		return nil, apierr.Internal(err)
	}
	return &awsproto.GenerateRandomOutput{Plaintext: out}, nil
}
