package keys

import (
	"crypto"
	"crypto/ecdh"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"slices"
)

// Asymmetric and HMAC keys.
//
// Every function here takes the AWS KeySpec name and the stored private
// material, never a parsed key: the material is parsed on each call in the
// one format GeneratePrivate produces for that spec, and a value that does not
// parse, or parses as a key of another kind or size, is an error wrapping
// ErrInvalidKeyMaterial. Nothing guesses a format from its first bytes.
//
// Private material formats (what GeneratePrivate returns and every other
// function expects):
//
//	RSA_2048/3072/4096       PKCS#8 (RFC 5208) rsaEncryption (generated with e = 65537)
//	ECC_NIST_P256/P384/P521  PKCS#8 id-ecPublicKey + named curve, RFC 5915 ECPrivateKey
//	                         (as crypto/x509 writes it: no inner parameters, public key included)
//	ECC_SECG_P256K1          the same, with the secp256k1 OID 1.3.132.0.10 (encoded here)
//	ECC_NIST_EDWARDS25519    PKCS#8 id-Ed25519 (RFC 8410)
//	ML_DSA_44/65/87          PKCS#8 id-ml-dsa-* with the 32-byte seed form of RFC 9881 §6
//	                         (privateKey = [0] IMPLICIT OCTET STRING ξ)
//	ML_KEM_512/768/1024      PKCS#8 id-alg-ml-kem-* with the 64-byte seed d ‖ z (RFC 9935)
//	HMAC_224/256/384/512     the raw key, 28/32/48/64 bytes as generated; any length from
//	                         the hash size up to the hash's block size is accepted
//
// Public keys are DER SubjectPublicKeyInfo, as AWS's GetPublicKey returns them.
//
// Secret results: GeneratePrivate's result, DataKeyPair's private key and
// DeriveSharedSecret's result are secret (so is the private argument of every
// function); signatures, MACs, public keys and RSA ciphertexts are not.

// Errors. The caller maps them to AWS exceptions; the mapping suggested in
// each comment is AWS's behaviour.
var (
	// ErrUnsupportedSpec: the key spec is unknown, unsupported (SM2), or does not support the operation (e.g. PublicKeyDER of an
	// HMAC key). The caller checks KeyUsage first, so reaching this is a bug
	// or a ValidationException for a spec given on the wire.
	ErrUnsupportedSpec = errors.New("keys: key spec not supported for this operation")

	// ErrAlgorithmSpecMismatch: the signing, encryption or MAC algorithm is
	// not one the key spec supports (InvalidKeyUsageException, "Algorithm X
	// is incompatible with key spec Y.").
	ErrAlgorithmSpecMismatch = errors.New("keys: algorithm is incompatible with key spec")

	// ErrUnsupportedMessageType: the MessageType is not allowed with the
	// signing algorithm (ValidationException). EXTERNAL_MU is always refused:
	// see Sign.
	ErrUnsupportedMessageType = errors.New("keys: message type not supported for signing algorithm")

	// ErrDigestLength: with MessageType DIGEST, the message length is not
	// the algorithm's hash size (ValidationException, "Digest is invalid
	// length for algorithm X.").
	ErrDigestLength = errors.New("keys: digest is invalid length for algorithm")

	// ErrInvalidSignature: Verify found the signature invalid
	// (KMSInvalidSignatureException). Malformed signatures are invalid, not
	// a different error.
	ErrInvalidSignature = errors.New("keys: invalid signature")

	// ErrInvalidMac: VerifyMac found the MAC invalid (KMSInvalidMacException).
	ErrInvalidMac = errors.New("keys: invalid mac")

	// ErrInvalidPeerKey: DeriveSharedSecret's peer public key is not a
	// well-formed SPKI for a point on the key's curve (ValidationException).
	ErrInvalidPeerKey = errors.New("keys: invalid peer public key")

	// ErrPlaintextTooLarge: EncryptRSA's plaintext exceeds MaxPlaintext
	// (ValidationException, "Algorithm X and key spec Y cannot encrypt data
	// larger than N bytes.").
	ErrPlaintextTooLarge = errors.New("keys: plaintext too large for algorithm and key spec")

	// ErrInvalidKeyMaterial: the stored private material does not parse in
	// the spec's format or does not match the spec (KMSInternalException:
	// storage is corrupt or a caller passed the wrong spec).
	ErrInvalidKeyMaterial = errors.New("keys: invalid key material for key spec")
)

