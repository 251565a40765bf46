package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
)

// RSA, NIST ECDSA and Ed25519 keys are handled by the standard library: its
// PKCS#8 and SPKI encoders, signers and verifiers.

func generateECDSA(s *specInfo) ([]byte, error) {
	k, err := ecdsa.GenerateKey(s.curve, rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("keys: generating %s key: %w", s.name, err)
	}
	return x509.MarshalPKCS8PrivateKey(k)
}

func generateEd25519() ([]byte, error) {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("keys: generating Ed25519 key: %w", err)
	}
	return x509.MarshalPKCS8PrivateKey(k)
}

// parseStdPrivate parses the PKCS#8 material of an RSA, NIST EC or Ed25519
// spec and checks that it is a key of that spec: an RSA key of the spec's
// modulus size, an ECDSA key on the spec's curve, an Ed25519 key.
func parseStdPrivate(s *specInfo, der []byte) (crypto.Signer, error) {
	// crypto/x509 ignores bytes after the PrivateKeyInfo; stored material
	// with trailing data is not what GeneratePrivate wrote.
	if _, ok := readOnly(der, tagSequence); !ok {
		return nil, fmt.Errorf("%w: %s: not a DER PKCS#8 structure", ErrInvalidKeyMaterial, s.name)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidKeyMaterial, s.name, err)
	}
	switch s.family {
	case famRSA:
		if rk, ok := k.(*rsa.PrivateKey); ok && rk.N.BitLen() == s.rsaBits {
			return rk, nil
		}
	case famECDSA:
		if ek, ok := k.(*ecdsa.PrivateKey); ok && ek.Curve == s.curve {
			return ek, nil
		}
	case famEd25519:
		if ek, ok := k.(ed25519.PrivateKey); ok {
			return ek, nil
		}
	}
	return nil, fmt.Errorf("%w: %s: PKCS#8 holds a %T of another kind or size", ErrInvalidKeyMaterial, s.name, k)
}

func marshalStdPublic(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("keys: encoding public key: %w", err)
	}
	return der, nil
}

// signStd signs input (see signingInput) with an RSA, NIST ECDSA or Ed25519
// key.
func signStd(a sigAlg, k crypto.Signer, input []byte) ([]byte, error) {
	var (
		sig []byte
		err error
	)
	switch a.kind {
	case kindPKCS1:
		sig, err = rsa.SignPKCS1v15(rand.Reader, k.(*rsa.PrivateKey), a.hash, input)
	case kindPSS:
		sig, err = rsa.SignPSS(rand.Reader, k.(*rsa.PrivateKey), a.hash, input,
			&rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case kindECDSA:
		sig, err = ecdsa.SignASN1(rand.Reader, k.(*ecdsa.PrivateKey), input)
	case kindEd25519:
		sig = ed25519.Sign(k.(ed25519.PrivateKey), input)
	case kindEd25519ph:
		sig, err = k.(ed25519.PrivateKey).Sign(nil, input, &ed25519.Options{Hash: crypto.SHA512})
	default:
		return nil, fmt.Errorf("%w: algorithm kind %d", ErrAlgorithmSpecMismatch, a.kind)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: signing: %w", err)
	}
	return sig, nil
}

// verifyStd verifies sig over input (see signingInput) with an RSA, NIST
// ECDSA or Ed25519 public key: nil or ErrInvalidSignature. PSS requires the
// salt length to equal the hash length.
func verifyStd(a sigAlg, pub crypto.PublicKey, input, sig []byte) error {
	ok := false
	switch a.kind {
	case kindPKCS1, kindPSS:
		rk, isRSA := pub.(*rsa.PublicKey)
		if !isRSA {
			return fmt.Errorf("%w: %T for an RSA algorithm", ErrInvalidKeyMaterial, pub)
		}
		if a.kind == kindPKCS1 {
			ok = rsa.VerifyPKCS1v15(rk, a.hash, input, sig) == nil
		} else {
			ok = rsa.VerifyPSS(rk, a.hash, input, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
		}
	case kindECDSA:
		ek, isEC := pub.(*ecdsa.PublicKey)
		if !isEC {
			return fmt.Errorf("%w: %T for ECDSA", ErrInvalidKeyMaterial, pub)
		}
		ok = ecdsa.VerifyASN1(ek, input, sig)
	case kindEd25519, kindEd25519ph:
		ek, isEd := pub.(ed25519.PublicKey)
		if !isEd || len(ek) != ed25519.PublicKeySize {
			return fmt.Errorf("%w: %T for Ed25519", ErrInvalidKeyMaterial, pub)
		}
		if a.kind == kindEd25519 {
			ok = ed25519.Verify(ek, input, sig)
		} else {
			ok = ed25519.VerifyWithOptions(ek, input, sig, &ed25519.Options{Hash: crypto.SHA512}) == nil
		}
	default:
		return fmt.Errorf("%w: algorithm kind %d", ErrAlgorithmSpecMismatch, a.kind)
	}
	if !ok {
		return ErrInvalidSignature
	}
	return nil
}

// DeriveSharedSecret performs ECDH (SP 800-56A's primitive, as AWS's
// DeriveSharedSecret with KeyAgreementAlgorithm ECDH) between the private key
// of an ECC_NIST_P256/P384/P521 key and a peer public key, and returns the
// raw shared secret: the x-coordinate of the shared point, 32, 48 or 66
// bytes. The secret is secret; it is the caller's to hand to the requester.
//
// peerSPKI must be a DER SubjectPublicKeyInfo with id-ecPublicKey, the named
// curve of the private key (no explicit parameters), and an uncompressed point
// on that curve; anything else — BER, trailing data, another curve, a
// compressed or off-curve point, the point at infinity — is
// ErrInvalidPeerKey. Other specs are ErrUnsupportedSpec.
func DeriveSharedSecret(spec string, private, peerSPKI []byte) ([]byte, error) {
	s, err := lookupSpec(spec)
	if err != nil {
		return nil, err
	}
	if len(s.agreement) == 0 {
		return nil, fmt.Errorf("%w: %s cannot derive shared secrets", ErrUnsupportedSpec, spec)
	}
	p, err := parsePrivate(s, private)
	if err != nil {
		return nil, err
	}
	return p.DeriveSharedSecret(peerSPKI)
}

// parsePeerSPKI parses a peer's EC public key on the curve of spec s.
func parsePeerSPKI(s *specInfo, der []byte) (*ecdh.PublicKey, error) {
	alg, params, point, ok := parseSPKI(der)
	if !ok {
		return nil, fmt.Errorf("%w: not a DER SubjectPublicKeyInfo", ErrInvalidPeerKey)
	}
	if !bytes.Equal(alg, oidECPublicKey) {
		return nil, fmt.Errorf("%w: not an elliptic curve key", ErrInvalidPeerKey)
	}
	if !bytes.Equal(params, tlv(tagOID, s.curveOID)) {
		return nil, fmt.Errorf("%w: not a key on the curve of %s", ErrInvalidPeerKey, s.name)
	}
	pub, err := s.ecdh.NewPublicKey(point)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPeerKey, err)
	}
	return pub, nil
}
