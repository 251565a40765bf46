package kms

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsproto"
	"github.com/trent-kms/trent/internal/keys"
)

const messageTypeRaw = "RAW"

// usableFor checks a key's state and usage for a cryptographic operation.
func usableFor(e *keyEntry, op, usage string) error {
	if err := usable(e); err != nil {
		return err
	}
	return checkUsage(e, op, usage)
}

func incompatible(alg, spec string) error {
	return apierr.New(apierr.InvalidKeyUsage, "Algorithm %s is incompatible with key spec %s.", alg, spec)
}

// noContext refuses an encryption context on a key that cannot bind one:
// asymmetric and HMAC algorithms take no additional authenticated data.
func noContext(e *keyEntry, ec map[string]string) error {
	if len(ec) > 0 {
		return apierr.New(apierr.Validation, "EncryptionContext is not supported with %s KMS keys: only symmetric encryption keys bind an encryption context.", e.meta.KeySpec)
	}
	return nil
}

// checkAsymmetricEncrypt applies AWS's rules for encrypting n bytes with an
// RSA ENCRYPT_DECRYPT key and returns the algorithm to use.
func checkAsymmetricEncrypt(e *keyEntry, algorithm *string, n int, ec map[string]string) (string, error) {
	alg := AlgSymmetric
	if algorithm != nil {
		alg = *algorithm
	}
	if !slices.Contains(keys.EncryptionAlgorithms(e.meta.KeySpec), alg) {
		return "", incompatible(alg, e.meta.KeySpec)
	}
	if err := noContext(e, ec); err != nil {
		return "", err
	}
	if max := keys.MaxPlaintext(e.meta.KeySpec, alg); n > max {
		return "", apierr.New(apierr.Validation, "Algorithm %s and key spec %s cannot encrypt data larger than %d bytes.", alg, e.meta.KeySpec, max)
	}
	return alg, nil
}

// openAsymmetric decrypts an RSA ciphertext with the ENCRYPT_DECRYPT key
// the caller named.
func openAsymmetric(e *keyEntry, blob []byte, alg *string, ec map[string]string) ([]byte, error) {
	if err := usable(e); err != nil {
		return nil, err
	}
	if alg == nil || !slices.Contains(keys.EncryptionAlgorithms(e.meta.KeySpec), *alg) {
		return nil, errInvalidCiphertext
	}
	if err := noContext(e, ec); err != nil {
		return nil, err
	}
	pt, err := e.current.private.DecryptRSA(*alg, blob)
	if err != nil {
		return nil, errInvalidCiphertext
	}
	return pt, nil
}

func (v *validator) signInput(keyID *string, message []byte, messageType, alg *string, tokens []string) {
	v.keyID("keyId", keyID)
	if v.required("message", message != nil) {
		v.blobLength("message", message, 1, 4096)
	}
	v.enum("messageType", messageType, messageTypes)
	if v.requiredString("signingAlgorithm", alg) {
		v.enum("signingAlgorithm", alg, signingAlgorithms)
	}
	v.grantTokens(tokens)
}

// signingKey checks the key of Sign or Verify, the algorithm and the
// message type against it, and returns the message type.
func signingKey(e *keyEntry, op string, alg string, messageType *string) (string, error) {
	if err := usableFor(e, op, UsageSignVerify); err != nil {
		return "", err
	}
	if !slices.Contains(keys.SigningAlgorithms(e.meta.KeySpec), alg) {
		return "", incompatible(alg, e.meta.KeySpec)
	}
	mt := messageTypeRaw
	if messageType != nil {
		mt = *messageType
	}
	return mt, nil
}

// checkSigning makes the checks Sign and Verify share, in one order for
// both: the key, algorithm and message type (signingKey), FIPS, the
// message (checkMessage), EXTERNAL_MU, then DryRun. It returns the
// message type.
func (s *Service) checkSigning(e *keyEntry, op, alg string, messageType *string, message []byte, dryRun bool) (string, error) {
	mt, err := signingKey(e, op, alg, messageType)
	if err != nil {
		return "", err
	}
	if err := s.checkFIPSKey(e); err != nil {
		return "", err
	}
	if err := checkMessage(alg, mt, message); err != nil {
		return "", signError(e, alg, mt, err)
	}
	if err := checkExternalMu(mt); err != nil {
		return "", err
	}
	if dryRun {
		return "", errDryRun
	}
	return mt, nil
}