// AWS enum values used in the tables below.
const (
	usageEncryptDecrypt = "ENCRYPT_DECRYPT"
	usageSignVerify     = "SIGN_VERIFY"
	usageMac            = "GENERATE_VERIFY_MAC"
	usageKeyAgreement   = "KEY_AGREEMENT"

	msgRaw    = "RAW"
	msgDigest = "DIGEST"
)

type family int

const (
	famSymmetric family = iota + 1
	famRSA
	famECDSA // NIST P-256/384/521
	famSecp256k1
	famEd25519
	famMLDSA
	famHMAC
	famMLKEM
)

// specInfo is one row of AWS's KeySpec table.
type specInfo struct {
	name   string
	family family

	rsaBits  int            // famRSA
	curve    elliptic.Curve // famECDSA
	ecdh     ecdh.Curve     // famECDSA
	curveOID []byte         // famECDSA, famSecp256k1
	mldsa    *mldsaParams   // famMLDSA
	hmac     *hmacParams    // famHMAC
	mlkem    *mlkemParams   // famMLKEM (mlkem.go)

	usages     []string
	signing    []string
	encryption []string
	mac        []string
	agreement  []string
	// encapsulation lists the EncapsulationAlgorithmSpec values (ML-KEM).
	encapsulation []string
	dataKey       bool // a GenerateDataKeyPair KeyPairSpec
}

var (
	rsaSigning = []string{
		"RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
		"RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
	}
	rsaEncryption = []string{"RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"}
)

var specs = map[string]*specInfo{}

func init() {
	add := func(s *specInfo) { specs[s.name] = s }
	add(&specInfo{name: "SYMMETRIC_DEFAULT", family: famSymmetric,
		usages: []string{usageEncryptDecrypt}, encryption: []string{"SYMMETRIC_DEFAULT"}})
	for _, bits := range []int{2048, 3072, 4096} {
		add(&specInfo{name: fmt.Sprintf("RSA_%d", bits), family: famRSA, rsaBits: bits,
			usages:  []string{usageEncryptDecrypt, usageSignVerify},
			signing: rsaSigning, encryption: rsaEncryption, dataKey: true})
	}
	for _, c := range []struct {
		name  string
		curve elliptic.Curve
		ecdh  ecdh.Curve
		oid   []byte
		alg   string
	}{
		{"ECC_NIST_P256", elliptic.P256(), ecdh.P256(), oidP256, "ECDSA_SHA_256"},
		{"ECC_NIST_P384", elliptic.P384(), ecdh.P384(), oidP384, "ECDSA_SHA_384"},
		{"ECC_NIST_P521", elliptic.P521(), ecdh.P521(), oidP521, "ECDSA_SHA_512"},
	} {
		add(&specInfo{name: c.name, family: famECDSA, curve: c.curve, ecdh: c.ecdh, curveOID: c.oid,
			usages:  []string{usageSignVerify, usageKeyAgreement},
			signing: []string{c.alg}, agreement: []string{"ECDH"}, dataKey: true})
	}
	add(&specInfo{name: "ECC_SECG_P256K1", family: famSecp256k1, curveOID: oidSecp256k1,
		usages: []string{usageSignVerify}, signing: []string{"ECDSA_SHA_256"}, dataKey: true})
	add(&specInfo{name: "ECC_NIST_EDWARDS25519", family: famEd25519,
		usages: []string{usageSignVerify}, signing: []string{"ED25519_SHA_512", "ED25519_PH_SHA_512"}, dataKey: true})
	for _, p := range mldsaSets {
		add(&specInfo{name: p.spec, family: famMLDSA, mldsa: p,
			usages: []string{usageSignVerify}, signing: []string{"ML_DSA_SHAKE_256"}})
	}
	for _, p := range hmacSets {
		add(&specInfo{name: p.spec, family: famHMAC, hmac: p,
			usages: []string{usageMac}, mac: []string{p.algorithm}})
	}
}

