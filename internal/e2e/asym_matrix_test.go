package e2e

// Asymmetric and HMAC keys across AWS's whole KeySpec × KeyUsage ×
// algorithm matrix, through the HTTP server and the AWS SDK.
//
// What is expected is written here from AWS's documentation and from real
// AWS responses, never read from internal/keys' tables, so that this file
// checks those tables rather than repeating them. Every signature, shared
// secret and data key pair Trent produces is also checked by code outside
// Trent: the Go standard library, decred's secp256k1 and circl's ML-DSA.
//
// Sources, cited below by tag:
//
//	[KS]   AWS KMS Developer Guide, "Key spec reference" (asymmetric-key-specs,
//	       symm-asymm-choose-key-spec, mldsa) and CreateKey's KeySpec/KeyUsage.
//	[SIGN] AWS KMS API Reference, Sign/Verify MessageType (also in the Go
//	       SDK's SignInput doc): DIGEST must be the hash size;
//	       ED25519_SHA_512 takes RAW only, ED25519_PH_SHA_512 DIGEST only and
//	       "the input is hashed twice"; EXTERNAL_MU is a 64-byte ML-DSA μ.
//	[ENC]  AWS KMS API Reference, Encrypt: RSAES_OAEP_SHA_1 214/342/470 and
//	       RSAES_OAEP_SHA_256 190/318/446 bytes for RSA_2048/3072/4096.
//	[REC]  Real AWS responses recorded by localstack's KMS tests
//	       (shared/reference/aws-recorded/kms.snapshot.json): exact
//	       exception names and messages.
//
// TestAsymMatrix creates every key once (RSA_4096 generation takes about a
// second) and runs its parts as subtests over them.

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"maps"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"

	"github.com/trent-kms/trent/internal/testenv"
)

// The KeySpec and KeyUsage values of the matrix. SM2 (China Regions only)
// and ML_KEM_* are not in it.
var (
	asymSpecs = []types.KeySpec{
		types.KeySpecRsa4096, types.KeySpecRsa3072, types.KeySpecRsa2048, // slowest first
		types.KeySpecEccNistP256, types.KeySpecEccNistP384, types.KeySpecEccNistP521,
		types.KeySpecEccSecgP256k1, types.KeySpecEccNistEdwards25519,
		types.KeySpecMlDsa44, types.KeySpecMlDsa65, types.KeySpecMlDsa87,
		types.KeySpecHmac224, types.KeySpecHmac256, types.KeySpecHmac384, types.KeySpecHmac512,
		types.KeySpecSymmetricDefault,
	}
	asymUsages = []types.KeyUsageType{
		types.KeyUsageTypeEncryptDecrypt, types.KeyUsageTypeSignVerify,
		types.KeyUsageTypeGenerateVerifyMac, types.KeyUsageTypeKeyAgreement,
	}
	asymSigningAlgs = []types.SigningAlgorithmSpec{
		types.SigningAlgorithmSpecRsassaPssSha256, types.SigningAlgorithmSpecRsassaPssSha384, types.SigningAlgorithmSpecRsassaPssSha512,
		types.SigningAlgorithmSpecRsassaPkcs1V15Sha256, types.SigningAlgorithmSpecRsassaPkcs1V15Sha384, types.SigningAlgorithmSpecRsassaPkcs1V15Sha512,
		types.SigningAlgorithmSpecEcdsaSha256, types.SigningAlgorithmSpecEcdsaSha384, types.SigningAlgorithmSpecEcdsaSha512,
		types.SigningAlgorithmSpecSm2dsa, types.SigningAlgorithmSpecMlDsaShake256,
		types.SigningAlgorithmSpecEd25519Sha512, types.SigningAlgorithmSpecEd25519PhSha512,
	}
	asymMessageTypes = []types.MessageType{types.MessageTypeRaw, types.MessageTypeDigest, types.MessageTypeExternalMu}
	asymMacAlgs      = []types.MacAlgorithmSpec{
		types.MacAlgorithmSpecHmacSha224, types.MacAlgorithmSpecHmacSha256,
		types.MacAlgorithmSpecHmacSha384, types.MacAlgorithmSpecHmacSha512,
	}
)

// asymAlgs is what DescribeKey lists for a key.
type asymAlgs struct {
	enc  []types.EncryptionAlgorithmSpec
	sign []types.SigningAlgorithmSpec
	mac  []types.MacAlgorithmSpec
	ka   []types.KeyAgreementAlgorithmSpec
}

// awsAlgorithms returns the algorithms AWS lists for a key of the spec and
// usage, and false if CreateKey refuses the pair [KS].
func awsAlgorithms(spec types.KeySpec, usage types.KeyUsageType) (asymAlgs, bool) {
	rsaSign := []types.SigningAlgorithmSpec{
		types.SigningAlgorithmSpecRsassaPssSha256, types.SigningAlgorithmSpecRsassaPssSha384, types.SigningAlgorithmSpecRsassaPssSha512,
		types.SigningAlgorithmSpecRsassaPkcs1V15Sha256, types.SigningAlgorithmSpecRsassaPkcs1V15Sha384, types.SigningAlgorithmSpecRsassaPkcs1V15Sha512,
	}
	ecdsaAlg := map[types.KeySpec]types.SigningAlgorithmSpec{
		types.KeySpecEccNistP256:   types.SigningAlgorithmSpecEcdsaSha256,
		types.KeySpecEccNistP384:   types.SigningAlgorithmSpecEcdsaSha384,
		types.KeySpecEccNistP521:   types.SigningAlgorithmSpecEcdsaSha512,
		types.KeySpecEccSecgP256k1: types.SigningAlgorithmSpecEcdsaSha256,
	}
	macAlg := map[types.KeySpec]types.MacAlgorithmSpec{
		types.KeySpecHmac224: types.MacAlgorithmSpecHmacSha224,
		types.KeySpecHmac256: types.MacAlgorithmSpecHmacSha256,
		types.KeySpecHmac384: types.MacAlgorithmSpecHmacSha384,
		types.KeySpecHmac512: types.MacAlgorithmSpecHmacSha512,
	}
	switch spec {
	case types.KeySpecSymmetricDefault:
		if usage == types.KeyUsageTypeEncryptDecrypt {
			return asymAlgs{enc: []types.EncryptionAlgorithmSpec{types.EncryptionAlgorithmSpecSymmetricDefault}}, true
		}
	case types.KeySpecRsa2048, types.KeySpecRsa3072, types.KeySpecRsa4096:
		switch usage {
		case types.KeyUsageTypeEncryptDecrypt:
			return asymAlgs{enc: []types.EncryptionAlgorithmSpec{types.EncryptionAlgorithmSpecRsaesOaepSha1, types.EncryptionAlgorithmSpecRsaesOaepSha256}}, true
		case types.KeyUsageTypeSignVerify:
			return asymAlgs{sign: rsaSign}, true
		}
	case types.KeySpecEccNistP256, types.KeySpecEccNistP384, types.KeySpecEccNistP521:
		switch usage {
		case types.KeyUsageTypeSignVerify:
			return asymAlgs{sign: []types.SigningAlgorithmSpec{ecdsaAlg[spec]}}, true
		case types.KeyUsageTypeKeyAgreement:
			return asymAlgs{ka: []types.KeyAgreementAlgorithmSpec{types.KeyAgreementAlgorithmSpecEcdh}}, true
		}
	case types.KeySpecEccSecgP256k1:
		if usage == types.KeyUsageTypeSignVerify {
			return asymAlgs{sign: []types.SigningAlgorithmSpec{ecdsaAlg[spec]}}, true
		}
	case types.KeySpecEccNistEdwards25519:
		if usage == types.KeyUsageTypeSignVerify {
			return asymAlgs{sign: []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecEd25519Sha512, types.SigningAlgorithmSpecEd25519PhSha512}}, true
		}
	case types.KeySpecMlDsa44, types.KeySpecMlDsa65, types.KeySpecMlDsa87:
		if usage == types.KeyUsageTypeSignVerify {
			return asymAlgs{sign: []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecMlDsaShake256}}, true
		}
	case types.KeySpecHmac224, types.KeySpecHmac256, types.KeySpecHmac384, types.KeySpecHmac512:
		if usage == types.KeyUsageTypeGenerateVerifyMac {
			return asymAlgs{mac: []types.MacAlgorithmSpec{macAlg[spec]}}, true
		}
	}
	return asymAlgs{}, false
}

// sameSet reports whether a and b hold the same values, in any order: AWS
// documents the lists, not their order.
func sameSet[T ~string](a, b []T) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

type asymPair struct {
	spec  types.KeySpec
	usage types.KeyUsageType
}

func (p asymPair) String() string { return string(p.spec) + "/" + string(p.usage) }

// asymFixture is a server with one key of every pair CreateKey accepts,
// and what CreateKey answered for the others.
type asymFixture struct {
	env     *testenv.Env
	created map[asymPair]*types.KeyMetadata
	refused map[asymPair]error
}

func newAsymFixture(t *testing.T) *asymFixture {
	t.Helper()
	f := &asymFixture{env: testenv.Start(t), created: map[asymPair]*types.KeyMetadata{}, refused: map[asymPair]error{}}
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, 4)
	)
	for _, spec := range asymSpecs {
		for _, usage := range asymUsages {
			p := asymPair{spec, usage}
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				out, err := f.env.KMS.CreateKey(t.Context(), &kms.CreateKeyInput{KeySpec: spec, KeyUsage: usage, Description: aws.String("matrix " + p.String())})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					f.refused[p] = err
				} else {
					f.created[p] = out.KeyMetadata
				}
			})
		}
	}
	wg.Wait()
	return f
}

// key returns the fixture's key of the pair; the CreateKey subtest reports
// why it is missing.
func (f *asymFixture) key(t testing.TB, spec types.KeySpec, usage types.KeyUsageType) *types.KeyMetadata {
	t.Helper()
	md := f.created[asymPair{spec, usage}]
	if md == nil {
		t.Fatalf("no %s/%s key: CreateKey said %v", spec, usage, f.refused[asymPair{spec, usage}])
	}
	return md
}

