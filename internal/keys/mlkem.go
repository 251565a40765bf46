package keys

import (
	"bytes"
	"crypto/mlkem"
	"crypto/rand"
	"fmt"

	"github.com/cloudflare/circl/kem/mlkem/mlkem512"
)

// ML_KEM_512/768/1024 keys (FIPS 203). ML-KEM-768 and ML-KEM-1024 come
// from Go's crypto/mlkem, inside the FIPS 140-3 module; Go has no
// ML-KEM-512, so that one set comes from circl, outside it.
//
// The private material is the 64-byte seed d ‖ z of ML-KEM.KeyGen_internal
// in PKCS#8, the seed form of RFC 9935 (ML-KEM in X.509), which is what
// AWS returns from GenerateDataKeyPair for ML-KEM pair specs ("the length
// of the private key is the same for all ML-KEM key pair specs"):
//
//	PrivateKeyInfo ::= SEQUENCE {
//	  version             INTEGER 0,
//	  privateKeyAlgorithm SEQUENCE { id-alg-ml-kem-512 | -768 | -1024 },  -- no parameters
//	  privateKey          OCTET STRING containing
//	    seed [0] IMPLICIT OCTET STRING (SIZE (64)) }
//
// 86 bytes for every parameter set; the expanded decapsulation key is
// recomputed from the seed when the key is parsed. The expandedKey and both
// forms are refused. The public key is RFC 9935's SubjectPublicKeyInfo: the
// same OID, no parameters, the FIPS 203 encapsulation key as the BIT STRING.

const (
	mlkemSeedSize = 64
	// MLKEMSharedSecretSize is the size of an ML-KEM shared secret, for
	// every parameter set.
	MLKEMSharedSecretSize = 32
)

// Encoded object identifiers of RFC 9935 (2.16.840.1.101.3.4.4.1-3).
var (
	oidMLKEM512  = []byte{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x04, 0x01}
	oidMLKEM768  = []byte{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x04, 0x02}
	oidMLKEM1024 = []byte{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x04, 0x03}
)

const usageEncapsulate = "ENCAPSULATE_DECAPSULATE"

// mlkemParams is one ML-KEM parameter set.
type mlkemParams struct {
	spec           string
	oid            []byte
	ciphertextSize int
	// generate makes a new seed; fromSeed expands one.
	generate func() ([]byte, error)
	fromSeed func(seed []byte) (mlkemKey, error)
}

// mlkemKey is an expanded ML-KEM decapsulation key. Decapsulate refuses
// only a ciphertext of the wrong length: any other ciphertext yields a
// secret (FIPS 203's implicit rejection).
type mlkemKey interface {
	encapsulationKey() []byte
	encapsulate() (shared, ciphertext []byte)
	decapsulate(ciphertext []byte) ([]byte, error)
}

var mlkemSets = []*mlkemParams{
	{spec: "ML_KEM_512", oid: oidMLKEM512, ciphertextSize: mlkem512.CiphertextSize,
		generate: randomMLKEMSeed, fromSeed: newCirclMLKEM512},
	{spec: "ML_KEM_768", oid: oidMLKEM768, ciphertextSize: mlkem.CiphertextSize768,
		generate: func() ([]byte, error) {
			dk, err := mlkem.GenerateKey768()
			if err != nil {
				return nil, err
			}
			return dk.Bytes(), nil
		},
		fromSeed: func(seed []byte) (mlkemKey, error) {
			dk, err := mlkem.NewDecapsulationKey768(seed)
			if err != nil {
				return nil, err
			}
			return &stdMLKEM768{dk: dk, ek: dk.EncapsulationKey()}, nil
		}},
	{spec: "ML_KEM_1024", oid: oidMLKEM1024, ciphertextSize: mlkem.CiphertextSize1024,
		generate: func() ([]byte, error) {
			dk, err := mlkem.GenerateKey1024()
			if err != nil {
				return nil, err
			}
			return dk.Bytes(), nil
		},
		fromSeed: func(seed []byte) (mlkemKey, error) {
			dk, err := mlkem.NewDecapsulationKey1024(seed)
			if err != nil {
				return nil, err
			}
			return &stdMLKEM1024{dk: dk, ek: dk.EncapsulationKey()}, nil
		}},
}

func init() {
	for _, p := range mlkemSets {
		specs[p.spec] = &specInfo{name: p.spec, family: famMLKEM, mlkem: p,
			usages: []string{usageEncapsulate}, encapsulation: []string{"ML_KEM"}, dataKey: true}
	}
}

// EncapsulationAlgorithms returns [ML_KEM] for the ML-KEM key specs, nil
// otherwise (KeyMetadata.EncapsulationAlgorithms).
func EncapsulationAlgorithms(spec string) []string {
	return column(spec, func(s *specInfo) []string { return s.encapsulation })
}

// MLKEMCiphertextSize is the size of an encapsulated secret for an ML-KEM
// key spec (768, 1088, 1568 bytes), 0 for other specs.
func MLKEMCiphertextSize(spec string) int {
	s, ok := specs[spec]
	if !ok || s.mlkem == nil {
		return 0
	}
	return s.mlkem.ciphertextSize
}

func randomMLKEMSeed() ([]byte, error) {
	seed := make([]byte, mlkemSeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, err
	}
	return seed, nil
}

func generateMLKEM(p *mlkemParams) ([]byte, error) {
	seed, err := p.generate()
	if err != nil {
		return nil, fmt.Errorf("keys: generating %s key: %w", p.spec, err)
	}
	defer clear(seed)
	return marshalSeedPKCS8(p.oid, seed), nil
}

