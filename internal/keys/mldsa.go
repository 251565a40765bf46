package keys

import (
	"crypto/rand"
	"fmt"

	"github.com/cloudflare/circl/sign"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
)

// ML_DSA_44/65/87 keys (FIPS 204) use circl. The private material is the
// 32-byte seed ξ of ML-DSA.KeyGen_internal in PKCS#8, the form RFC 9881 §6
// recommends:
//
//	PrivateKeyInfo ::= SEQUENCE {
//	  version             INTEGER 0,
//	  privateKeyAlgorithm SEQUENCE { id-ml-dsa-44 | -65 | -87 },  -- no parameters
//	  privateKey          OCTET STRING containing
//	    seed [0] IMPLICIT OCTET STRING (SIZE (32)) }
//
// 54 bytes for every parameter set; the expanded key is recomputed from the
// seed on each use. The expandedKey and both forms of RFC 9881 are refused.
// The public key is RFC 9881's SubjectPublicKeyInfo: the same OID, no
// parameters, and the FIPS 204 encoded public key as the BIT STRING.

const mldsaSeedSize = 32

// mldsaParams is one ML-DSA parameter set.
type mldsaParams struct {
	spec   string
	oid    []byte
	scheme sign.Scheme
	// signTo is the package's SignTo with an empty context.
	signTo func(sk sign.PrivateKey, msg []byte, randomized bool, sig []byte) error
}

var mldsaSets = []*mldsaParams{
	{"ML_DSA_44", oidMLDSA44, mldsa44.Scheme(), func(sk sign.PrivateKey, msg []byte, rnd bool, sig []byte) error {
		return mldsa44.SignTo(sk.(*mldsa44.PrivateKey), msg, nil, rnd, sig)
	}},
	{"ML_DSA_65", oidMLDSA65, mldsa65.Scheme(), func(sk sign.PrivateKey, msg []byte, rnd bool, sig []byte) error {
		return mldsa65.SignTo(sk.(*mldsa65.PrivateKey), msg, nil, rnd, sig)
	}},
	{"ML_DSA_87", oidMLDSA87, mldsa87.Scheme(), func(sk sign.PrivateKey, msg []byte, rnd bool, sig []byte) error {
		return mldsa87.SignTo(sk.(*mldsa87.PrivateKey), msg, nil, rnd, sig)
	}},
}

func generateMLDSA(p *mldsaParams) ([]byte, error) {
	var seed [mldsaSeedSize]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("keys: generating %s key: %w", p.spec, err)
	}
	return marshalMLDSAPKCS8(p, seed[:]), nil
}

func marshalMLDSAPKCS8(p *mldsaParams, seed []byte) []byte {
	return marshalSeedPKCS8(p.oid, seed)
}

func marshalMLDSASPKI(p *mldsaParams, pub sign.PublicKey) []byte {
	b, _ := pub.MarshalBinary() // circl's MarshalBinary never fails
	return marshalSPKI(p.oid, nil, b)
}

// parseMLDSAPrivate parses the seed form and expands the key pair.
func parseMLDSAPrivate(p *mldsaParams, der []byte) (sign.PublicKey, sign.PrivateKey, error) {
	seed, ok := parseMLDSASeed(p, der)
	if !ok {
		return nil, nil, fmt.Errorf("%w: %s: not a PKCS#8 ML-DSA seed of this parameter set", ErrInvalidKeyMaterial, p.spec)
	}
	pub, priv := p.scheme.DeriveKey(seed)
	return pub, priv, nil
}

func parseMLDSASeed(p *mldsaParams, der []byte) ([]byte, bool) {
	return parseSeedPKCS8(der, p.oid, mldsaSeedSize)
}

// sign makes an ML-DSA signature of msg with an empty context: hedged if
// randomized, else deterministic (FIPS 204's rnd = 0³²; tests use it to
// reproduce known answers).
func (p *mldsaParams) sign(sk sign.PrivateKey, msg []byte, randomized bool) ([]byte, error) {
	sig := make([]byte, p.scheme.SignatureSize())
	if err := p.signTo(sk, msg, randomized, sig); err != nil {
		return nil, fmt.Errorf("keys: %s signing: %w", p.spec, err)
	}
	return sig, nil
}

// verify checks an ML-DSA signature of msg with an empty context.
func (p *mldsaParams) verify(pub sign.PublicKey, msg, sig []byte) error {
	if !p.scheme.Verify(pub, msg, sig, nil) {
		return ErrInvalidSignature
	}
	return nil
}