func (f *asymFixture) publicKeyDER(t testing.TB, md *types.KeyMetadata) []byte {
	t.Helper()
	out, err := f.env.KMS.GetPublicKey(t.Context(), &kms.GetPublicKeyInput{KeyId: md.KeyId})
	mustOK(t, err, "GetPublicKey "+aws.ToString(md.KeyId))
	return out.PublicKey
}

func TestAsymMatrix(t *testing.T) {
	skipInFIPSMode(t)
	f := newAsymFixture(t)
	t.Run("CreateKey", f.testCreateKey)
	t.Run("GetPublicKey", f.testGetPublicKey)
	t.Run("Sign", f.testSign)
	t.Run("DigestLength", f.testDigestLength)
	t.Run("MessageSize", f.testMessageSize)
	t.Run("HighS", f.testHighS)
	t.Run("WrongUsage", f.testWrongUsage)
	t.Run("RSAEncryption", f.testRSAEncryption)
	t.Run("ReEncrypt", f.testReEncrypt)
	t.Run("HMAC", f.testHMAC)
	t.Run("DeriveSharedSecret", f.testDeriveSharedSecret)
	t.Run("DataKeyPair", f.testDataKeyPairs)
	t.Run("Rotation", f.testRotation)
}

// testCreateKey: CreateKey succeeds exactly for AWS's pairs, and CreateKey
// and DescribeKey list exactly AWS's algorithms [KS]; any other pair is
// refused with AWS's message [REC test_derive_shared_secret].
func (f *asymFixture) testCreateKey(t *testing.T) {
	for _, spec := range asymSpecs {
		for _, usage := range asymUsages {
			p := asymPair{spec, usage}
			t.Run(p.String(), func(t *testing.T) {
				want, allowed := awsAlgorithms(spec, usage)
				if !allowed {
					if f.created[p] != nil {
						t.Fatalf("CreateKey accepted %s", p)
					}
					wantError(t, f.refused[p], "ValidationException", fmt.Sprintf("KeyUsage %s is not compatible with KeySpec %s", usage, spec))
					return
				}
				md := f.key(t, spec, usage)
				checkAsymMetadata(t, "CreateKey", md, p, want)
				checkAsymMetadata(t, "DescribeKey", describe(t, f.env, aws.ToString(md.KeyId)), p, want)
			})
		}
	}
}

func checkAsymMetadata(t *testing.T, op string, md *types.KeyMetadata, p asymPair, want asymAlgs) {
	t.Helper()
	if md.KeySpec != p.spec || md.KeyUsage != p.usage || md.KeyState != types.KeyStateEnabled || !md.Enabled {
		t.Errorf("%s: KeySpec %s KeyUsage %s KeyState %s Enabled %v, want %s, Enabled", op, md.KeySpec, md.KeyUsage, md.KeyState, md.Enabled, p)
	}
	if !sameSet(md.EncryptionAlgorithms, want.enc) || !sameSet(md.SigningAlgorithms, want.sign) ||
		!sameSet(md.MacAlgorithms, want.mac) || !sameSet(md.KeyAgreementAlgorithms, want.ka) {
		t.Errorf("%s: algorithms enc %v sign %v mac %v ka %v; want enc %v sign %v mac %v ka %v", op,
			md.EncryptionAlgorithms, md.SigningAlgorithms, md.MacAlgorithms, md.KeyAgreementAlgorithms,
			want.enc, want.sign, want.mac, want.ka)
	}
}

// testGetPublicKey: every asymmetric key's public key is a DER SPKI of the
// right kind and size, with the key's usage and algorithms; HMAC and
// symmetric keys have none.
func (f *asymFixture) testGetPublicKey(t *testing.T) {
	for _, spec := range asymSpecs {
		for _, usage := range asymUsages {
			p := asymPair{spec, usage}
			md := f.created[p]
			if md == nil {
				continue
			}
			t.Run(p.String(), func(t *testing.T) {
				out, err := f.env.KMS.GetPublicKey(t.Context(), &kms.GetPublicKeyInput{KeyId: md.KeyId})
				if spec == types.KeySpecSymmetricDefault || usage == types.KeyUsageTypeGenerateVerifyMac {
					// AWS's API reference lists both exceptions for
					// GetPublicKey; which one a key without a public key
					// gets is not recorded.
					if code := apiCode(err); code != "UnsupportedOperationException" && code != "InvalidKeyUsageException" {
						t.Errorf("GetPublicKey of a %s key: %v, want UnsupportedOperationException or InvalidKeyUsageException", p, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("GetPublicKey: %v", err)
				}
				want, _ := awsAlgorithms(spec, usage)
				if aws.ToString(out.KeyId) != aws.ToString(md.Arn) || out.KeySpec != spec || out.KeyUsage != usage {
					t.Errorf("GetPublicKey: KeyId %s KeySpec %s KeyUsage %s", aws.ToString(out.KeyId), out.KeySpec, out.KeyUsage)
				}
				if !sameSet(out.EncryptionAlgorithms, want.enc) || !sameSet(out.SigningAlgorithms, want.sign) || !sameSet(out.KeyAgreementAlgorithms, want.ka) {
					t.Errorf("GetPublicKey algorithms enc %v sign %v ka %v, want %+v", out.EncryptionAlgorithms, out.SigningAlgorithms, out.KeyAgreementAlgorithms, want)
				}
				if _, err := parseAsymPublic(spec, out.PublicKey); err != nil {
					t.Errorf("public key of %s: %v", p, err)
				}
			})
		}
	}
}

// spki is a SubjectPublicKeyInfo (RFC 5280).
type spki struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

var (
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidSecp256k1   = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
	oidMLDSA       = map[types.KeySpec]asn1.ObjectIdentifier{ // RFC 9881
		types.KeySpecMlDsa44: {2, 16, 840, 1, 101, 3, 4, 3, 17},
		types.KeySpecMlDsa65: {2, 16, 840, 1, 101, 3, 4, 3, 18},
		types.KeySpecMlDsa87: {2, 16, 840, 1, 101, 3, 4, 3, 19},
	}
)

func parseSPKI(der []byte) (*spki, error) {
	var s spki
	rest, err := asn1.Unmarshal(der, &s)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, errors.New("trailing data after SubjectPublicKeyInfo")
	}
	return &s, nil
}

// mldsaPublic is a parsed ML-DSA public key and its circl verifier (pure
// ML-DSA, empty context).
type mldsaPublic struct {
	verify  func(msg, sig []byte) bool
	sigSize int
}

// parseAsymPublic parses GetPublicKey's DER for a key spec with code
// outside Trent and checks it is a key of that spec: *rsa.PublicKey,
// *ecdsa.PublicKey, ed25519.PublicKey, *secp256k1.PublicKey or
// *mldsaPublic.
func parseAsymPublic(spec types.KeySpec, der []byte) (any, error) {
	switch spec {
	case types.KeySpecEccSecgP256k1:
		s, err := parseSPKI(der)
		if err != nil {
			return nil, err
		}
		var curve asn1.ObjectIdentifier
		if _, err := asn1.Unmarshal(s.Algorithm.Parameters.FullBytes, &curve); err != nil || !s.Algorithm.Algorithm.Equal(oidECPublicKey) || !curve.Equal(oidSecp256k1) {
			return nil, fmt.Errorf("algorithm %v parameters %x, want id-ecPublicKey secp256k1", s.Algorithm.Algorithm, s.Algorithm.Parameters.FullBytes)
		}
		return secp256k1.ParsePubKey(s.PublicKey.RightAlign())
	case types.KeySpecMlDsa44, types.KeySpecMlDsa65, types.KeySpecMlDsa87:
		s, err := parseSPKI(der)
		if err != nil {
			return nil, err
		}
		if !s.Algorithm.Algorithm.Equal(oidMLDSA[spec]) || len(s.Algorithm.Parameters.FullBytes) != 0 {
			return nil, fmt.Errorf("algorithm %v parameters %x, want %v without parameters", s.Algorithm.Algorithm, s.Algorithm.Parameters.FullBytes, oidMLDSA[spec])
		}
		raw := s.PublicKey.RightAlign()
		switch spec {
		case types.KeySpecMlDsa44:
			var pk mldsa44.PublicKey
			if err := pk.UnmarshalBinary(raw); err != nil {
				return nil, err
			}
			return &mldsaPublic{func(m, sig []byte) bool { return mldsa44.Verify(&pk, m, nil, sig) }, mldsa44.SignatureSize}, nil
		case types.KeySpecMlDsa65:
			var pk mldsa65.PublicKey
			if err := pk.UnmarshalBinary(raw); err != nil {
				return nil, err
			}
			return &mldsaPublic{func(m, sig []byte) bool { return mldsa65.Verify(&pk, m, nil, sig) }, mldsa65.SignatureSize}, nil
		default:
			var pk mldsa87.PublicKey
			if err := pk.UnmarshalBinary(raw); err != nil {
				return nil, err
			}
			return &mldsaPublic{func(m, sig []byte) bool { return mldsa87.Verify(&pk, m, nil, sig) }, mldsa87.SignatureSize}, nil
		}
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, err
	}
	ok := false
	switch k := pub.(type) {
	case *rsa.PublicKey:
		bits := map[types.KeySpec]int{types.KeySpecRsa2048: 2048, types.KeySpecRsa3072: 3072, types.KeySpecRsa4096: 4096}[spec]
		ok = k.N.BitLen() == bits
	case *ecdsa.PublicKey:
		curve := map[types.KeySpec]elliptic.Curve{types.KeySpecEccNistP256: elliptic.P256(), types.KeySpecEccNistP384: elliptic.P384(), types.KeySpecEccNistP521: elliptic.P521()}[spec]
		ok = k.Curve == curve
	case ed25519.PublicKey:
		ok = spec == types.KeySpecEccNistEdwards25519
	}
	if !ok {
		return nil, fmt.Errorf("public key %T is not a %s key", pub, spec)
	}
	return pub, nil
}

// asymHash is the hash of an RSA or ECDSA signing algorithm, 0 otherwise.
func asymHash(alg types.SigningAlgorithmSpec) crypto.Hash {
	switch alg {
	case types.SigningAlgorithmSpecRsassaPssSha256, types.SigningAlgorithmSpecRsassaPkcs1V15Sha256, types.SigningAlgorithmSpecEcdsaSha256:
		return crypto.SHA256
	case types.SigningAlgorithmSpecRsassaPssSha384, types.SigningAlgorithmSpecRsassaPkcs1V15Sha384, types.SigningAlgorithmSpecEcdsaSha384:
		return crypto.SHA384
	case types.SigningAlgorithmSpecRsassaPssSha512, types.SigningAlgorithmSpecRsassaPkcs1V15Sha512, types.SigningAlgorithmSpecEcdsaSha512:
		return crypto.SHA512
	}
	return 0
}

// asymDigestSize is the length a DIGEST message must have [SIGN]: the hash
// size; 64 for ED25519_PH_SHA_512 (SHA-512); 32 for SM2DSA (SM3).
func asymDigestSize(alg types.SigningAlgorithmSpec) int {
	switch alg {
	case types.SigningAlgorithmSpecEd25519PhSha512, types.SigningAlgorithmSpecEd25519Sha512, types.SigningAlgorithmSpecMlDsaShake256:
		return 64
	case types.SigningAlgorithmSpecSm2dsa:
		return 32
	}
	return asymHash(alg).Size()
}

var asymRawMessage = []byte("Trent signs this message; Go, decred and circl check it.")

// asymSignInput is the Message sent with a message type: the raw message;
// its digest with the algorithm's hash (so that a DIGEST signature also
// verifies as a RAW one); or, for Ed25519ph, ML-DSA μ and SM2, bytes of
// the right length.
func asymSignInput(alg types.SigningAlgorithmSpec, mt types.MessageType) []byte {
	switch mt {
	case types.MessageTypeDigest:
		if h := asymHash(alg); h != 0 {
			d := h.New()
			d.Write(asymRawMessage)
			return d.Sum(nil)
		}
		d := sha512.Sum512(asymRawMessage)
		return d[:asymDigestSize(alg)]
	case types.MessageTypeExternalMu:
		d := sha512.Sum512(asymRawMessage)
		return d[:]
	}
	return asymRawMessage
}

// asymOutcome is what AWS answers to a request: success (code "") or an
// exception and its message (anyMessage where AWS's text is not recorded).
type asymOutcome struct {
	code, msg string
	// trentGap, if set, says why Trent's answer differs from AWS's on
	// purpose; the test expects Trent's.
	trentGap string
}

// expectSign is AWS's answer to Sign (and Verify) with a key of the spec
// [KS, SIGN, REC].
func expectSign(spec types.KeySpec, alg types.SigningAlgorithmSpec, mt types.MessageType) asymOutcome {
	algs, _ := awsAlgorithms(spec, types.KeyUsageTypeSignVerify)
	if !slices.Contains(algs.sign, alg) {
		return asymOutcome{code: "InvalidKeyUsageException", msg: fmt.Sprintf("Algorithm %s is incompatible with key spec %s.", alg, spec)}
	}
	refuse := asymOutcome{code: "ValidationException", msg: anyMessage}
	switch alg {
	case types.SigningAlgorithmSpecEd25519Sha512:
		if mt != types.MessageTypeRaw {
			return refuse
		}
	case types.SigningAlgorithmSpecEd25519PhSha512:
		if mt != types.MessageTypeDigest {
			return refuse
		}
	case types.SigningAlgorithmSpecMlDsaShake256:
		switch mt {
		case types.MessageTypeDigest:
			return refuse
		case types.MessageTypeExternalMu:
			return asymOutcome{code: "UnsupportedOperationException", msg: anyMessage,
				trentGap: "AWS signs a 64-byte EXTERNAL_MU; Trent does not support EXTERNAL_MU yet (docs/post-quantum.md)"}
		}
	default: // RSA, ECDSA
		if mt == types.MessageTypeExternalMu {
			return refuse
		}
	}
	return asymOutcome{}
}

// verifyOffline checks a signature Trent made with code outside Trent.
func verifyOffline(spec types.KeySpec, der []byte, alg types.SigningAlgorithmSpec, mt types.MessageType, message, sig []byte) error {
	pub, err := parseAsymPublic(spec, der)
	if err != nil {
		return err
	}
	digest := message
	if h := asymHash(alg); h != 0 && mt == types.MessageTypeRaw {
		d := h.New()
		d.Write(message)
		digest = d.Sum(nil)
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if len(sig) != k.Size() {
			return fmt.Errorf("RSA signature of %d bytes, modulus of %d", len(sig), k.Size())
		}
		switch alg {
		case types.SigningAlgorithmSpecRsassaPssSha256, types.SigningAlgorithmSpecRsassaPssSha384, types.SigningAlgorithmSpecRsassaPssSha512:
			// AWS: MGF1 with the same hash, salt length = hash length [KS].
			return rsa.VerifyPSS(k, asymHash(alg), digest, sig, &rsa.PSSOptions{SaltLength: asymHash(alg).Size()})
		default:
			return rsa.VerifyPKCS1v15(k, asymHash(alg), digest, sig)
		}
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return errors.New("crypto/ecdsa rejects the signature")
		}
	case *secp256k1.PublicKey:
		s, err := secpecdsa.ParseDERSignature(sig)
		if err != nil {
			return err
		}
		if !s.Verify(digest, k) {
			return errors.New("decred secp256k1 rejects the signature")
		}
	case ed25519.PublicKey:
		if alg == types.SigningAlgorithmSpecEd25519PhSha512 {
			// [SIGN]: "the input is hashed twice": Ed25519ph over the
			// 64-byte input, whose prehash is SHA-512 of it.
			ph := sha512.Sum512(message)
			return ed25519.VerifyWithOptions(k, ph[:], sig, &ed25519.Options{Hash: crypto.SHA512})
		}
		if !ed25519.Verify(k, message, sig) {
			return errors.New("crypto/ed25519 rejects the signature")
		}
	case *mldsaPublic:
		if len(sig) != k.sigSize {
			return fmt.Errorf("ML-DSA signature of %d bytes, want %d", len(sig), k.sigSize)
		}
		if !k.verify(message, sig) {
			return errors.New("circl ML-DSA rejects the signature")
		}
	default:
		return fmt.Errorf("no verifier for %T", pub)
	}
	return nil
}