// sigKind is how a signing algorithm uses its input.
type sigKind int

const (
	kindPKCS1 sigKind = iota + 1
	kindPSS
	kindECDSA
	kindEd25519   // pure Ed25519, RAW only
	kindEd25519ph // HashEdDSA, DIGEST only
	kindMLDSA
)

type sigAlg struct {
	kind sigKind
	hash crypto.Hash // for kindMLDSA, 0
}

var sigAlgs = map[string]sigAlg{
	"RSASSA_PKCS1_V1_5_SHA_256": {kindPKCS1, crypto.SHA256},
	"RSASSA_PKCS1_V1_5_SHA_384": {kindPKCS1, crypto.SHA384},
	"RSASSA_PKCS1_V1_5_SHA_512": {kindPKCS1, crypto.SHA512},
	"RSASSA_PSS_SHA_256":        {kindPSS, crypto.SHA256},
	"RSASSA_PSS_SHA_384":        {kindPSS, crypto.SHA384},
	"RSASSA_PSS_SHA_512":        {kindPSS, crypto.SHA512},
	"ECDSA_SHA_256":             {kindECDSA, crypto.SHA256},
	"ECDSA_SHA_384":             {kindECDSA, crypto.SHA384},
	"ECDSA_SHA_512":             {kindECDSA, crypto.SHA512},
	"ED25519_SHA_512":           {kindEd25519, crypto.SHA512},
	"ED25519_PH_SHA_512":        {kindEd25519ph, crypto.SHA512},
	"ML_DSA_SHAKE_256":          {kindMLDSA, 0},
}

// mldsaMuSize is the size of ML-DSA's message representative μ (FIPS 204).
const mldsaMuSize = 64

// lookupSpec returns the row for spec, or ErrUnsupportedSpec.
func lookupSpec(spec string) (*specInfo, error) {
	s, ok := specs[spec]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedSpec, spec)
	}
	return s, nil
}

// SigningAlgorithms returns the SigningAlgorithmSpec values AWS lists for a
// key spec, in AWS's order (KeyMetadata.SigningAlgorithms of a SIGN_VERIFY
// key), or nil if the spec cannot sign. The slice is the caller's.
func SigningAlgorithms(spec string) []string {
	return column(spec, func(s *specInfo) []string { return s.signing })
}

// EncryptionAlgorithms returns the EncryptionAlgorithmSpec values for a key
// spec (KeyMetadata.EncryptionAlgorithms of an ENCRYPT_DECRYPT key):
// [SYMMETRIC_DEFAULT] for SYMMETRIC_DEFAULT, [RSAES_OAEP_SHA_1
// RSAES_OAEP_SHA_256] for RSA, nil otherwise.
func EncryptionAlgorithms(spec string) []string {
	return column(spec, func(s *specInfo) []string { return s.encryption })
}

// MacAlgorithms returns the one MacAlgorithmSpec of an HMAC key spec, nil
// for other specs.
func MacAlgorithms(spec string) []string {
	return column(spec, func(s *specInfo) []string { return s.mac })
}

// KeyAgreementAlgorithms returns [ECDH] for the NIST curves, nil otherwise.
func KeyAgreementAlgorithms(spec string) []string {
	return column(spec, func(s *specInfo) []string { return s.agreement })
}

// KeyUsages returns the KeyUsage values CreateKey accepts with a key spec,
// nil for an unknown spec. The first is not a default: AWS's default
// (ENCRYPT_DECRYPT) is only valid for SYMMETRIC_DEFAULT and RSA, and HMAC
// specs require an explicit GENERATE_VERIFY_MAC.
func KeyUsages(spec string) []string {
	return column(spec, func(s *specInfo) []string { return s.usages })
}

func column(spec string, f func(*specInfo) []string) []string {
	s, ok := specs[spec]
	if !ok {
		return nil
	}
	return slices.Clone(f(s))
}

// HashSize returns the length in bytes of the digest a signing algorithm
// signs: the size a MessageType DIGEST message must have (32, 48 or 64 for
// the _SHA_256/384/512 algorithms, 64 for both Ed25519 algorithms although
// ED25519_SHA_512 accepts only RAW), and for ML_DSA_SHAKE_256 the size of an
// EXTERNAL_MU message, 64. It returns 0 for an unknown algorithm.
func HashSize(algorithm string) int {
	a, ok := sigAlgs[algorithm]
	if !ok {
		return 0
	}
	if a.kind == kindMLDSA {
		return mldsaMuSize
	}
	return a.hash.Size()
}

