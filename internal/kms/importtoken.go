package kms

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/trent-kms/trent/internal/keys"
)

// An import token carries the wrapping private key of one
// GetParametersForImport answer, so Trent stores nothing between that call
// and ImportKeyMaterial and any node with the root key can complete the
// import. The private key never leaves Trent in plaintext: the token is
//
//	0x01 ‖ RootKey.Wrap(payload, AAD = "trent/import-token/v1" ‖ 0 ‖ key ARN)
//	payload = 0x01 ‖ valid-to (8, Unix nanoseconds, big-endian) ‖
//	          wrapping algorithm (1) ‖ wrapping key spec (1) ‖ PKCS#1 DER private key
//
// The AAD binds the token to its key: a token of another key does not
// unwrap (InvalidImportTokenException). The expiry is inside the sealed
// payload, so it cannot be moved.

const (
	importTokenVersion   = 0x01
	importPayloadVersion = 0x01
	// importTokenValidity is how long GetParametersForImport's answer may
	// be used, as AWS: 24 hours.
	importTokenValidity = 24 * time.Hour
	// maxImportToken is the model's bound on ImportToken.
	maxImportToken = 6144
	// importPayloadHeader is the payload before the private key.
	importPayloadHeader = 1 + 8 + 1 + 1
)

var (
	wrappingAlgorithms = []string{"RSAES_PKCS1_V1_5", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256", "SM2PKE"}
	wrappingKeySpecs   = []string{"RSA_2048", "RSA_3072", "RSA_4096", "SM2"}
	// tokenAlgorithms and tokenSpecs are the codes of the payload; index 0
	// is never valid.
	tokenAlgorithms = []string{"", keys.WrapOAEPSHA1, keys.WrapOAEPSHA256, keys.WrapRSAAESKWSHA1, keys.WrapRSAAESKWSHA256}
	tokenSpecs      = []int{0, 2048, 3072, 4096}
)

// errBadImportToken is every way a token can fail to be one of ours for
// this key; the caller answers InvalidImportTokenException.
var errBadImportToken = errors.New("kms: invalid import token")

// importToken is a decoded token.
type importToken struct {
	validTo   time.Time
	algorithm string
	bits      int
	private   *rsa.PrivateKey
}

func importTokenAAD(arn string) []byte {
	return append([]byte("trent/import-token/v1\x00"), arn...)
}

func codeOf[T comparable](list []T, v T) (byte, bool) {
	for i, x := range list {
		if i > 0 && x == v {
			return byte(i), true
		}
	}
	return 0, false
}

// encodeImportPayload is the plaintext of a token.
func encodeImportPayload(t importToken) ([]byte, error) {
	alg, ok := codeOf(tokenAlgorithms, t.algorithm)
	if !ok {
		return nil, fmt.Errorf("kms: import token: algorithm %q has no code", t.algorithm)
	}
	spec, ok := codeOf(tokenSpecs, t.bits)
	if !ok {
		return nil, fmt.Errorf("kms: import token: RSA size %d has no code", t.bits)
	}
	der := x509.MarshalPKCS1PrivateKey(t.private)
	p := make([]byte, importPayloadHeader, importPayloadHeader+len(der))
	p[0] = importPayloadVersion
	binary.BigEndian.PutUint64(p[1:9], uint64(t.validTo.UnixNano()))
	p[9], p[10] = alg, spec
	return append(p, der...), nil
}

// splitImportToken checks a token's framing and returns its sealed part.
func splitImportToken(b []byte) ([]byte, error) {
	if len(b) < 2 || len(b) > maxImportToken || b[0] != importTokenVersion {
		return nil, errBadImportToken
	}
	return b[1:], nil
}

// decodeImportPayload parses the plaintext of a token. The payload was
// sealed by this installation, so a failure here means a bug or a root key
// shared with something else; it is refused all the same, never guessed.
func decodeImportPayload(p []byte) (importToken, error) {
	if len(p) <= importPayloadHeader || p[0] != importPayloadVersion {
		return importToken{}, errBadImportToken
	}
	alg, spec := int(p[9]), int(p[10])
	if alg == 0 || alg >= len(tokenAlgorithms) || spec == 0 || spec >= len(tokenSpecs) {
		return importToken{}, errBadImportToken
	}
	k, err := x509.ParsePKCS1PrivateKey(p[importPayloadHeader:])
	if err != nil || k.N.BitLen() != tokenSpecs[spec] {
		return importToken{}, errBadImportToken
	}
	return importToken{
		validTo:   time.Unix(0, int64(binary.BigEndian.Uint64(p[1:9]))).UTC(),
		algorithm: tokenAlgorithms[alg],
		bits:      tokenSpecs[spec],
		private:   k,
	}, nil
}

// sealImportToken makes the token of t for the key arn.
func (s *Service) sealImportToken(arn string, t importToken) ([]byte, error) {
	p, err := encodeImportPayload(t)
	if err != nil {
		return nil, err
	}
	defer clear(p)
	sealed, err := s.root.Wrap(p, importTokenAAD(arn))
	if err != nil {
		return nil, fmt.Errorf("kms: seal import token: %w", err)
	}
	return append([]byte{importTokenVersion}, sealed...), nil
}

// openImportToken returns the token's contents if it was made for the key
// arn; errBadImportToken otherwise. Expiry is the caller's to judge.
func (s *Service) openImportToken(arn string, b []byte) (importToken, error) {
	sealed, err := splitImportToken(b)
	if err != nil {
		return importToken{}, err
	}
	p, err := s.root.Unwrap(sealed, importTokenAAD(arn))
	if err != nil {
		return importToken{}, errBadImportToken
	}
	defer clear(p)
	return decodeImportPayload(p)
}
