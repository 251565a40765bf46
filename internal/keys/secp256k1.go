package keys

import (
	"bytes"
	"fmt"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// ECC_SECG_P256K1 keys use decred's secp256k1 arithmetic; crypto/x509 does not
// know the curve, so this file frames their PKCS#8, SPKI and signatures.
//
// PKCS#8 (RFC 5208) as written here, the shape OpenSSL and crypto/x509 use for
// EC keys:
//
//	PrivateKeyInfo ::= SEQUENCE {
//	  version             INTEGER 0,
//	  privateKeyAlgorithm SEQUENCE { id-ecPublicKey, secp256k1 },
//	  privateKey          OCTET STRING containing
//	    ECPrivateKey ::= SEQUENCE {            -- RFC 5915
//	      version    INTEGER 1,
//	      privateKey OCTET STRING (32 bytes, big-endian),
//	      publicKey  [1] BIT STRING (uncompressed point) } }
//
// The parser also accepts ECPrivateKey's optional [0] parameters if they name
// secp256k1, and a missing [1] publicKey; it refuses anything else: PKCS#8
// attributes, version-2 OneAsymmetricKey, another curve, a key of another
// length, a scalar of 0 or ≥ n, a public key that does not match.

// secp256k1PublicSize is the size of an uncompressed secp256k1 point.
const secp256k1PublicSize = 65

// secp256k1AlgID is the content of the AlgorithmIdentifier of a secp256k1 key.
var secp256k1AlgID = append(tlv(tagOID, oidECPublicKey), tlv(tagOID, oidSecp256k1)...)

func generateSecp256k1() ([]byte, error) {
	k, err := secp256k1.GeneratePrivateKey()
	if err != nil {
		return nil, fmt.Errorf("keys: generating secp256k1 key: %w", err)
	}
	return marshalSecp256k1PKCS8(k), nil
}

func marshalSecp256k1PKCS8(k *secp256k1.PrivateKey) []byte {
	d := k.Key.Bytes()
	ecPriv := tlv(tagSequence,
		tlv(tagInteger, []byte{1}),
		tlv(tagOctetString, d[:]),
		tlv(tagContext1, tlv(tagBitString, []byte{0}, k.PubKey().SerializeUncompressed())),
	)
	return tlv(tagSequence, tlv(tagInteger, []byte{0}), tlv(tagSequence, secp256k1AlgID), tlv(tagOctetString, ecPriv))
}

func marshalSecp256k1SPKI(pub *secp256k1.PublicKey) []byte {
	return marshalSPKI(oidECPublicKey, tlv(tagOID, oidSecp256k1), pub.SerializeUncompressed())
}

// parseSecp256k1PKCS8 parses the format described at the top of this file.
func parseSecp256k1PKCS8(der []byte) (*secp256k1.PrivateKey, error) {
	bad := func(why string) (*secp256k1.PrivateKey, error) {
		return nil, fmt.Errorf("%w: ECC_SECG_P256K1: %s", ErrInvalidKeyMaterial, why)
	}
	pki, ok := readOnly(der, tagSequence)
	if !ok {
		return bad("not a DER PKCS#8 structure")
	}
	version, rest, ok := readSmallInt(pki)
	if !ok || version != 0 {
		return bad("PKCS#8 version is not 0")
	}
	alg, rest, ok := readExpect(rest, tagSequence)
	if !ok || !bytes.Equal(alg, secp256k1AlgID) {
		return bad("algorithm is not id-ecPublicKey with secp256k1")
	}
	inner, ok := readOnly(rest, tagOctetString)
	if !ok {
		return bad("privateKey is not the last field")
	}
	ecPriv, ok := readOnly(inner, tagSequence)
	if !ok {
		return bad("privateKey does not hold an ECPrivateKey")
	}
	version, rest, ok = readSmallInt(ecPriv)
	if !ok || version != 1 {
		return bad("ECPrivateKey version is not 1")
	}
	d, rest, ok := readExpect(rest, tagOctetString)
	if !ok || len(d) != 32 {
		return bad("private key is not 32 bytes")
	}
	var params, pubBits []byte
	if len(rest) != 0 && rest[0] == tagContext0 {
		if params, rest, ok = readExpect(rest, tagContext0); !ok {
			return bad("malformed parameters")
		}
	}
	if len(rest) != 0 && rest[0] == tagContext1 {
		if pubBits, rest, ok = readExpect(rest, tagContext1); !ok {
			return bad("malformed public key")
		}
	}
	if len(rest) != 0 {
		return bad("unexpected fields in ECPrivateKey")
	}
	if params != nil && !bytes.Equal(params, tlv(tagOID, oidSecp256k1)) {
		return bad("ECPrivateKey parameters are not secp256k1")
	}
	var scalar secp256k1.ModNScalar
	if overflow := scalar.SetByteSlice(d); overflow || scalar.IsZero() {
		return bad("private key is not in [1, n-1]")
	}
	k := secp256k1.NewPrivateKey(&scalar)
	if pubBits != nil {
		bits, ok := readOnly(pubBits, tagBitString)
		if !ok || len(bits) != 1+secp256k1PublicSize || bits[0] != 0 ||
			!bytes.Equal(bits[1:], k.PubKey().SerializeUncompressed()) {
			return bad("public key does not match the private key")
		}
	}
	return k, nil
}

// signSecp256k1 signs a SHA-256 digest: RFC 6979 deterministic, low-S, DER.
func signSecp256k1(k *secp256k1.PrivateKey, digest []byte) []byte {
	return ecdsa.Sign(k, digest).Serialize()
}

// verifySecp256k1 verifies a DER Ecdsa-Sig-Value over a SHA-256 digest. The
// signature must be strict DER with r and s in [1, n-1]. Either S is
// accepted, as X9.62 ECDSA and AWS do: AWS's own secp256k1 signatures are
// not low-S normalised, so a verifier that demanded low-S would refuse
// signatures AWS made. (Sign always makes low-S ones.)
func verifySecp256k1(pub *secp256k1.PublicKey, digest, sig []byte) error {
	r, s, ok := parseSecp256k1Signature(sig)
	if !ok || !ecdsa.NewSignature(&r, &s).Verify(digest, pub) {
		return ErrInvalidSignature
	}
	return nil
}

// parseSecp256k1Signature parses SEQUENCE { r INTEGER, s INTEGER } in DER with
// both values in [1, n-1]. It does not check s ≤ n/2.
func parseSecp256k1Signature(sig []byte) (r, s secp256k1.ModNScalar, ok bool) {
	seq, ok := readOnly(sig, tagSequence)
	if !ok {
		return r, s, false
	}
	rb, rest, ok := readUnsignedInt(seq)
	if !ok {
		return r, s, false
	}
	sb, rest, ok := readUnsignedInt(rest)
	if !ok || len(rest) != 0 || len(rb) > 32 || len(sb) > 32 {
		return r, s, false
	}
	if r.SetByteSlice(rb) || s.SetByteSlice(sb) { // ≥ n; zero was refused by readUnsignedInt
		return r, s, false
	}
	return r, s, true
}