// testSign: every SIGN_VERIFY key × every SigningAlgorithmSpec × every
// MessageType. Sign and Verify succeed exactly where AWS's do; each
// signature is checked by Verify and offline; a flipped bit is
// KMSInvalidSignatureException with no message [REC test_sign_verify].
func (f *asymFixture) testSign(t *testing.T) {
	for _, spec := range asymSpecs {
		md := f.created[asymPair{spec, types.KeyUsageTypeSignVerify}]
		if md == nil {
			continue
		}
		t.Run(string(spec), func(t *testing.T) {
			t.Parallel()
			der := f.publicKeyDER(t, md)
			for _, alg := range asymSigningAlgs {
				for _, mt := range asymMessageTypes {
					t.Run(string(alg)+"/"+string(mt), func(t *testing.T) {
						f.checkSign(t, md, der, alg, mt)
					})
				}
			}
		})
	}
}

func (f *asymFixture) checkSign(t *testing.T, md *types.KeyMetadata, der []byte, alg types.SigningAlgorithmSpec, mt types.MessageType) {
	ctx, c, spec := t.Context(), f.env.KMS, md.KeySpec
	msg := asymSignInput(alg, mt)
	want := expectSign(spec, alg, mt)
	out, err := c.Sign(ctx, &kms.SignInput{KeyId: md.KeyId, Message: msg, MessageType: mt, SigningAlgorithm: alg})
	if want.code != "" {
		if want.trentGap != "" {
			t.Log("expecting Trent's answer, not AWS's: " + want.trentGap)
		}
		wantError(t, err, want.code, want.msg)
		_, err = c.Verify(ctx, &kms.VerifyInput{KeyId: md.KeyId, Message: msg, MessageType: mt, SigningAlgorithm: alg, Signature: make([]byte, 64)})
		wantError(t, err, want.code, want.msg)
		return
	}
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if aws.ToString(out.KeyId) != aws.ToString(md.Arn) || out.SigningAlgorithm != alg {
		t.Errorf("Sign answered KeyId %s SigningAlgorithm %s", aws.ToString(out.KeyId), out.SigningAlgorithm)
	}
	if err := verifyOffline(spec, der, alg, mt, msg, out.Signature); err != nil {
		t.Errorf("offline verification: %v", err)
	}
	verify := func(mt types.MessageType, msg, sig []byte) error {
		v, err := c.Verify(ctx, &kms.VerifyInput{KeyId: md.KeyId, Message: msg, MessageType: mt, SigningAlgorithm: alg, Signature: sig})
		if err == nil && (!v.SignatureValid || aws.ToString(v.KeyId) != aws.ToString(md.Arn) || v.SigningAlgorithm != alg) {
			t.Errorf("Verify answered %+v", v)
		}
		return err
	}
	if err := verify(mt, msg, out.Signature); err != nil {
		t.Errorf("Verify: %v", err)
	}
	// RSA and ECDSA sign the same thing for RAW m and DIGEST H(m).
	if h := asymHash(alg); h != 0 {
		other, otherMsg := types.MessageTypeDigest, asymSignInput(alg, types.MessageTypeDigest)
		if mt == types.MessageTypeDigest {
			other, otherMsg = types.MessageTypeRaw, asymRawMessage
		}
		if err := verify(other, otherMsg, out.Signature); err != nil {
			t.Errorf("Verify as %s: %v", other, err)
		}
	}
	bad := bytes.Clone(out.Signature)
	bad[len(bad)/3] ^= 0x10
	wantError(t, verify(mt, msg, bad), "KMSInvalidSignatureException", "")
	if verifyOffline(spec, der, alg, mt, msg, bad) == nil {
		t.Error("the offline verifier accepts a flipped bit: it checks nothing")
	}
	// Malformed signatures are invalid signatures, not other errors.
	wantError(t, verify(mt, msg, out.Signature[:len(out.Signature)-1]), "KMSInvalidSignatureException", "")
	wantError(t, verify(mt, msg, append(bytes.Clone(out.Signature), 0)), "KMSInvalidSignatureException", "")
	wantError(t, verify(mt, msg, []byte{0x30}), "KMSInvalidSignatureException", "")
	altered := bytes.Clone(msg)
	altered[0] ^= 1
	wantError(t, verify(mt, altered, out.Signature), "KMSInvalidSignatureException", "")
}