// checkMessage applies AWS's MessageType rules before any key is used:
// DIGEST must be exactly the algorithm's hash size; ED25519_SHA_512 signs
// only RAW messages and ED25519_PH_SHA_512 only digests; EXTERNAL_MU is a
// 64-byte ML-DSA μ and ML-DSA takes no DIGEST.
func checkMessage(alg, messageType string, message []byte) error {
	mldsa := alg == "ML_DSA_SHAKE_256"
	switch messageType {
	case "DIGEST":
		if mldsa || alg == "ED25519_SHA_512" {
			return keys.ErrUnsupportedMessageType
		}
		if len(message) != keys.HashSize(alg) {
			return keys.ErrDigestLength
		}
	case "EXTERNAL_MU":
		if !mldsa {
			return keys.ErrUnsupportedMessageType
		}
		if len(message) != 64 {
			return keys.ErrDigestLength
		}
	default:
		if alg == "ED25519_PH_SHA_512" {
			return keys.ErrUnsupportedMessageType
		}
	}
	return nil
}

// signError maps the key package's refusals to AWS's exceptions.
func signError(e *keyEntry, alg, messageType string, err error) error {
	switch {
	case errors.Is(err, keys.ErrDigestLength):
		return apierr.New(apierr.Validation, "Digest is invalid length for algorithm %s.", alg)
	case errors.Is(err, keys.ErrUnsupportedMessageType):
		return apierr.New(apierr.Validation, "MessageType %s is not supported for signing algorithm %s.", messageType, alg)
	case errors.Is(err, keys.ErrInvalidSignature):
		return apierr.New(apierr.KMSInvalidSignature, "")
	}
	return apierr.Internal(fmt.Errorf("sign with key %s: %w", e.meta.ID, err))
}

func checkSign(in *awsproto.SignInput) error {
	var v validator
	v.signInput(in.KeyId, in.Message, in.MessageType, in.SigningAlgorithm, in.GrantTokens)
	return v.err()
}

func (s *Service) sign(ctx context.Context, r *Request, in *awsproto.SignInput, a *access) (any, error) {
	e, alg := a.key, *in.SigningAlgorithm
	mt, err := s.checkSigning(e, "Sign", alg, in.MessageType, in.Message, in.DryRun)
	if err != nil {
		return nil, err
	}
	sig, err := e.current.private.Sign(alg, mt, in.Message)
	if err != nil {
		return nil, signError(e, alg, mt, err)
	}
	return &awsproto.SignOutput{KeyId: e.arn, Signature: sig, SigningAlgorithm: alg}, nil
}

func checkVerify(in *awsproto.VerifyInput) error {
	var v validator
	v.signInput(in.KeyId, in.Message, in.MessageType, in.SigningAlgorithm, in.GrantTokens)
	if v.required("signature", in.Signature != nil) {
		v.blobLength("signature", in.Signature, 1, 6144)
	}
	return v.err()
}

func (s *Service) verify(ctx context.Context, r *Request, in *awsproto.VerifyInput, a *access) (any, error) {
	e, alg := a.key, *in.SigningAlgorithm
	mt, err := s.checkSigning(e, "Verify", alg, in.MessageType, in.Message, in.DryRun)
	if err != nil {
		return nil, err
	}
	if err := e.current.private.Verify(alg, mt, in.Message, in.Signature); err != nil {
		return nil, signError(e, alg, mt, err)
	}
	return &awsproto.VerifyOutput{KeyId: e.arn, SignatureValid: true, SigningAlgorithm: alg}, nil
}