// GeneratePrivate makes new private material for a key spec, in the format
// described at the top of this file, from crypto/rand. It supports every
// spec in SigningAlgorithms, EncryptionAlgorithms, MacAlgorithms or
// KeyAgreementAlgorithms except SYMMETRIC_DEFAULT (use
// NewSymmetricMaterial). The result is secret: the caller must wrap it
// before it is stored. RSA_4096 takes seconds.
func GeneratePrivate(spec string) ([]byte, error) {
	s, err := lookupSpec(spec)
	if err != nil {
		return nil, err
	}
	switch s.family {
	case famRSA:
		return generateRSA(s)
	case famECDSA:
		return generateECDSA(s)
	case famSecp256k1:
		return generateSecp256k1()
	case famEd25519:
		return generateEd25519()
	case famMLDSA:
		return generateMLDSA(s.mldsa)
	case famMLKEM:
		return generateMLKEM(s.mlkem)
	case famHMAC:
		b := make([]byte, s.hmac.size)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("keys: generating HMAC key: %w", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrUnsupportedSpec, spec)
}

// PublicKeyDER returns the DER SubjectPublicKeyInfo of an asymmetric key,
// GetPublicKey's PublicKey: rsaEncryption with NULL parameters;
// id-ecPublicKey with the named curve (P-256, P-384, P-521 or secp256k1) and
// an uncompressed point; id-Ed25519 (RFC 8410); id-ml-dsa-44/65/87 without
// parameters and the raw FIPS 204 public key (RFC 9881).
func PublicKeyDER(spec string, private []byte) ([]byte, error) {
	p, err := ParsePrivate(spec, private)
	if err != nil {
		return nil, err
	}
	return p.PublicKeyDER()
}

// DataKeyPair generates a key pair for GenerateDataKeyPair and
// GenerateDataKeyPairWithoutPlaintext: private is PKCS#8 DER and public is
// SubjectPublicKeyInfo DER. KeyPairSpec is RSA_2048/3072/4096,
// ECC_NIST_P256/P384/P521, ECC_SECG_P256K1 or ECC_NIST_EDWARDS25519; SM2 and
// ML_KEM_* are ErrUnsupportedSpec. The secp256k1 private key is PKCS#8 with
// id-ecPublicKey and the secp256k1 OID around an RFC 5915 ECPrivateKey
// (version 1, 32-byte key, no inner parameters, public key included), which
// OpenSSL reads.
func DataKeyPair(spec string) (privatePKCS8, publicSPKI []byte, err error) {
	s, err := lookupSpec(spec)
	if err != nil {
		return nil, nil, err
	}
	if !s.dataKey {
		return nil, nil, fmt.Errorf("%w: %s is not a data key pair spec", ErrUnsupportedSpec, spec)
	}
	priv, err := GeneratePrivate(spec)
	if err != nil {
		return nil, nil, err
	}
	pub, err := PublicKeyDER(spec, priv)
	if err != nil {
		return nil, nil, err
	}
	return priv, pub, nil
}

// Sign signs message with the private key of a SIGN_VERIFY key, following
// AWS's Sign:
//
//   - RSASSA_PKCS1_V1_5_SHA_*, RSASSA_PSS_SHA_* (salt length = hash length,
//     MGF1 with the same hash) and ECDSA_SHA_* (DER Ecdsa-Sig-Value) take
//     MessageType RAW (the message is hashed with the algorithm's hash) or
//     DIGEST (the message is the digest, and must be HashSize bytes, else
//     ErrDigestLength). "" means RAW, AWS's default. secp256k1 signatures are
//     RFC 6979 deterministic and low-S.
//   - ED25519_SHA_512 takes RAW only: pure Ed25519 (RFC 8032) of the message.
//   - ED25519_PH_SHA_512 takes DIGEST only, a 64-byte message, and — as AWS
//     documents — still applies HashEdDSA's SHA-512 prehash to it: the
//     signature is Ed25519ph (RFC 8032 §5.1, empty context) with the 64-byte
//     input as the message M, so PH(M) = SHA-512(input). An offline verifier
//     runs Ed25519ph verification over the same 64 bytes.
//   - ML_DSA_SHAKE_256 takes RAW: ML-DSA.Sign (FIPS 204 Algorithm 2) with an
//     empty context, hedged (randomized) as FIPS 204 recommends, so two
//     signatures of one message differ. EXTERNAL_MU is not supported: circl
//     computes μ inside its signing function and exposes no way to sign a
//     given μ, so EXTERNAL_MU is ErrUnsupportedMessageType for Sign and Verify.
//
// The message size limit (1 to 4096 bytes) is the caller's to enforce.
func Sign(spec, algorithm, messageType string, private, message []byte) ([]byte, error) {
	s, a, input, err := signingInput(spec, algorithm, messageType, message)
	if err != nil {
		return nil, err
	}
	p, err := parsePrivate(s, private)
	if err != nil {
		return nil, err
	}
	return p.signInput(a, input)
}

// Verify checks a signature made by Sign with the same spec, algorithm and
// message type (the same rules and errors apply to them). It returns nil if
// the signature is valid and ErrInvalidSignature if it is not, including
// when it is malformed: not DER, trailing data, out-of-range values, the
// wrong length. ECDSA accepts either S on every curve, as X9.62 and AWS do
// (AWS's secp256k1 signatures are not low-S normalised).
func Verify(spec, algorithm, messageType string, private, message, signature []byte) error {
	s, a, input, err := signingInput(spec, algorithm, messageType, message)
	if err != nil {
		return err
	}
	p, err := parsePrivate(s, private)
	if err != nil {
		return err
	}
	return p.verifyInput(a, input, signature)
}

// signingInput validates spec, algorithm and message type together and
// returns what the primitive signs: a digest for RSA and ECDSA, the message
// for Ed25519 and ML-DSA, SHA-512 of the 64-byte input for Ed25519ph.
func signingInput(spec, algorithm, messageType string, message []byte) (*specInfo, sigAlg, []byte, error) {
	s, err := lookupSpec(spec)
	if err != nil {
		return nil, sigAlg{}, nil, err
	}
	a, ok := sigAlgs[algorithm]
	if !ok || !slices.Contains(s.signing, algorithm) {
		return nil, sigAlg{}, nil, fmt.Errorf("%w: %s with %s", ErrAlgorithmSpecMismatch, algorithm, spec)
	}
	if messageType == "" {
		messageType = msgRaw
	}
	switch a.kind {
	case kindPKCS1, kindPSS, kindECDSA:
		switch messageType {
		case msgRaw:
			return s, a, hashOf(a.hash, message), nil
		case msgDigest:
			if len(message) != a.hash.Size() {
				return nil, sigAlg{}, nil, fmt.Errorf("%w: %s needs %d bytes, got %d", ErrDigestLength, algorithm, a.hash.Size(), len(message))
			}
			return s, a, message, nil
		}
	case kindEd25519:
		if messageType == msgRaw {
			return s, a, message, nil
		}
	case kindEd25519ph:
		if messageType == msgDigest {
			if len(message) != sha512.Size {
				return nil, sigAlg{}, nil, fmt.Errorf("%w: %s needs %d bytes, got %d", ErrDigestLength, algorithm, sha512.Size, len(message))
			}
			h := sha512.Sum512(message)
			return s, a, h[:], nil
		}
	case kindMLDSA:
		if messageType == msgRaw {
			return s, a, message, nil
		}
	}
	return nil, sigAlg{}, nil, fmt.Errorf("%w: %s with %s", ErrUnsupportedMessageType, messageType, algorithm)
}

func hashOf(h crypto.Hash, message []byte) []byte {
	switch h {
	case crypto.SHA256:
		d := sha256.Sum256(message)
		return d[:]
	case crypto.SHA384:
		d := sha512.Sum384(message)
		return d[:]
	case crypto.SHA512:
		d := sha512.Sum512(message)
		return d[:]
	}
	panic("keys: no hash for algorithm") // the tables only name the three above
}