// testDigestLength: a DIGEST of the wrong length is refused by Sign and
// Verify with AWS's message [REC test_sign_verify], an EXTERNAL_MU that is
// not 64 bytes with a ValidationException [SIGN].
func (f *asymFixture) testDigestLength(t *testing.T) {
	ctx, c := t.Context(), f.env.KMS
	for _, spec := range asymSpecs {
		md := f.created[asymPair{spec, types.KeyUsageTypeSignVerify}]
		if md == nil {
			continue
		}
		algs, _ := awsAlgorithms(spec, types.KeyUsageTypeSignVerify)
		for _, alg := range algs.sign {
			mt, msg := types.MessageTypeDigest, fmt.Sprintf("Digest is invalid length for algorithm %s.", alg)
			switch alg {
			case types.SigningAlgorithmSpecEd25519Sha512:
				continue // RAW only
			case types.SigningAlgorithmSpecMlDsaShake256:
				mt, msg = types.MessageTypeExternalMu, anyMessage
			}
			n := asymDigestSize(alg)
			for _, size := range []int{n - 1, n + 1, 1} {
				t.Run(fmt.Sprintf("%s/%s/%d", spec, alg, size), func(t *testing.T) {
					_, err := c.Sign(ctx, &kms.SignInput{KeyId: md.KeyId, Message: make([]byte, size), MessageType: mt, SigningAlgorithm: alg})
					wantError(t, err, "ValidationException", msg)
					_, err = c.Verify(ctx, &kms.VerifyInput{KeyId: md.KeyId, Message: make([]byte, size), MessageType: mt, SigningAlgorithm: alg, Signature: make([]byte, 64)})
					wantError(t, err, "ValidationException", msg)
				})
			}
		}
	}
}

// testMessageSize: RAW messages of 1 to 4096 bytes are signed, longer
// ones refused [SIGN; the model's 1–4096 limit].
func (f *asymFixture) testMessageSize(t *testing.T) {
	ctx, c := t.Context(), f.env.KMS
	for _, tc := range []struct {
		spec types.KeySpec
		alg  types.SigningAlgorithmSpec
	}{
		{types.KeySpecEccNistP256, types.SigningAlgorithmSpecEcdsaSha256},
		{types.KeySpecEccNistEdwards25519, types.SigningAlgorithmSpecEd25519Sha512},
		{types.KeySpecMlDsa44, types.SigningAlgorithmSpecMlDsaShake256},
	} {
		md := f.key(t, tc.spec, types.KeyUsageTypeSignVerify)
		t.Run(string(tc.spec), func(t *testing.T) {
			der := f.publicKeyDER(t, md)
			for _, n := range []int{1, 4096} {
				msg := randomBytes(t, n)
				out, err := c.Sign(ctx, &kms.SignInput{KeyId: md.KeyId, Message: msg, SigningAlgorithm: tc.alg})
				if err != nil {
					t.Fatalf("Sign of %d bytes: %v", n, err)
				}
				if err := verifyOffline(tc.spec, der, tc.alg, types.MessageTypeRaw, msg, out.Signature); err != nil {
					t.Errorf("%d bytes: %v", n, err)
				}
			}
			_, err := c.Sign(ctx, &kms.SignInput{KeyId: md.KeyId, Message: make([]byte, 4097), SigningAlgorithm: tc.alg})
			wantError(t, err, "ValidationException", anyMessage)
		})
	}
}

// testHighS: an ECDSA signature (r, s) is also valid as (r, n−s) (X9.62
// has no low-S rule), so Verify accepts both. AWS's own secp256k1
// signatures are high-S about half of the time (Ethereum signers must
// normalize them: Nethereum/Nethereum#1035, ava-labs/icm-services#273),
// so AWS's Verify accepts high-S secp256k1 signatures.
func (f *asymFixture) testHighS(t *testing.T) {
	ctx, c := t.Context(), f.env.KMS
	for _, tc := range []struct {
		spec types.KeySpec
		alg  types.SigningAlgorithmSpec
		n    *big.Int
	}{
		{types.KeySpecEccNistP256, types.SigningAlgorithmSpecEcdsaSha256, elliptic.P256().Params().N},
		{types.KeySpecEccNistP384, types.SigningAlgorithmSpecEcdsaSha384, elliptic.P384().Params().N},
		{types.KeySpecEccNistP521, types.SigningAlgorithmSpecEcdsaSha512, elliptic.P521().Params().N},
		{types.KeySpecEccSecgP256k1, types.SigningAlgorithmSpecEcdsaSha256, secp256k1.Params().N},
	} {
		md := f.key(t, tc.spec, types.KeyUsageTypeSignVerify)
		t.Run(string(tc.spec), func(t *testing.T) {
			der := f.publicKeyDER(t, md)
			out, err := c.Sign(ctx, &kms.SignInput{KeyId: md.KeyId, Message: asymRawMessage, SigningAlgorithm: tc.alg})
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			var sig struct{ R, S *big.Int }
			if rest, err := asn1.Unmarshal(out.Signature, &sig); err != nil || len(rest) != 0 {
				t.Fatalf("signature is not DER Ecdsa-Sig-Value: %v", err)
			}
			sig.S.Sub(tc.n, sig.S)
			other, err := asn1.Marshal(sig)
			if err != nil {
				t.Fatal(err)
			}
			if err := verifyOffline(tc.spec, der, tc.alg, types.MessageTypeRaw, asymRawMessage, other); err != nil {
				t.Fatalf("test setup: the (r, n−s) signature is not valid: %v", err)
			}
			_, err = c.Verify(ctx, &kms.VerifyInput{KeyId: md.KeyId, Message: asymRawMessage, Signature: other, SigningAlgorithm: tc.alg})
			if err != nil {
				t.Errorf("Verify of the (r, n−s) form: %v", err)
			}
		})
	}
}