func (s *Service) getPublicKey(ctx context.Context, r *Request, in *awsproto.DescribeKeyInput, a *access) (any, error) {
	e := a.key
	if err := usable(e); err != nil {
		return nil, err
	}
	switch e.meta.KeyUsage {
	case UsageEncryptDecrypt, UsageSignVerify, UsageKeyAgreement, UsageEncapsulateDecapsulate:
	default:
		return nil, apierr.New(apierr.InvalidKeyUsage, "%s key usage is %s which is not valid for GetPublicKey.", e.arn, e.meta.KeyUsage)
	}
	if e.meta.KeySpec == SpecSymmetric {
		return nil, apierr.New(apierr.UnsupportedOperation, "%s is a symmetric encryption key: it has no public key.", e.arn)
	}
	pub, err := e.current.private.PublicKeyDER()
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("public key of %s: %w", e.meta.ID, err))
	}
	algs := algorithmsFor(e.meta.KeySpec, e.meta.KeyUsage)
	return &awsproto.GetPublicKeyOutput{
		KeyId: e.arn, PublicKey: pub, CustomerMasterKeySpec: e.meta.KeySpec, KeySpec: e.meta.KeySpec,
		KeyUsage: e.meta.KeyUsage, EncryptionAlgorithms: algs.encryption, SigningAlgorithms: algs.signing,
		KeyAgreementAlgorithms: algs.keyAgreement, EncapsulationAlgorithms: algs.encapsulation,
	}, nil
}

func (v *validator) macInput(keyID *string, message []byte, alg *string, tokens []string) {
	if v.required("message", message != nil) {
		v.blobLength("message", message, 1, 4096)
	}
	v.keyID("keyId", keyID)
	if v.requiredString("macAlgorithm", alg) {
		v.enum("macAlgorithm", alg, macAlgorithms)
	}
	v.grantTokens(tokens)
}

func macKey(e *keyEntry, op string, alg string) error {
	if err := usableFor(e, op, UsageGenerateVerifyMac); err != nil {
		return err
	}
	if !slices.Contains(keys.MacAlgorithms(e.meta.KeySpec), alg) {
		return incompatible(alg, e.meta.KeySpec)
	}
	return nil
}

func checkGenerateMac(in *awsproto.GenerateMacInput) error {
	var v validator
	v.macInput(in.KeyId, in.Message, in.MacAlgorithm, in.GrantTokens)
	return v.err()
}

func (s *Service) generateMac(ctx context.Context, r *Request, in *awsproto.GenerateMacInput, a *access) (any, error) {
	e := a.key
	if err := macKey(e, "GenerateMac", *in.MacAlgorithm); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, errDryRun
	}
	mac, err := keys.GenerateMac(e.meta.KeySpec, *in.MacAlgorithm, e.current.material, in.Message)
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("mac with key %s: %w", e.meta.ID, err))
	}
	return &awsproto.GenerateMacOutput{Mac: mac, MacAlgorithm: *in.MacAlgorithm, KeyId: e.arn}, nil
}

func checkVerifyMac(in *awsproto.VerifyMacInput) error {
	var v validator
	v.macInput(in.KeyId, in.Message, in.MacAlgorithm, in.GrantTokens)
	if v.required("mac", in.Mac != nil) {
		v.blobLength("mac", in.Mac, 1, 6144)
	}
	return v.err()
}

func (s *Service) verifyMac(ctx context.Context, r *Request, in *awsproto.VerifyMacInput, a *access) (any, error) {
	e := a.key
	if err := macKey(e, "VerifyMac", *in.MacAlgorithm); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, errDryRun
	}
	if err := keys.VerifyMac(e.meta.KeySpec, *in.MacAlgorithm, e.current.material, in.Message, in.Mac); err != nil {
		if errors.Is(err, keys.ErrInvalidMac) {
			return nil, apierr.New(apierr.KMSInvalidMac, "")
		}
		return nil, apierr.Internal(fmt.Errorf("verify mac with key %s: %w", e.meta.ID, err))
	}
	return &awsproto.VerifyMacOutput{KeyId: e.arn, MacValid: true, MacAlgorithm: *in.MacAlgorithm}, nil
}