// parseMLKEMPrivate parses the seed form and expands the key.
func parseMLKEMPrivate(p *mlkemParams, der []byte) (mlkemKey, error) {
	seed, ok := parseSeedPKCS8(der, p.oid, mlkemSeedSize)
	if !ok {
		return nil, fmt.Errorf("%w: %s: not a PKCS#8 ML-KEM seed of this parameter set", ErrInvalidKeyMaterial, p.spec)
	}
	k, err := p.fromSeed(seed)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidKeyMaterial, p.spec, err)
	}
	return k, nil
}

// marshalSeedPKCS8 is the PKCS#8 seed form shared by ML-KEM (RFC 9935)
// and ML-DSA (RFC 9881).
func marshalSeedPKCS8(oid, seed []byte) []byte {
	return tlv(tagSequence,
		tlv(tagInteger, []byte{0}),
		tlv(tagSequence, tlv(tagOID, oid)),
		tlv(tagOctetString, tlv(tagContext0Raw, seed)),
	)
}

// parseSeedPKCS8 reads marshalSeedPKCS8's form for one algorithm and seed
// size; anything else (another OID, parameters, the expanded forms, a
// seed of another size, trailing bytes) is refused.
func parseSeedPKCS8(der, oid []byte, size int) ([]byte, bool) {
	pki, ok := readOnly(der, tagSequence)
	if !ok {
		return nil, false
	}
	version, rest, ok := readSmallInt(pki)
	if !ok || version != 0 {
		return nil, false
	}
	alg, rest, ok := readExpect(rest, tagSequence)
	if !ok || !bytes.Equal(alg, tlv(tagOID, oid)) {
		return nil, false
	}
	inner, ok := readOnly(rest, tagOctetString)
	if !ok {
		return nil, false
	}
	seed, ok := readOnly(inner, tagContext0Raw)
	if !ok || len(seed) != size {
		return nil, false
	}
	return seed, true
}

// Encapsulate makes a fresh shared secret and its encapsulation under the
// public key of an ML-KEM key (Encapsulate). Other specs are
// ErrUnsupportedSpec.
func (p *Private) Encapsulate() (shared, ciphertext []byte, err error) {
	if p.kem == nil {
		return nil, nil, fmt.Errorf("%w: %s cannot encapsulate", ErrUnsupportedSpec, p.s.name)
	}
	shared, ciphertext = p.kem.encapsulate()
	return shared, ciphertext, nil
}

// Decapsulate recovers the shared secret of an encapsulation made for this
// key (Decapsulate). A ciphertext of the wrong length is
// ErrInvalidCiphertext; any other ciphertext yields 32 bytes, the
// implicit-rejection secret when it was not made for this key, so the
// answer tells a caller nothing about the ciphertext.
func (p *Private) Decapsulate(ciphertext []byte) ([]byte, error) {
	if p.kem == nil {
		return nil, fmt.Errorf("%w: %s cannot decapsulate", ErrUnsupportedSpec, p.s.name)
	}
	if len(ciphertext) != p.s.mlkem.ciphertextSize {
		return nil, ErrInvalidCiphertext
	}
	shared, err := p.kem.decapsulate(ciphertext)
	if err != nil {
		return nil, ErrInvalidCiphertext
	}
	return shared, nil
}

type stdMLKEM768 struct {
	dk *mlkem.DecapsulationKey768
	ek *mlkem.EncapsulationKey768
}

func (k *stdMLKEM768) encapsulationKey() []byte { return k.ek.Bytes() }
func (k *stdMLKEM768) encapsulate() ([]byte, []byte) {
	return k.ek.Encapsulate()
}
func (k *stdMLKEM768) decapsulate(ct []byte) ([]byte, error) { return k.dk.Decapsulate(ct) }

type stdMLKEM1024 struct {
	dk *mlkem.DecapsulationKey1024
	ek *mlkem.EncapsulationKey1024
}

func (k *stdMLKEM1024) encapsulationKey() []byte { return k.ek.Bytes() }
func (k *stdMLKEM1024) encapsulate() ([]byte, []byte) {
	return k.ek.Encapsulate()
}
func (k *stdMLKEM1024) decapsulate(ct []byte) ([]byte, error) { return k.dk.Decapsulate(ct) }

type circlMLKEM512 struct {
	pk *mlkem512.PublicKey
	sk *mlkem512.PrivateKey
}

func newCirclMLKEM512(seed []byte) (mlkemKey, error) {
	if len(seed) != mlkem512.KeySeedSize {
		return nil, fmt.Errorf("seed is %d bytes, want %d", len(seed), mlkem512.KeySeedSize)
	}
	pk, sk := mlkem512.NewKeyFromSeed(seed)
	return &circlMLKEM512{pk: pk, sk: sk}, nil
}

func (k *circlMLKEM512) encapsulationKey() []byte {
	b := make([]byte, mlkem512.PublicKeySize)
	k.pk.Pack(b)
	return b
}

func (k *circlMLKEM512) encapsulate() ([]byte, []byte) {
	ct := make([]byte, mlkem512.CiphertextSize)
	ss := make([]byte, mlkem512.SharedKeySize)
	// A nil seed makes circl draw the message m from crypto/rand.
	k.pk.EncapsulateTo(ct, ss, nil)
	return ss, ct
}

func (k *circlMLKEM512) decapsulate(ct []byte) ([]byte, error) {
	if len(ct) != mlkem512.CiphertextSize {
		return nil, ErrInvalidCiphertext
	}
	ss := make([]byte, mlkem512.SharedKeySize)
	k.sk.DecapsulateTo(ss, ct)
	return ss, nil
}

func marshalMLKEMSPKI(p *mlkemParams, k mlkemKey) []byte {
	return marshalSPKI(p.oid, nil, k.encapsulationKey())
}