// testWrongUsage: every operation refuses a key whose KeyUsage does not
// allow it, with AWS's message [REC test_error_messaging_for_invalid_keys,
// test_derive_shared_secret].
func (f *asymFixture) testWrongUsage(t *testing.T) {
	ctx, c := t.Context(), f.env.KMS
	usageMsg := func(md *types.KeyMetadata, op string) string {
		return fmt.Sprintf("%s key usage is %s which is not valid for %s.", aws.ToString(md.Arn), md.KeyUsage, op)
	}
	rsaSign := f.key(t, types.KeySpecRsa2048, types.KeyUsageTypeSignVerify)
	rsaEnc := f.key(t, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt)
	p256Sign := f.key(t, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	p256KA := f.key(t, types.KeySpecEccNistP256, types.KeyUsageTypeKeyAgreement)
	ed := f.key(t, types.KeySpecEccNistEdwards25519, types.KeyUsageTypeSignVerify)
	mldsa := f.key(t, types.KeySpecMlDsa44, types.KeyUsageTypeSignVerify)
	hm := f.key(t, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	sym := f.key(t, types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt)
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	peerDER, err := x509.MarshalPKIXPublicKey(peer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}

	encryptWith := func(md *types.KeyMetadata) error {
		_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("x"), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
		return err
	}
	sign := func(md *types.KeyMetadata, alg types.SigningAlgorithmSpec) error {
		_, err := c.Sign(ctx, &kms.SignInput{KeyId: md.KeyId, Message: []byte("m"), SigningAlgorithm: alg})
		return err
	}
	verify := func(md *types.KeyMetadata) error {
		_, err := c.Verify(ctx, &kms.VerifyInput{KeyId: md.KeyId, Message: []byte("m"), Signature: []byte("random text"), SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
		return err
	}
	genMac := func(md *types.KeyMetadata) error {
		_, err := c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: md.KeyId, Message: []byte("m"), MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
		return err
	}
	verifyMac := func(md *types.KeyMetadata) error {
		_, err := c.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: md.KeyId, Message: []byte("m"), Mac: make([]byte, 32), MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
		return err
	}
	derive := func(md *types.KeyMetadata) error {
		_, err := c.DeriveSharedSecret(ctx, &kms.DeriveSharedSecretInput{KeyId: md.KeyId, KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: peerDER})
		return err
	}
	for _, tc := range []struct {
		name string
		md   *types.KeyMetadata
		op   string
		err  error
	}{
		{"Encrypt/RSA sign", rsaSign, "Encrypt", encryptWith(rsaSign)},
		{"Encrypt/Ed25519", ed, "Encrypt", encryptWith(ed)},
		{"Encrypt/ML-DSA", mldsa, "Encrypt", encryptWith(mldsa)},
		{"Encrypt/ECDH", p256KA, "Encrypt", encryptWith(p256KA)},
		{"Encrypt/HMAC", hm, "Encrypt", encryptWith(hm)},
		{"Sign/RSA encrypt", rsaEnc, "Sign", sign(rsaEnc, types.SigningAlgorithmSpecRsassaPssSha256)},
		{"Sign/ECDH", p256KA, "Sign", sign(p256KA, types.SigningAlgorithmSpecEcdsaSha256)},
		{"Sign/symmetric", sym, "Sign", sign(sym, types.SigningAlgorithmSpecRsassaPssSha256)},
		{"Sign/HMAC", hm, "Sign", sign(hm, types.SigningAlgorithmSpecRsassaPssSha256)},
		{"Verify/RSA encrypt", rsaEnc, "Verify", verify(rsaEnc)},
		{"Verify/symmetric", sym, "Verify", verify(sym)},
		{"GenerateMac/ECDSA", p256Sign, "GenerateMac", genMac(p256Sign)},
		{"GenerateMac/RSA sign", rsaSign, "GenerateMac", genMac(rsaSign)},
		{"GenerateMac/symmetric", sym, "GenerateMac", genMac(sym)},
		{"VerifyMac/Ed25519", ed, "VerifyMac", verifyMac(ed)},
		{"VerifyMac/RSA encrypt", rsaEnc, "VerifyMac", verifyMac(rsaEnc)},
		{"DeriveSharedSecret/ECDSA", p256Sign, "DeriveSharedSecret", derive(p256Sign)},
		{"DeriveSharedSecret/RSA encrypt", rsaEnc, "DeriveSharedSecret", derive(rsaEnc)},
		{"DeriveSharedSecret/HMAC", hm, "DeriveSharedSecret", derive(hm)},
		{"DeriveSharedSecret/symmetric", sym, "DeriveSharedSecret", derive(sym)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if wantError(t, tc.err, "InvalidKeyUsageException", usageMsg(tc.md, tc.op)) {
				wantType[*types.InvalidKeyUsageException](t, tc.err)
			}
		})
	}

	// A symmetric ciphertext decrypted with the KeyId of an HMAC key: AWS
	// answers IncorrectKeyException, not InvalidKeyUsageException [REC
	// test_error_messaging_for_invalid_keys, "decrypt-invalid-key-id"].
	t.Run("Decrypt/HMAC KeyId", func(t *testing.T) {
		blob := encrypt(t, f.env, aws.ToString(sym.KeyId), []byte("test message"), nil)
		_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, KeyId: hm.KeyId})
		wantError(t, err, "IncorrectKeyException", incorrectKeyMessage)
	})
}

// asymOAEPLimits are the largest plaintexts AWS encrypts [ENC, REC
// test_encrypt_validate_plaintext_size_per_key_type].
var asymOAEPLimits = []struct {
	spec         types.KeySpec
	sha1, sha256 int
}{
	{types.KeySpecRsa2048, 214, 190},
	{types.KeySpecRsa3072, 342, 318},
	{types.KeySpecRsa4096, 470, 446},
}

func oaepHash(alg types.EncryptionAlgorithmSpec) func() hash.Hash {
	if alg == types.EncryptionAlgorithmSpecRsaesOaepSha1 {
		return sha1.New
	}
	return sha256.New
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// testRSAEncryption: RSA ENCRYPT_DECRYPT keys × both OAEP algorithms: the
// size limits, round trips through Trent, a local OAEP ciphertext made with
// GetPublicKey's key, and the refusals of a ciphertext without its KeyId or
// with the other algorithm.
func (f *asymFixture) testRSAEncryption(t *testing.T) {
	for _, lim := range asymOAEPLimits {
		md := f.key(t, lim.spec, types.KeyUsageTypeEncryptDecrypt)
		t.Run(string(lim.spec), func(t *testing.T) {
			t.Parallel()
			ctx, c := t.Context(), f.env.KMS
			pub, err := parseAsymPublic(lim.spec, f.publicKeyDER(t, md))
			if err != nil {
				t.Fatal(err)
			}
			rsaPub := pub.(*rsa.PublicKey)
			for _, alg := range []types.EncryptionAlgorithmSpec{types.EncryptionAlgorithmSpecRsaesOaepSha1, types.EncryptionAlgorithmSpecRsaesOaepSha256} {
				limit, otherAlg := lim.sha1, types.EncryptionAlgorithmSpecRsaesOaepSha256
				if alg == types.EncryptionAlgorithmSpecRsaesOaepSha256 {
					limit, otherAlg = lim.sha256, types.EncryptionAlgorithmSpecRsaesOaepSha1
				}
				t.Run(string(alg), func(t *testing.T) {
					decrypt := func(ct []byte, alg types.EncryptionAlgorithmSpec) ([]byte, error) {
						out, err := c.Decrypt(ctx, &kms.DecryptInput{KeyId: md.KeyId, CiphertextBlob: ct, EncryptionAlgorithm: alg})
						if err != nil {
							return nil, err
						}
						if aws.ToString(out.KeyId) != aws.ToString(md.Arn) || out.EncryptionAlgorithm != alg {
							t.Errorf("Decrypt answered KeyId %s EncryptionAlgorithm %s", aws.ToString(out.KeyId), out.EncryptionAlgorithm)
						}
						return out.Plaintext, nil
					}
					pt := randomBytes(t, limit)
					enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: pt, EncryptionAlgorithm: alg})
					if err != nil {
						t.Fatalf("Encrypt of %d bytes: %v", limit, err)
					}
					if aws.ToString(enc.KeyId) != aws.ToString(md.Arn) || enc.EncryptionAlgorithm != alg || len(enc.CiphertextBlob) != rsaPub.Size() {
						t.Errorf("Encrypt answered KeyId %s EncryptionAlgorithm %s and %d bytes of ciphertext", aws.ToString(enc.KeyId), enc.EncryptionAlgorithm, len(enc.CiphertextBlob))
					}
					if got, err := decrypt(enc.CiphertextBlob, alg); err != nil || !bytes.Equal(got, pt) {
						t.Errorf("Decrypt of Trent's ciphertext: %v", err)
					}
					_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: randomBytes(t, limit+1), EncryptionAlgorithm: alg})
					wantError(t, err, "ValidationException", fmt.Sprintf("Algorithm %s and key spec %s cannot encrypt data larger than %d bytes.", alg, lim.spec, limit))

					local, err := rsa.EncryptOAEP(oaepHash(alg)(), rand.Reader, rsaPub, pt, nil)
					if err != nil {
						t.Fatal(err)
					}
					if got, err := decrypt(local, alg); err != nil || !bytes.Equal(got, pt) {
						t.Errorf("Decrypt of a local OAEP ciphertext: %v", err)
					}
					// The other OAEP hash, and no KeyId (an RSA ciphertext
					// names no key), are InvalidCiphertextException.
					_, err = decrypt(local, otherAlg)
					wantError(t, err, "InvalidCiphertextException", "")
					_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: local, EncryptionAlgorithm: alg})
					wantError(t, err, "InvalidCiphertextException", "")
					tampered := bytes.Clone(local)
					tampered[10] ^= 1
					_, err = decrypt(tampered, alg)
					wantError(t, err, "InvalidCiphertextException", "")
				})
			}
			// An RSA key has no SYMMETRIC_DEFAULT, AWS's default algorithm.
			_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("x")})
			wantError(t, err, "InvalidKeyUsageException", anyMessage)
		})
	}
}

// testReEncrypt: from RSA to symmetric, symmetric to RSA and RSA to RSA
// [REC test_re_encrypt[RSA_2048-RSAES_OAEP_SHA_256]].
func (f *asymFixture) testReEncrypt(t *testing.T) {
	ctx, c := t.Context(), f.env.KMS
	rsa2048 := f.key(t, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt)
	rsa4096 := f.key(t, types.KeySpecRsa4096, types.KeyUsageTypeEncryptDecrypt)
	sym := f.key(t, types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt)
	ec := map[string]string{"purpose": "re-encrypt"}
	pt := []byte("re-encrypted across key types")
	oaep256 := types.EncryptionAlgorithmSpecRsaesOaepSha256
	rsaCT, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: rsa2048.KeyId, Plaintext: pt, EncryptionAlgorithm: oaep256})
	mustOK(t, err, "Encrypt RSA")

	checkOut := func(t *testing.T, out *kms.ReEncryptOutput, src, dst *types.KeyMetadata, srcAlg, dstAlg types.EncryptionAlgorithmSpec) {
		t.Helper()
		if aws.ToString(out.SourceKeyId) != aws.ToString(src.Arn) || aws.ToString(out.KeyId) != aws.ToString(dst.Arn) ||
			out.SourceEncryptionAlgorithm != srcAlg || out.DestinationEncryptionAlgorithm != dstAlg {
			t.Errorf("ReEncrypt answered SourceKeyId %s KeyId %s algorithms %s → %s", aws.ToString(out.SourceKeyId), aws.ToString(out.KeyId), out.SourceEncryptionAlgorithm, out.DestinationEncryptionAlgorithm)
		}
	}
	t.Run("RSA to symmetric", func(t *testing.T) {
		out, err := c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: rsaCT.CiphertextBlob, SourceKeyId: rsa2048.KeyId, SourceEncryptionAlgorithm: oaep256,
			DestinationKeyId: sym.KeyId, DestinationEncryptionContext: ec})
		if err != nil {
			t.Fatalf("ReEncrypt: %v", err)
		}
		checkOut(t, out, rsa2048, sym, oaep256, types.EncryptionAlgorithmSpecSymmetricDefault)
		dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec})
		if err != nil || !bytes.Equal(dec.Plaintext, pt) || aws.ToString(dec.KeyId) != aws.ToString(sym.Arn) {
			t.Errorf("Decrypt of the re-encrypted blob: %v", err)
		}
		// Without SourceKeyId, or with the other algorithm, the RSA
		// ciphertext cannot be read.
		_, err = c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: rsaCT.CiphertextBlob, SourceEncryptionAlgorithm: oaep256, DestinationKeyId: sym.KeyId})
		wantError(t, err, "InvalidCiphertextException", "")
		_, err = c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: rsaCT.CiphertextBlob, SourceKeyId: rsa2048.KeyId,
			SourceEncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha1, DestinationKeyId: sym.KeyId})
		wantError(t, err, "InvalidCiphertextException", "")
	})
	t.Run("symmetric to RSA", func(t *testing.T) {
		blob := encrypt(t, f.env, aws.ToString(sym.KeyId), pt, ec)
		out, err := c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: blob, SourceEncryptionContext: ec,
			DestinationKeyId: rsa2048.KeyId, DestinationEncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha1})
		if err != nil {
			t.Fatalf("ReEncrypt: %v", err)
		}
		checkOut(t, out, sym, rsa2048, types.EncryptionAlgorithmSpecSymmetricDefault, types.EncryptionAlgorithmSpecRsaesOaepSha1)
		dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: out.CiphertextBlob, KeyId: rsa2048.KeyId, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha1})
		if err != nil || !bytes.Equal(dec.Plaintext, pt) {
			t.Errorf("Decrypt of the re-encrypted blob: %v", err)
		}
		// A plaintext over the RSA limit cannot move to the RSA key.
		big := encrypt(t, f.env, aws.ToString(sym.KeyId), make([]byte, 191), nil)
		_, err = c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: big, DestinationKeyId: rsa2048.KeyId, DestinationEncryptionAlgorithm: oaep256})
		wantError(t, err, "ValidationException", "Algorithm RSAES_OAEP_SHA_256 and key spec RSA_2048 cannot encrypt data larger than 190 bytes.")
	})
	t.Run("RSA to RSA", func(t *testing.T) {
		out, err := c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: rsaCT.CiphertextBlob, SourceKeyId: rsa2048.KeyId, SourceEncryptionAlgorithm: oaep256,
			DestinationKeyId: rsa4096.KeyId, DestinationEncryptionAlgorithm: oaep256})
		if err != nil {
			t.Fatalf("ReEncrypt: %v", err)
		}
		checkOut(t, out, rsa2048, rsa4096, oaep256, oaep256)
		dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: out.CiphertextBlob, KeyId: rsa4096.KeyId, EncryptionAlgorithm: oaep256})
		if err != nil || !bytes.Equal(dec.Plaintext, pt) {
			t.Errorf("Decrypt of the re-encrypted blob: %v", err)
		}
	})
}

