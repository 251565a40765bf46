package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"fmt"

	"github.com/cloudflare/circl/sign"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// Private is an asymmetric private key parsed once. Parsing PKCS#8 costs
// more than an ECDSA or Ed25519 signature (for RSA it is a sizeable share of
// the signature), so a caller that uses a key many times — the KMS service,
// which caches every key version in memory — keeps a Private instead of
// passing DER to the package functions. A Private is secret and immutable;
// it is safe for concurrent use.
type Private struct {
	s     *specInfo
	std   crypto.Signer // famRSA, famECDSA, famEd25519
	k1    *secp256k1.PrivateKey
	mlPub sign.PublicKey
	mlSK  sign.PrivateKey
	kem   mlkemKey // famMLKEM
}

// ParsePrivate parses stored private material (GeneratePrivate's format)
// of an asymmetric key spec. HMAC and symmetric specs are
// ErrUnsupportedSpec; material of another spec is ErrInvalidKeyMaterial.
func ParsePrivate(spec string, private []byte) (*Private, error) {
	s, err := lookupSpec(spec)
	if err != nil {
		return nil, err
	}
	return parsePrivate(s, private)
}

func parsePrivate(s *specInfo, private []byte) (*Private, error) {
	p := &Private{s: s}
	var err error
	switch s.family {
	case famRSA, famECDSA, famEd25519:
		p.std, err = parseStdPrivate(s, private)
	case famSecp256k1:
		p.k1, err = parseSecp256k1PKCS8(private)
	case famMLDSA:
		p.mlPub, p.mlSK, err = parseMLDSAPrivate(s.mldsa, private)
	case famMLKEM:
		p.kem, err = parseMLKEMPrivate(s.mlkem, private)
	default:
		return nil, fmt.Errorf("%w: %s is not an asymmetric key spec", ErrUnsupportedSpec, s.name)
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Spec is the key spec of p.
func (p *Private) Spec() string { return p.s.name }

// PublicKeyDER is PublicKeyDER for a parsed key.
func (p *Private) PublicKeyDER() ([]byte, error) {
	switch p.s.family {
	case famSecp256k1:
		return marshalSecp256k1SPKI(p.k1.PubKey()), nil
	case famMLDSA:
		return marshalMLDSASPKI(p.s.mldsa, p.mlPub), nil
	case famMLKEM:
		return marshalMLKEMSPKI(p.s.mlkem, p.kem), nil
	}
	return marshalStdPublic(p.std.Public())
}

// Sign is Sign for a parsed key.
func (p *Private) Sign(algorithm, messageType string, message []byte) ([]byte, error) {
	_, a, input, err := signingInput(p.s.name, algorithm, messageType, message)
	if err != nil {
		return nil, err
	}
	return p.signInput(a, input)
}

func (p *Private) signInput(a sigAlg, input []byte) ([]byte, error) {
	switch p.s.family {
	case famSecp256k1:
		return signSecp256k1(p.k1, input), nil
	case famMLDSA:
		return p.s.mldsa.sign(p.mlSK, input, true)
	}
	return signStd(a, p.std, input)
}

// Verify is Verify for a parsed key.
func (p *Private) Verify(algorithm, messageType string, message, signature []byte) error {
	_, a, input, err := signingInput(p.s.name, algorithm, messageType, message)
	if err != nil {
		return err
	}
	return p.verifyInput(a, input, signature)
}

func (p *Private) verifyInput(a sigAlg, input, signature []byte) error {
	switch p.s.family {
	case famSecp256k1:
		return verifySecp256k1(p.k1.PubKey(), input, signature)
	case famMLDSA:
		return p.s.mldsa.verify(p.mlPub, input, signature)
	}
	return verifyStd(a, p.std.Public(), input, signature)
}

// EncryptRSA is EncryptRSA for a parsed key.
func (p *Private) EncryptRSA(algorithm string, plaintext []byte) ([]byte, error) {
	s, h, newHash, err := rsaEncryptionSetup(p.s.name, algorithm)
	if err != nil {
		return nil, err
	}
	if max := s.rsaBits/8 - 2*h.Size() - 2; len(plaintext) > max {
		return nil, fmt.Errorf("%w: %s and %s cannot encrypt more than %d bytes", ErrPlaintextTooLarge, algorithm, s.name, max)
	}
	return rsa.EncryptOAEP(newHash(), rand.Reader, &p.std.(*rsa.PrivateKey).PublicKey, plaintext, nil)
}

// DecryptRSA is DecryptRSA for a parsed key.
func (p *Private) DecryptRSA(algorithm string, ciphertext []byte) ([]byte, error) {
	s, _, newHash, err := rsaEncryptionSetup(p.s.name, algorithm)
	if err != nil {
		return nil, err
	}
	// RFC 8017 §7.1.2 step 1: the ciphertext is exactly k bytes. crypto/rsa
	// would also take a shorter one as an integer with its zero bytes dropped.
	if len(ciphertext) != s.rsaBits/8 {
		return nil, ErrInvalidCiphertext
	}
	pt, err := rsa.DecryptOAEP(newHash(), nil, p.std.(*rsa.PrivateKey), ciphertext, nil)
	if err != nil {
		return nil, ErrInvalidCiphertext
	}
	return pt, nil
}

// DeriveSharedSecret is DeriveSharedSecret for a parsed key.
func (p *Private) DeriveSharedSecret(peerSPKI []byte) ([]byte, error) {
	if len(p.s.agreement) == 0 {
		return nil, fmt.Errorf("%w: %s cannot derive shared secrets", ErrUnsupportedSpec, p.s.name)
	}
	peer, err := parsePeerSPKI(p.s, peerSPKI)
	if err != nil {
		return nil, err
	}
	priv, err := p.std.(*ecdsa.PrivateKey).ECDH()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidKeyMaterial, p.s.name, err)
	}
	secret, err := priv.ECDH(peer)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPeerKey, err)
	}
	return secret, nil
}
