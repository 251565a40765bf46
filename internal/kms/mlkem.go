package kms

import (
	"context"
	"errors"
	"fmt"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsproto"
	"github.com/trent-kms/trent/internal/keys"
)

// ML-KEM keys (KeySpec ML_KEM_512/768/1024, KeyUsage
// ENCAPSULATE_DECAPSULATE): Encapsulate makes a shared secret and its
// encapsulation under the key's public key, Decapsulate recovers it with
// the private key. Like every asymmetric key they have one version (no
// rotation), and GetPublicKey returns the RFC 9935 SubjectPublicKeyInfo.

// UsageEncapsulateDecapsulate is the KeyUsage of ML-KEM keys.
const UsageEncapsulateDecapsulate = "ENCAPSULATE_DECAPSULATE"

// encapsulationAlgorithms is the EncapsulationAlgorithmSpec enum.
var encapsulationAlgorithms = []string{"ML_KEM"}

func encapsulateKeyID(in *awsproto.EncapsulateInput) *string   { return in.KeyId }
func encapsulateTokens(in *awsproto.EncapsulateInput) []string { return in.GrantTokens }
func decapsulateKeyID(in *awsproto.DecapsulateInput) *string   { return in.KeyId }
func decapsulateTokens(in *awsproto.DecapsulateInput) []string { return in.GrantTokens }

// Both operations take any KeyId form and keys of other accounts
// ("Cross-account use: Yes"), and a grant for the operation allows them.
var (
	authEncapsulate = keyAuth(keyed[awsproto.EncapsulateInput]{id: encapsulateKeyID, flags: crypto, cross: true, grant: opEncapsulate, tokens: encapsulateTokens})
	authDecapsulate = keyAuth(keyed[awsproto.DecapsulateInput]{id: decapsulateKeyID, flags: crypto, cross: true, grant: opDecapsulate, tokens: decapsulateTokens})
)

func checkEncapsulate(in *awsproto.EncapsulateInput) error {
	var v validator
	v.keyID("keyId", in.KeyId)
	if v.requiredString("encapsulationAlgorithm", in.EncapsulationAlgorithm) {
		v.enum("encapsulationAlgorithm", in.EncapsulationAlgorithm, encapsulationAlgorithms)
	}
	v.grantTokens(in.GrantTokens)
	return v.err()
}

func checkDecapsulate(in *awsproto.DecapsulateInput) error {
	var v validator
	v.keyID("keyId", in.KeyId)
	// CiphertextType, as Decrypt's CiphertextBlob.
	if v.required("sharedSecretCiphertextBlob", in.SharedSecretCiphertextBlob != nil) {
		v.blobLength("sharedSecretCiphertextBlob", in.SharedSecretCiphertextBlob, 1, 6144)
	}
	if v.requiredString("encapsulationAlgorithm", in.EncapsulationAlgorithm) {
		v.enum("encapsulationAlgorithm", in.EncapsulationAlgorithm, encapsulationAlgorithms)
	}
	v.grantTokens(in.GrantTokens)
	return v.err()
}

// kemKey checks the key of Encapsulate or Decapsulate: its state, its
// usage, and (in FIPS mode) that the module provides its parameter set.
func (s *Service) kemKey(e *keyEntry, op string) error {
	if err := usableFor(e, op, UsageEncapsulateDecapsulate); err != nil {
		return err
	}
	return s.checkFIPSKey(e)
}

func (s *Service) encapsulate(ctx context.Context, r *Request, in *awsproto.EncapsulateInput, a *access) (any, error) {
	e := a.key
	if err := s.kemKey(e, "Encapsulate"); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, errDryRun
	}
	shared, ct, err := e.current.private.Encapsulate()
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("encapsulate with key %s: %w", e.meta.ID, err))
	}
	return &awsproto.EncapsulateOutput{KeyId: e.arn, SharedSecret: shared, SharedSecretCiphertextBlob: ct,
		EncapsulationAlgorithm: *in.EncapsulationAlgorithm}, nil
}

// decapsulate answers InvalidCiphertextException only for a ciphertext
// whose length does not fit the key spec, as AWS documents; any other
// ciphertext yields 32 bytes (ML-KEM's implicit rejection), so a caller
// must confirm that both parties hold the same secret.
func (s *Service) decapsulate(ctx context.Context, r *Request, in *awsproto.DecapsulateInput, a *access) (any, error) {
	e := a.key
	if err := s.kemKey(e, "Decapsulate"); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, errDryRun
	}
	shared, err := e.current.private.Decapsulate(in.SharedSecretCiphertextBlob)
	if err != nil {
		if errors.Is(err, keys.ErrInvalidCiphertext) {
			return nil, errInvalidCiphertext
		}
		return nil, apierr.Internal(fmt.Errorf("decapsulate with key %s: %w", e.meta.ID, err))
	}
	return &awsproto.DecapsulateOutput{KeyId: e.arn, SharedSecret: shared, EncapsulationAlgorithm: *in.EncapsulationAlgorithm}, nil
}