// testHMAC: each HMAC key × every MacAlgorithmSpec. Only the key's own
// algorithm works [KS, REC test_invalid_generate_mac, test_invalid_verify_mac];
// a MAC verifies and any change to the message or the MAC is
// KMSInvalidMacException with no message [REC].
func (f *asymFixture) testHMAC(t *testing.T) {
	ctx, c := t.Context(), f.env.KMS
	sizes := map[types.MacAlgorithmSpec]int{
		types.MacAlgorithmSpecHmacSha224: 28, types.MacAlgorithmSpecHmacSha256: 32,
		types.MacAlgorithmSpecHmacSha384: 48, types.MacAlgorithmSpecHmacSha512: 64,
	}
	msg := []byte("some important message")
	for _, spec := range []types.KeySpec{types.KeySpecHmac224, types.KeySpecHmac256, types.KeySpecHmac384, types.KeySpecHmac512} {
		md := f.key(t, spec, types.KeyUsageTypeGenerateVerifyMac)
		want, _ := awsAlgorithms(spec, types.KeyUsageTypeGenerateVerifyMac)
		for _, alg := range asymMacAlgs {
			t.Run(string(spec)+"/"+string(alg), func(t *testing.T) {
				generate := func(m []byte) ([]byte, error) {
					out, err := c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: md.KeyId, Message: m, MacAlgorithm: alg})
					if err != nil {
						return nil, err
					}
					if aws.ToString(out.KeyId) != aws.ToString(md.Arn) || out.MacAlgorithm != alg || len(out.Mac) != sizes[alg] {
						t.Errorf("GenerateMac answered KeyId %s MacAlgorithm %s and %d bytes", aws.ToString(out.KeyId), out.MacAlgorithm, len(out.Mac))
					}
					return out.Mac, nil
				}
				verify := func(m, mac []byte) error {
					out, err := c.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: md.KeyId, Message: m, Mac: mac, MacAlgorithm: alg})
					if err == nil && (!out.MacValid || out.MacAlgorithm != alg || aws.ToString(out.KeyId) != aws.ToString(md.Arn)) {
						t.Errorf("VerifyMac answered %+v", out)
					}
					return err
				}
				mac, err := generate(msg)
				if !slices.Contains(want.mac, alg) {
					incompatible := fmt.Sprintf("Algorithm %s is incompatible with key spec %s.", alg, spec)
					wantError(t, err, "InvalidKeyUsageException", incompatible)
					wantError(t, verify(msg, make([]byte, sizes[alg])), "InvalidKeyUsageException", incompatible)
					return
				}
				if err != nil {
					t.Fatalf("GenerateMac: %v", err)
				}
				if again, err := generate(msg); err != nil || !bytes.Equal(again, mac) {
					t.Errorf("HMAC is deterministic, got two MACs of one message (%v)", err)
				}
				if other, err := generate([]byte("some important messagE")); err != nil || bytes.Equal(other, mac) {
					t.Errorf("two messages, one MAC (%v)", err)
				}
				if err := verify(msg, mac); err != nil {
					t.Errorf("VerifyMac: %v", err)
				}
				flipped := bytes.Clone(mac)
				flipped[0] ^= 0x80
				for name, tc := range map[string]struct{ m, mac []byte }{
					"altered message": {[]byte("some different important message"), mac},
					"flipped bit":     {msg, flipped},
					"truncated MAC":   {msg, mac[:len(mac)-1]},
					"extended MAC":    {msg, append(bytes.Clone(mac), 0)},
					"short MAC":       {msg, mac[:1]},
				} {
					err := verify(tc.m, tc.mac)
					if wantError(t, err, "KMSInvalidMacException", "") {
						wantType[*types.KMSInvalidMacException](t, err)
					} else {
						t.Logf("(%s)", name)
					}
				}
				// Message limits: 1 to 4096 bytes.
				if _, err := generate(make([]byte, 4096)); err != nil {
					t.Errorf("GenerateMac of 4096 bytes: %v", err)
				}
				_, err = generate(make([]byte, 4097))
				wantError(t, err, "ValidationException", anyMessage)
			})
		}
	}
}

