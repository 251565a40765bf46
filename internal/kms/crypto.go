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

// symmetricKey resolves a KeyId for an operation that needs a usable
// symmetric encryption key (GenerateDataKey*, GenerateDataKeyPair*).
func (s *Service) symmetricKey(ctx context.Context, keyID, op string) (*keyEntry, error) {
	e, err := s.usableKey(ctx, keyID, op, UsageEncryptDecrypt)
	if err != nil {
		return nil, err
	}
	if e.meta.KeySpec != SpecSymmetric {
		return nil, apierr.New(apierr.InvalidKeyUsage, "%s key spec is %s which is not valid for %s.", e.arn, e.meta.KeySpec, op)
	}
	return e, nil
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
	blob, err := keys.EncryptSymmetric(e.current.material, e.meta.ID, e.current.version, plaintext, ec)
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

func (s *Service) Encrypt(ctx context.Context, r *Request, in *awsproto.EncryptInput) (any, error) {
	var v validator
	v.keyID("keyId", in.KeyId)
	if v.required("plaintext", in.Plaintext != nil) {
		v.blobLength("plaintext", in.Plaintext, 1, 4096)
	}
	v.encryptionContext("encryptionContext", in.EncryptionContext)
	v.grantTokens(in.GrantTokens)
	v.enum("encryptionAlgorithm", in.EncryptionAlgorithm, encryptionAlgorithms)
	if err := v.err(); err != nil {
		return nil, err
	}
	e, err := s.usableKey(ctx, *in.KeyId, "Encrypt", UsageEncryptDecrypt)
	if err != nil {
		return nil, err
	}
	defer clear(in.Plaintext)
	blob, alg, err := s.encryptFor(e, in.EncryptionAlgorithm, in.Plaintext, in.EncryptionContext, in.DryRun)
	if err != nil {
		return nil, err
	}
	return &awsproto.EncryptOutput{CiphertextBlob: blob, KeyId: e.arn, EncryptionAlgorithm: alg}, nil
}

// open decrypts a ciphertext for Decrypt and ReEncrypt: a symmetric blob,
// or an RSA ciphertext of the key keyID names. If keyID is not nil the
// ciphertext must belong to that key.
func (s *Service) open(ctx context.Context, blob []byte, keyID *string, alg *string, ec map[string]string) ([]byte, *keyEntry, *backing, error) {
	var want *keyEntry
	if keyID != nil {
		var err error
		if want, err = s.resolve(ctx, *keyID, true); err != nil {
			return nil, nil, nil, err
		}
	}
	if want != nil && want.meta.KeyUsage != UsageEncryptDecrypt {
		// A key that cannot decrypt did not make this ciphertext; AWS
		// answers IncorrectKeyException here, not InvalidKeyUsageException.
		return nil, nil, nil, apierr.New(apierr.IncorrectKey, incorrectKeyMessage)
	}
	if want != nil && want.meta.KeySpec != SpecSymmetric {
		pt, err := openAsymmetric(want, blob, alg, ec)
		if err != nil {
			return nil, nil, nil, err
		}
		return pt, want, want.current, nil
	}
	h, err := keys.ParseBlob(blob)
	if err != nil {
		return nil, nil, nil, errInvalidCiphertext
	}
	if want != nil && want.meta.ID != h.KeyID {
		return nil, nil, nil, apierr.New(apierr.IncorrectKey, incorrectKeyMessage)
	}
	e := want
	if e == nil {
		// A blob naming a key this account does not have is not a
		// ciphertext Trent made for it.
		if e, err = s.entry(ctx, h.KeyID); err != nil {
			if apierr.Is(err, apierr.NotFound) {
				return nil, nil, nil, errInvalidCiphertext
			}
			return nil, nil, nil, err
		}
	}
	if e.meta.KeySpec != SpecSymmetric {
		// Only symmetric keys make blobs with this header; a header naming
		// another key was forged or damaged.
		return nil, nil, nil, errInvalidCiphertext
	}
	if err := usable(e); err != nil {
		return nil, nil, nil, err
	}
	if alg != nil && *alg != AlgSymmetric {
		return nil, nil, nil, errInvalidCiphertext
	}
	b := e.versions[h.Version]
	if b == nil {
		return nil, nil, nil, errInvalidCiphertext
	}
	pt, err := keys.DecryptSymmetric(b.material, blob, ec)
	if err != nil {
		if errors.Is(err, keys.ErrInvalidCiphertext) {
			return nil, nil, nil, errInvalidCiphertext
		}
		return nil, nil, nil, apierr.Internal(fmt.Errorf("decrypt under key %s: %w", e.meta.ID, err))
	}
	return pt, e, b, nil
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

// dryRunIgnoringCiphertext answers a DryRun with IGNORE_CIPHERTEXT: only
// the key and the caller's rights are checked, never the ciphertext.
func (s *Service) dryRunIgnoringCiphertext(ctx context.Context, op string, keyID *string) error {
	if keyID == nil {
		return apierr.New(apierr.Validation, "KeyId is required when DryRunModifiers includes IGNORE_CIPHERTEXT.")
	}
	if _, err := s.usableKey(ctx, *keyID, op, UsageEncryptDecrypt); err != nil {
		return err
	}
	return errDryRun
}

func (s *Service) Decrypt(ctx context.Context, r *Request, in *awsproto.DecryptInput) (any, error) {
	var v validator
	if v.required("ciphertextBlob", in.CiphertextBlob != nil) {
		v.blobLength("ciphertextBlob", in.CiphertextBlob, 1, 6144)
	}
	v.encryptionContext("encryptionContext", in.EncryptionContext)
	v.length("keyId", in.KeyId, 1, 2048)
	v.grantTokens(in.GrantTokens)
	v.enum("encryptionAlgorithm", in.EncryptionAlgorithm, encryptionAlgorithms)
	ignoreCiphertext := v.dryRunModifiers(in.DryRunModifiers)
	if err := v.err(); err != nil {
		return nil, err
	}
	if in.Recipient != nil {
		return nil, errRecipient
	}
	if in.DryRun && ignoreCiphertext {
		return nil, s.dryRunIgnoringCiphertext(ctx, "Decrypt", in.KeyId)
	}
	pt, e, b, err := s.open(ctx, in.CiphertextBlob, in.KeyId, in.EncryptionAlgorithm, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	if in.DryRun {
		clear(pt)
		return nil, errDryRun
	}
	return &awsproto.DecryptOutput{KeyId: e.arn, Plaintext: pt, EncryptionAlgorithm: algorithmUsed(e, in.EncryptionAlgorithm), KeyMaterialId: e.materialID(b)}, nil
}

func (s *Service) ReEncrypt(ctx context.Context, r *Request, in *awsproto.ReEncryptInput) (any, error) {
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
	ignoreCiphertext := v.dryRunModifiers(in.DryRunModifiers)
	if err := v.err(); err != nil {
		return nil, err
	}
	if in.DryRun && ignoreCiphertext {
		if in.SourceKeyId == nil {
			return nil, apierr.New(apierr.Validation, "SourceKeyId is required when DryRunModifiers includes IGNORE_CIPHERTEXT.")
		}
		if _, err := s.usableKey(ctx, *in.SourceKeyId, "ReEncrypt", UsageEncryptDecrypt); err != nil {
			return nil, err
		}
		return nil, s.dryRunIgnoringCiphertext(ctx, "ReEncrypt", in.DestinationKeyId)
	}
	dst, err := s.usableKey(ctx, *in.DestinationKeyId, "ReEncrypt", UsageEncryptDecrypt)
	if err != nil {
		return nil, err
	}
	pt, src, b, err := s.open(ctx, in.CiphertextBlob, in.SourceKeyId, in.SourceEncryptionAlgorithm, in.SourceEncryptionContext)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
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

func (s *Service) GenerateDataKey(ctx context.Context, r *Request, in *awsproto.GenerateDataKeyInput) (any, error) {
	if in.Recipient != nil {
		return nil, errRecipient
	}
	return s.generateDataKey(ctx, "GenerateDataKey", &in.GenerateDataKeyWithoutPlaintextInput, true)
}

func (s *Service) GenerateDataKeyWithoutPlaintext(ctx context.Context, r *Request, in *awsproto.GenerateDataKeyWithoutPlaintextInput) (any, error) {
	return s.generateDataKey(ctx, "GenerateDataKeyWithoutPlaintext", in, false)
}

func (s *Service) generateDataKey(ctx context.Context, op string, in *awsproto.GenerateDataKeyWithoutPlaintextInput, withPlaintext bool) (any, error) {
	var v validator
	v.keyID("keyId", in.KeyId)
	v.encryptionContext("encryptionContext", in.EncryptionContext)
	v.intRange("numberOfBytes", in.NumberOfBytes, 1, 1024)
	v.enum("keySpec", in.KeySpec, dataKeySpecs)
	v.grantTokens(in.GrantTokens)
	if err := v.err(); err != nil {
		return nil, err
	}
	if (in.NumberOfBytes == nil) == (in.KeySpec == nil) {
		return nil, apierr.New(apierr.Validation, "Please specify either number of bytes or key spec.")
	}
	n := 32
	switch {
	case in.NumberOfBytes != nil:
		n = int(*in.NumberOfBytes)
	case *in.KeySpec == "AES_128":
		n = 16
	}
	e, err := s.symmetricKey(ctx, *in.KeyId, op)
	if err != nil {
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

func (s *Service) GenerateRandom(ctx context.Context, r *Request, in *awsproto.GenerateRandomInput) (any, error) {
	var v validator
	v.intRange("numberOfBytes", in.NumberOfBytes, 1, 1024)
	v.length("customKeyStoreId", in.CustomKeyStoreId, 1, 64)
	if err := v.err(); err != nil {
		return nil, err
	}
	if in.NumberOfBytes == nil {
		return nil, apierr.New(apierr.Validation, "NumberOfBytes is required.")
	}
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