func checkDeriveSharedSecret(in *awsproto.DeriveSharedSecretInput) error {
	var v validator
	v.keyID("keyId", in.KeyId)
	if v.requiredString("keyAgreementAlgorithm", in.KeyAgreementAlgorithm) {
		v.enum("keyAgreementAlgorithm", in.KeyAgreementAlgorithm, keyAgreementAlgorithms)
	}
	if v.required("publicKey", in.PublicKey != nil) {
		v.blobLength("publicKey", in.PublicKey, 1, 8192)
	}
	v.grantTokens(in.GrantTokens)
	if err := v.err(); err != nil {
		return err
	}
	if in.Recipient != nil {
		return errRecipient
	}
	return nil
}

func (s *Service) deriveSharedSecret(ctx context.Context, r *Request, in *awsproto.DeriveSharedSecretInput, a *access) (any, error) {
	e := a.key
	if err := usableFor(e, "DeriveSharedSecret", UsageKeyAgreement); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, errDryRun
	}
	secret, err := e.current.private.DeriveSharedSecret(in.PublicKey)
	if err != nil {
		if errors.Is(err, keys.ErrInvalidPeerKey) {
			return nil, apierr.New(apierr.Validation, "")
		}
		return nil, apierr.Internal(fmt.Errorf("derive shared secret with key %s: %w", e.meta.ID, err))
	}
	return &awsproto.DeriveSharedSecretOutput{KeyId: e.arn, SharedSecret: secret, KeyAgreementAlgorithm: *in.KeyAgreementAlgorithm, KeyOrigin: OriginAWSKMS}, nil
}

func checkGenerateDataKeyPair(in *awsproto.GenerateDataKeyPairWithoutPlaintextInput) error {
	var v validator
	v.encryptionContext("encryptionContext", in.EncryptionContext)
	v.keyID("keyId", in.KeyId)
	if v.requiredString("keyPairSpec", in.KeyPairSpec) {
		v.enum("keyPairSpec", in.KeyPairSpec, dataKeyPairSpecs)
	}
	v.grantTokens(in.GrantTokens)
	if err := v.err(); err != nil {
		return err
	}
	if *in.KeyPairSpec == specSM2 {
		return apierr.New(apierr.UnsupportedOperation, "Trent does not support KeyPairSpec SM2: Go has no well-kept SM2 implementation.")
	}
	return nil
}

func checkGenerateDataKeyPairWith(in *awsproto.GenerateDataKeyPairInput) error {
	if in.Recipient != nil {
		return errRecipient
	}
	return checkGenerateDataKeyPair(&in.GenerateDataKeyPairWithoutPlaintextInput)
}

func (s *Service) generateDataKeyPairWith(ctx context.Context, r *Request, in *awsproto.GenerateDataKeyPairInput, a *access) (any, error) {
	return s.generateDataKeyPair(a.key, "GenerateDataKeyPair", &in.GenerateDataKeyPairWithoutPlaintextInput, true)
}

func (s *Service) generateDataKeyPairWithout(ctx context.Context, r *Request, in *awsproto.GenerateDataKeyPairWithoutPlaintextInput, a *access) (any, error) {
	return s.generateDataKeyPair(a.key, "GenerateDataKeyPairWithoutPlaintext", in, false)
}

func (s *Service) generateDataKeyPair(e *keyEntry, op string, in *awsproto.GenerateDataKeyPairWithoutPlaintextInput, withPlaintext bool) (any, error) {
	if err := checkSymmetric(e, op); err != nil {
		return nil, err
	}
	if err := s.checkFIPS("KeyPairSpec", *in.KeyPairSpec); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, errDryRun
	}
	private, public, err := keys.DataKeyPair(*in.KeyPairSpec)
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("generate %s key pair: %w", *in.KeyPairSpec, err))
	}
	blob, err := s.seal(e, private, in.EncryptionContext)
	if err != nil {
		clear(private)
		return nil, err
	}
	out := &awsproto.GenerateDataKeyPairOutput{
		PrivateKeyCiphertextBlob: blob, PublicKey: public, KeyId: e.arn,
		KeyPairSpec: *in.KeyPairSpec, KeyMaterialId: e.current.materialID,
	}
	if withPlaintext {
		out.PrivateKeyPlaintext = private
	} else {
		clear(private)
	}
	return out, nil
}