// testDeriveSharedSecret: ECDH with each NIST curve equals crypto/ecdh's
// result with GetPublicKey's point; peer keys on another curve, not keys,
// or off the curve are ValidationException [REC test_derive_shared_secret].
func (f *asymFixture) testDeriveSharedSecret(t *testing.T) {
	for _, tc := range []struct {
		spec         types.KeySpec
		curve, other ecdh.Curve
	}{
		{types.KeySpecEccNistP256, ecdh.P256(), ecdh.P384()},
		{types.KeySpecEccNistP384, ecdh.P384(), ecdh.P521()},
		{types.KeySpecEccNistP521, ecdh.P521(), ecdh.P256()},
	} {
		md := f.key(t, tc.spec, types.KeyUsageTypeKeyAgreement)
		t.Run(string(tc.spec), func(t *testing.T) {
			ctx, c := t.Context(), f.env.KMS
			pub, err := parseAsymPublic(tc.spec, f.publicKeyDER(t, md))
			if err != nil {
				t.Fatal(err)
			}
			trentPub, err := pub.(*ecdsa.PublicKey).ECDH()
			if err != nil {
				t.Fatal(err)
			}
			derive := func(peer []byte) ([]byte, error) {
				out, err := c.DeriveSharedSecret(ctx, &kms.DeriveSharedSecretInput{KeyId: md.KeyId, KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: peer})
				if err != nil {
					return nil, err
				}
				if aws.ToString(out.KeyId) != aws.ToString(md.Arn) || out.KeyAgreementAlgorithm != types.KeyAgreementAlgorithmSpecEcdh || out.KeyOrigin != types.OriginTypeAwsKms {
					t.Errorf("DeriveSharedSecret answered KeyId %s KeyAgreementAlgorithm %s KeyOrigin %s", aws.ToString(out.KeyId), out.KeyAgreementAlgorithm, out.KeyOrigin)
				}
				return out.SharedSecret, nil
			}
			var secrets [][]byte
			for range 2 {
				mine, err := tc.curve.GenerateKey(rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				mineDER, err := x509.MarshalPKIXPublicKey(mine.PublicKey())
				if err != nil {
					t.Fatal(err)
				}
				got, err := derive(mineDER)
				if err != nil {
					t.Fatalf("DeriveSharedSecret: %v", err)
				}
				local, err := mine.ECDH(trentPub)
				if err != nil || !bytes.Equal(got, local) {
					t.Fatalf("Trent's shared secret %x, crypto/ecdh's %x (%v)", got, local, err)
				}
				if again, err := derive(mineDER); err != nil || !bytes.Equal(again, got) {
					t.Errorf("one peer, two secrets (%v)", err)
				}
				secrets = append(secrets, got)
			}
			if bytes.Equal(secrets[0], secrets[1]) {
				t.Error("two peers, one secret")
			}

			otherKey, err := tc.other.GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			otherDER, _ := x509.MarshalPKIXPublicKey(otherKey.PublicKey())
			x25519, _ := ecdh.X25519().GenerateKey(rand.Reader)
			x25519DER, _ := x509.MarshalPKIXPublicKey(x25519.PublicKey())
			rsaKey := f.publicKeyDER(t, f.key(t, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt))

			// A point of the right curve, moved off it.
			mine, _ := tc.curve.GenerateKey(rand.Reader)
			mineDER, _ := x509.MarshalPKIXPublicKey(mine.PublicKey())
			s, err := parseSPKI(mineDER)
			if err != nil {
				t.Fatal(err)
			}
			point := bytes.Clone(s.PublicKey.RightAlign())
			point[len(point)-1] ^= 1
			if _, err := tc.curve.NewPublicKey(point); err == nil {
				t.Fatal("test setup: the altered point is on the curve")
			}
			s.PublicKey = asn1.BitString{Bytes: point, BitLength: 8 * len(point)}
			offCurve, err := asn1.Marshal(*s)
			if err != nil {
				t.Fatal(err)
			}
			for name, peer := range map[string][]byte{
				"another curve":  otherDER,
				"X25519":         x25519DER,
				"RSA":            rsaKey,
				"off the curve":  offCurve,
				"raw point":      mine.PublicKey().Bytes(),
				"truncated SPKI": mineDER[:len(mineDER)-1],
			} {
				_, err := derive(peer)
				if !wantError(t, err, "ValidationException", anyMessage) {
					t.Logf("(peer key: %s)", name)
				}
			}
			// AWS answers garbage with an empty message [REC], which the
			// SDK shows as "UnknownError": look at the wire.
			_, err = derive([]byte("InvalidPublicKey"))
			wantError(t, err, "ValidationException", anyMessage)
			body, _ := json.Marshal(map[string]any{"KeyId": md.KeyId, "KeyAgreementAlgorithm": "ECDH", "PublicKey": []byte("InvalidPublicKey")})
			status, _, resp := f.env.Post(t, "DeriveSharedSecret", body, true)
			var wire struct {
				Type    string `json:"__type"`
				Message *string
			}
			if err := json.Unmarshal(resp, &wire); err != nil || status != 400 || wire.Type != "ValidationException" || (wire.Message != nil && *wire.Message != "") {
				t.Errorf("garbage peer key on the wire: %d %s, want 400 ValidationException with no message", status, resp)
			}
		})
	}
}

// pkcs8 and ecPrivateKey are RFC 5208 and RFC 5915, for the secp256k1
// private keys crypto/x509 does not parse.
type pkcs8 struct {
	Version    int
	Algorithm  pkix.AlgorithmIdentifier
	PrivateKey []byte
}

type ecPrivateKey struct {
	Version       int
	PrivateKey    []byte
	NamedCurveOID asn1.ObjectIdentifier `asn1:"optional,explicit,tag:0"`
	PublicKey     asn1.BitString        `asn1:"optional,explicit,tag:1"`
}

// checkKeyPair parses a data key pair with code outside Trent and checks
// that the private key is the public key's.
func checkKeyPair(spec types.DataKeyPairSpec, private, public []byte) error {
	pub, err := parseAsymPublic(types.KeySpec(spec), public)
	if err != nil {
		return fmt.Errorf("public key: %w", err)
	}
	if spec == types.DataKeyPairSpecEccSecgP256k1 {
		var p pkcs8
		if rest, err := asn1.Unmarshal(private, &p); err != nil || len(rest) != 0 {
			return fmt.Errorf("PKCS#8: %v (%d bytes left)", err, len(rest))
		}
		var curve asn1.ObjectIdentifier
		if _, err := asn1.Unmarshal(p.Algorithm.Parameters.FullBytes, &curve); err != nil || p.Version != 0 || !p.Algorithm.Algorithm.Equal(oidECPublicKey) || !curve.Equal(oidSecp256k1) {
			return fmt.Errorf("PKCS#8 version %d algorithm %v %x, want 0, id-ecPublicKey secp256k1", p.Version, p.Algorithm.Algorithm, p.Algorithm.Parameters.FullBytes)
		}
		var ec ecPrivateKey
		if rest, err := asn1.Unmarshal(p.PrivateKey, &ec); err != nil || len(rest) != 0 {
			return fmt.Errorf("ECPrivateKey: %v", err)
		}
		if ec.Version != 1 || len(ec.PrivateKey) != 32 {
			return fmt.Errorf("ECPrivateKey version %d, %d-byte key", ec.Version, len(ec.PrivateKey))
		}
		priv := secp256k1.PrivKeyFromBytes(ec.PrivateKey)
		if !priv.PubKey().IsEqual(pub.(*secp256k1.PublicKey)) {
			return errors.New("the private key is not the public key's")
		}
		if ec.PublicKey.BitLength > 0 && !bytes.Equal(ec.PublicKey.RightAlign(), priv.PubKey().SerializeUncompressed()) &&
			!bytes.Equal(ec.PublicKey.RightAlign(), priv.PubKey().SerializeCompressed()) {
			return errors.New("ECPrivateKey's public key is not its private key's")
		}
		return nil
	}
	priv, err := x509.ParsePKCS8PrivateKey(private)
	if err != nil {
		return fmt.Errorf("PKCS#8: %w", err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return fmt.Errorf("private key %T", priv)
	}
	if !signer.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
		return errors.New("the private key is not the public key's")
	}
	if k, ok := priv.(*rsa.PrivateKey); ok {
		if err := k.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// testDataKeyPairs: GenerateDataKeyPair and ...WithoutPlaintext for every
// DataKeyPairSpec [KS]: the pair is a key pair, the encrypted copy decrypts
// to it under the encryption context; SM2 is refused; only a symmetric
// encryption key may wrap the private key.
func (f *asymFixture) testDataKeyPairs(t *testing.T) {
	sym := f.key(t, types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt)
	ec := map[string]string{"purpose": "data key pair"}
	for _, spec := range []types.DataKeyPairSpec{
		types.DataKeyPairSpecRsa2048, types.DataKeyPairSpecRsa3072, types.DataKeyPairSpecRsa4096,
		types.DataKeyPairSpecEccNistP256, types.DataKeyPairSpecEccNistP384, types.DataKeyPairSpecEccNistP521,
		types.DataKeyPairSpecEccSecgP256k1, types.DataKeyPairSpecEccNistEdwards25519,
	} {
		t.Run(string(spec), func(t *testing.T) {
			t.Parallel()
			ctx, c := t.Context(), f.env.KMS
			decrypt := func(blob []byte) []byte {
				t.Helper()
				dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec})
				if err != nil {
					t.Fatalf("Decrypt of the private key: %v", err)
				}
				_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
				wantError(t, err, "InvalidCiphertextException", "")
				return dec.Plaintext
			}
			out, err := c.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: sym.KeyId, KeyPairSpec: spec, EncryptionContext: ec})
			if err != nil {
				t.Fatalf("GenerateDataKeyPair: %v", err)
			}
			if aws.ToString(out.KeyId) != aws.ToString(sym.Arn) || out.KeyPairSpec != spec {
				t.Errorf("GenerateDataKeyPair answered KeyId %s KeyPairSpec %s", aws.ToString(out.KeyId), out.KeyPairSpec)
			}
			if err := checkKeyPair(spec, out.PrivateKeyPlaintext, out.PublicKey); err != nil {
				t.Errorf("GenerateDataKeyPair: %v", err)
			}
			if !bytes.Equal(decrypt(out.PrivateKeyCiphertextBlob), out.PrivateKeyPlaintext) {
				t.Error("the encrypted private key is not the plaintext one")
			}

			wo, err := c.GenerateDataKeyPairWithoutPlaintext(ctx, &kms.GenerateDataKeyPairWithoutPlaintextInput{KeyId: sym.KeyId, KeyPairSpec: spec, EncryptionContext: ec})
			if err != nil {
				t.Fatalf("GenerateDataKeyPairWithoutPlaintext: %v", err)
			}
			if aws.ToString(wo.KeyId) != aws.ToString(sym.Arn) || wo.KeyPairSpec != spec {
				t.Errorf("GenerateDataKeyPairWithoutPlaintext answered KeyId %s KeyPairSpec %s", aws.ToString(wo.KeyId), wo.KeyPairSpec)
			}
			if bytes.Equal(wo.PublicKey, out.PublicKey) {
				t.Error("two calls, one key pair")
			}
			if err := checkKeyPair(spec, decrypt(wo.PrivateKeyCiphertextBlob), wo.PublicKey); err != nil {
				t.Errorf("GenerateDataKeyPairWithoutPlaintext: %v", err)
			}
			if checkKeyPair(spec, out.PrivateKeyPlaintext, wo.PublicKey) == nil {
				t.Error("checkKeyPair accepts the private key of another pair: it checks nothing")
			}
		})
	}
	t.Run("refused", func(t *testing.T) {
		ctx, c := t.Context(), f.env.KMS
		// The SDK's output type of ...WithoutPlaintext has no
		// PrivateKeyPlaintext: look at the wire.
		body := fmt.Appendf(nil, `{"KeyId":%q,"KeyPairSpec":"ECC_NIST_P256"}`, aws.ToString(sym.KeyId))
		status, _, resp := f.env.Post(t, "GenerateDataKeyPairWithoutPlaintext", body, true)
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(resp, &fields); status != 200 || err != nil {
			t.Fatalf("GenerateDataKeyPairWithoutPlaintext on the wire: %d %s", status, resp)
		}
		if _, ok := fields["PrivateKeyPlaintext"]; ok || fields["PrivateKeyCiphertextBlob"] == nil || fields["PublicKey"] == nil {
			t.Errorf("GenerateDataKeyPairWithoutPlaintext answered members %v", slices.Sorted(maps.Keys(fields)))
		}

		_, err := c.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: sym.KeyId, KeyPairSpec: types.DataKeyPairSpecSm2})
		wantError(t, err, "UnsupportedOperationException", anyMessage)
		_, err = c.GenerateDataKeyPairWithoutPlaintext(ctx, &kms.GenerateDataKeyPairWithoutPlaintextInput{KeyId: sym.KeyId, KeyPairSpec: types.DataKeyPairSpecSm2})
		wantError(t, err, "UnsupportedOperationException", anyMessage)
		for _, md := range []*types.KeyMetadata{
			f.key(t, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify),
			f.key(t, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac),
		} {
			_, err = c.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: md.KeyId, KeyPairSpec: types.DataKeyPairSpecEccNistP256})
			wantError(t, err, "InvalidKeyUsageException", fmt.Sprintf("%s key usage is %s which is not valid for GenerateDataKeyPair.", aws.ToString(md.Arn), md.KeyUsage))
			_, err = c.GenerateDataKeyPairWithoutPlaintext(ctx, &kms.GenerateDataKeyPairWithoutPlaintextInput{KeyId: md.KeyId, KeyPairSpec: types.DataKeyPairSpecEccNistP256})
			wantError(t, err, "InvalidKeyUsageException", fmt.Sprintf("%s key usage is %s which is not valid for GenerateDataKeyPairWithoutPlaintext.", aws.ToString(md.Arn), md.KeyUsage))
		}
		// An RSA encryption key has the right usage but is asymmetric.
		rsaEnc := f.key(t, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt)
		_, err = c.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: rsaEnc.KeyId, KeyPairSpec: types.DataKeyPairSpecEccNistP256})
		wantError(t, err, "InvalidKeyUsageException", anyMessage)
	})
}

// testRotation: asymmetric and HMAC keys do not rotate [KS; GetKeyRotationStatus
// doc]: the status is false and the rotation operations are
// UnsupportedOperationException (RotateKeyOnDemand with no message [REC
// test_rotate_key_on_demand_raises_error_given_non_symmetric_key]).
func (f *asymFixture) testRotation(t *testing.T) {
	ctx, c := t.Context(), f.env.KMS
	for _, p := range []asymPair{
		{types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt},
		{types.KeySpecRsa2048, types.KeyUsageTypeSignVerify},
		{types.KeySpecEccNistP256, types.KeyUsageTypeKeyAgreement},
		{types.KeySpecEccSecgP256k1, types.KeyUsageTypeSignVerify},
		{types.KeySpecEccNistEdwards25519, types.KeyUsageTypeSignVerify},
		{types.KeySpecMlDsa65, types.KeyUsageTypeSignVerify},
		{types.KeySpecHmac384, types.KeyUsageTypeGenerateVerifyMac},
	} {
		md := f.key(t, p.spec, p.usage)
		t.Run(p.String(), func(t *testing.T) {
			st, err := c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: md.KeyId})
			if err != nil || st.KeyRotationEnabled || st.RotationPeriodInDays != nil || st.NextRotationDate != nil {
				t.Errorf("GetKeyRotationStatus: %+v, %v", st, err)
			}
			_, err = c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: md.KeyId})
			wantError(t, err, "UnsupportedOperationException", anyMessage)
			_, err = c.DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: md.KeyId})
			wantError(t, err, "UnsupportedOperationException", anyMessage)
			_, err = c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: md.KeyId})
			wantError(t, err, "UnsupportedOperationException", "")
			_, err = c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: md.KeyId})
			wantError(t, err, "UnsupportedOperationException", anyMessage)
		})
	}
}

// TestAsymDryRunAndKeyStates: DryRun on the asymmetric and HMAC operations
// answers AWS's DryRunOperationException when the call would succeed and
// the real error when it would not [REC test_generate_data_key_pair_dry_run];
// disabled and pending-deletion keys refuse them as the key-state table
// says (aws-kms.md §3).
func TestAsymDryRunAndKeyStates(t *testing.T) {
	env := testenv.Start(t)
	ctx, c := t.Context(), env.KMS
	yes := aws.Bool(true)

	type keySet struct {
		sign, mac, ka, enc, sym *types.KeyMetadata
		sig, tag, ct, peer      []byte
	}
	newSet := func() *keySet {
		s := &keySet{
			sign: newAsymKey(t, env, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify),
			mac:  newAsymKey(t, env, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac),
			ka:   newAsymKey(t, env, types.KeySpecEccNistP384, types.KeyUsageTypeKeyAgreement),
			enc:  newAsymKey(t, env, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt),
			sym:  createKey(t, env, nil),
		}
		sig, err := c.Sign(ctx, &kms.SignInput{KeyId: s.sign.KeyId, Message: []byte("m"), SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
		mustOK(t, err, "Sign")
		mac, err := c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: s.mac.KeyId, Message: []byte("m"), MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
		mustOK(t, err, "GenerateMac")
		enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: s.enc.KeyId, Plaintext: []byte("m"), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
		mustOK(t, err, "Encrypt")
		peer, err := ecdh.P384().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		peerDER, err := x509.MarshalPKIXPublicKey(peer.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		s.sig, s.tag, s.ct, s.peer = sig.Signature, mac.Mac, enc.CiphertextBlob, peerDER
		return s
	}
	type call struct {
		name, arnOf string // arnOf: which key the call's state error names
		do          func(s *keySet, dry *bool) error
	}
	calls := []call{
		{"Sign", "sign", func(s *keySet, dry *bool) error {
			_, err := c.Sign(ctx, &kms.SignInput{KeyId: s.sign.KeyId, Message: []byte("m"), SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256, DryRun: dry})
			return err
		}},
		{"Verify", "sign", func(s *keySet, dry *bool) error {
			_, err := c.Verify(ctx, &kms.VerifyInput{KeyId: s.sign.KeyId, Message: []byte("m"), Signature: s.sig, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256, DryRun: dry})
			return err
		}},
		{"GetPublicKey", "sign", func(s *keySet, _ *bool) error {
			_, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: s.sign.KeyId})
			return err
		}},
		{"GenerateMac", "mac", func(s *keySet, dry *bool) error {
			_, err := c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: s.mac.KeyId, Message: []byte("m"), MacAlgorithm: types.MacAlgorithmSpecHmacSha256, DryRun: dry})
			return err
		}},
		{"VerifyMac", "mac", func(s *keySet, dry *bool) error {
			_, err := c.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: s.mac.KeyId, Message: []byte("m"), Mac: s.tag, MacAlgorithm: types.MacAlgorithmSpecHmacSha256, DryRun: dry})
			return err
		}},
		{"DeriveSharedSecret", "ka", func(s *keySet, dry *bool) error {
			_, err := c.DeriveSharedSecret(ctx, &kms.DeriveSharedSecretInput{KeyId: s.ka.KeyId, KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: s.peer, DryRun: dry})
			return err
		}},
		{"GetPublicKey ECDH", "ka", func(s *keySet, _ *bool) error {
			_, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: s.ka.KeyId})
			return err
		}},
		{"Encrypt RSA", "enc", func(s *keySet, dry *bool) error {
			_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: s.enc.KeyId, Plaintext: []byte("m"), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256, DryRun: dry})
			return err
		}},
		{"Decrypt RSA", "enc", func(s *keySet, dry *bool) error {
			_, err := c.Decrypt(ctx, &kms.DecryptInput{KeyId: s.enc.KeyId, CiphertextBlob: s.ct, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256, DryRun: dry})
			return err
		}},
		{"GenerateDataKeyPair", "sym", func(s *keySet, dry *bool) error {
			_, err := c.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: s.sym.KeyId, KeyPairSpec: types.DataKeyPairSpecEccNistP256, DryRun: dry})
			return err
		}},
		{"GenerateDataKeyPairWithoutPlaintext", "sym", func(s *keySet, dry *bool) error {
			_, err := c.GenerateDataKeyPairWithoutPlaintext(ctx, &kms.GenerateDataKeyPairWithoutPlaintextInput{KeyId: s.sym.KeyId, KeyPairSpec: types.DataKeyPairSpecEccNistP256, DryRun: dry})
			return err
		}},
	}
	arnOf := func(s *keySet, which string) string {
		return aws.ToString(map[string]*types.KeyMetadata{"sign": s.sign, "mac": s.mac, "ka": s.ka, "enc": s.enc, "sym": s.sym}[which].Arn)
	}

	enabled := newSet()
	t.Run("DryRun", func(t *testing.T) {
		for _, cl := range calls {
			if strings.HasPrefix(cl.name, "GetPublicKey") {
				continue // no DryRun member
			}
			t.Run(cl.name, func(t *testing.T) {
				err := cl.do(enabled, yes)
				if wantError(t, err, "DryRunOperationException", dryRunMessage) {
					wantType[*types.DryRunOperationException](t, err)
				}
				mustOK(t, cl.do(enabled, aws.Bool(false)), cl.name+" DryRun:false")
			})
		}
	})
	t.Run("DryRun that would fail", func(t *testing.T) {
		_, err := c.Sign(ctx, &kms.SignInput{KeyId: enabled.sign.KeyId, Message: []byte("m"), SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha384, DryRun: yes})
		wantError(t, err, "InvalidKeyUsageException", "Algorithm ECDSA_SHA_384 is incompatible with key spec ECC_NIST_P256.")
		_, err = c.Sign(ctx, &kms.SignInput{KeyId: enabled.sign.KeyId, Message: make([]byte, 31), MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256, DryRun: yes})
		wantError(t, err, "ValidationException", "Digest is invalid length for algorithm ECDSA_SHA_256.")
		_, err = c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: enabled.mac.KeyId, Message: []byte("m"), MacAlgorithm: types.MacAlgorithmSpecHmacSha512, DryRun: yes})
		wantError(t, err, "InvalidKeyUsageException", "Algorithm HMAC_SHA_512 is incompatible with key spec HMAC_256.")
		_, err = c.DeriveSharedSecret(ctx, &kms.DeriveSharedSecretInput{KeyId: enabled.sign.KeyId, KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: enabled.peer, DryRun: yes})
		wantError(t, err, "InvalidKeyUsageException", aws.ToString(enabled.sign.Arn)+" key usage is SIGN_VERIFY which is not valid for DeriveSharedSecret.")
		_, err = c.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: enabled.sign.KeyId, KeyPairSpec: types.DataKeyPairSpecEccNistP256, DryRun: yes})
		wantError(t, err, "InvalidKeyUsageException", anyMessage)
		_, err = c.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: enabled.sym.KeyId, KeyPairSpec: types.DataKeyPairSpecSm2, DryRun: yes})
		wantError(t, err, "UnsupportedOperationException", anyMessage)
	})
	// The parameters DryRun checks include the plaintext's size ("verify
	// that the request parameters are correctly specified", AWS's "Testing
	// your permissions"; Trent's own TestDryRun: a DryRun that would fail
	// reports the failure).
	t.Run("DryRun of an oversized RSA plaintext", func(t *testing.T) {
		_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: enabled.enc.KeyId, Plaintext: make([]byte, 191), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256, DryRun: yes})
		big := encrypt(t, env, aws.ToString(enabled.sym.KeyId), make([]byte, 191), nil)
		_, reErr := c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: big, DestinationKeyId: enabled.enc.KeyId, DestinationEncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256, DryRun: yes})
		want := "Algorithm RSAES_OAEP_SHA_256 and key spec RSA_2048 cannot encrypt data larger than 190 bytes."
		wantError(t, err, "ValidationException", want)
		wantError(t, reErr, "ValidationException", want)
	})

	for _, st := range []struct {
		state types.KeyState
		code  string
		msg   string
		set   func(s *keySet)
	}{
		{types.KeyStateDisabled, "DisabledException", "%s is disabled.", func(s *keySet) {
			for _, md := range []*types.KeyMetadata{s.sign, s.mac, s.ka, s.enc, s.sym} {
				_, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: md.KeyId})
				mustOK(t, err, "DisableKey")
			}
		}},
		{types.KeyStatePendingDeletion, "KMSInvalidStateException", "%s is pending deletion.", func(s *keySet) {
			for _, md := range []*types.KeyMetadata{s.sign, s.mac, s.ka, s.enc, s.sym} {
				_, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: md.KeyId, PendingWindowInDays: aws.Int32(7)})
				mustOK(t, err, "ScheduleKeyDeletion")
			}
		}},
	} {
		s := newSet()
		st.set(s)
		t.Run(string(st.state), func(t *testing.T) {
			if got := describe(t, env, aws.ToString(s.sign.KeyId)).KeyState; got != st.state {
				t.Fatalf("key state %s, want %s", got, st.state)
			}
			for _, cl := range calls {
				t.Run(cl.name, func(t *testing.T) {
					wantError(t, cl.do(s, nil), st.code, fmt.Sprintf(st.msg, arnOf(s, cl.arnOf)))
					if !strings.HasPrefix(cl.name, "GetPublicKey") {
						// The key's state comes before DryRun.
						wantError(t, cl.do(s, yes), st.code, fmt.Sprintf(st.msg, arnOf(s, cl.arnOf)))
					}
				})
			}
			// ReEncrypt names the source key.
			_, err := c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: s.ct, SourceKeyId: s.enc.KeyId, SourceEncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256, DestinationKeyId: enabled.sym.KeyId})
			wantError(t, err, st.code, fmt.Sprintf(st.msg, aws.ToString(s.enc.Arn)))
		})
	}
}
