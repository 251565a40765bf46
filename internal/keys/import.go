package keys

import (
	"crypto/aes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
)

// Imported key material (BYOK). A caller wraps its material to a wrapping
// RSA key Trent made (GetParametersForImport) with one of AWS's wrapping
// algorithms; UnwrapImported undoes that, and ImportedMaterial checks the
// result against the key spec and returns it in the format the rest of
// this package expects (asymmetric.go), so imported keys are stored and
// used exactly like generated ones.
//
// What AWS requires of imported material, and what is accepted here:
//
//	SYMMETRIC_DEFAULT      exactly 32 bytes
//	HMAC_224/256/384/512   28–64 / 32–64 / 48–128 / 64–128 bytes
//	RSA_*, ECC_NIST_*,     the private key as DER PKCS#8 PrivateKeyInfo; RSA of the
//	ECC_NIST_EDWARDS25519, spec's modulus size and consistent (crypto/rsa validates
//	ECC_SECG_P256K1        the CRT values); an EC key on the spec's curve whose
//	                       embedded public key, if any, is a point on the curve
//	                       and matches the private scalar
//	ML_DSA_44/65/87        PKCS#8 with the 32-byte seed (RFC 9881 seed-only form)
//
// Material that fails these checks is ErrInvalidKeyMaterial; a wrapped value
// that does not unwrap is ErrUnwrap.

// Wrapping algorithms of GetParametersForImport that Trent offers.
const (
	WrapOAEPSHA1       = "RSAES_OAEP_SHA_1"
	WrapOAEPSHA256     = "RSAES_OAEP_SHA_256"
	WrapRSAAESKWSHA1   = "RSA_AES_KEY_WRAP_SHA_1"
	WrapRSAAESKWSHA256 = "RSA_AES_KEY_WRAP_SHA_256"
)

// ErrUnwrap: the encrypted key material does not decrypt under the
// wrapping key with the algorithm (AWS: InvalidCiphertextException).
var ErrUnwrap = errors.New("keys: encrypted key material does not unwrap")

// kwpIV is RFC 5649's alternative initial value (the high 32 bits).
const kwpIV = 0xA65959A6

// UnwrapImported decrypts EncryptedKeyMaterial with the wrapping private key:
// RSAES_OAEP_SHA_1/256 is RSAES-OAEP of the material (MGF1 with the same
// hash); RSA_AES_KEY_WRAP_SHA_1/256 is, as PKCS#11's CKM_RSA_AES_KEY_WRAP
// and AWS's openssl recipe make it, RSAES-OAEP of an ephemeral AES key (the
// first modulus-length bytes) followed by AES key wrap with padding
// (RFC 5649) of the material under that key. The result is secret.
func UnwrapImported(algorithm string, wrapping *rsa.PrivateKey, wrapped []byte) ([]byte, error) {
	var h func() hash.Hash
	switch algorithm {
	case WrapOAEPSHA1, WrapRSAAESKWSHA1:
		h = sha1.New
	case WrapOAEPSHA256, WrapRSAAESKWSHA256:
		h = sha256.New
	default:
		return nil, fmt.Errorf("%w: wrapping algorithm %q", ErrUnsupportedSpec, algorithm)
	}
	k := wrapping.Size()
	if algorithm == WrapOAEPSHA1 || algorithm == WrapOAEPSHA256 {
		if len(wrapped) != k {
			return nil, fmt.Errorf("%w: %d bytes, want %d", ErrUnwrap, len(wrapped), k)
		}
		m, err := rsa.DecryptOAEP(h(), nil, wrapping, wrapped, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnwrap, err)
		}
		return m, nil
	}
	if len(wrapped) < k+16 {
		return nil, fmt.Errorf("%w: %d bytes is too short for %s", ErrUnwrap, len(wrapped), algorithm)
	}
	kek, err := rsa.DecryptOAEP(h(), nil, wrapping, wrapped[:k], nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnwrap, err)
	}
	defer clear(kek)
	return UnwrapKWP(kek, wrapped[k:])
}

// UnwrapKWP is AES key unwrap with padding (RFC 5649) under kek (16, 24 or
// 32 bytes). Every failure is ErrUnwrap.
func UnwrapKWP(kek, c []byte) ([]byte, error) {
	if len(c) < 16 || len(c)%8 != 0 {
		return nil, fmt.Errorf("%w: wrapped length %d is not a multiple of 8 of at least 16", ErrUnwrap, len(c))
	}
	b, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnwrap, err)
	}
	n := len(c)/8 - 1
	out := make([]byte, 8*n)
	var a uint64
	if n == 1 {
		var blk [16]byte
		b.Decrypt(blk[:], c)
		a = binary.BigEndian.Uint64(blk[:8])
		copy(out, blk[8:])
		clear(blk[:])
	} else {
		// RFC 3394 §2.2.2, index-based.
		a = binary.BigEndian.Uint64(c[:8])
		copy(out, c[8:])
		var blk [16]byte
		for j := 5; j >= 0; j-- {
			for i := n; i >= 1; i-- {
				t := uint64(n*j + i)
				binary.BigEndian.PutUint64(blk[:8], a^t)
				copy(blk[8:], out[8*(i-1):8*i])
				b.Decrypt(blk[:], blk[:])
				a = binary.BigEndian.Uint64(blk[:8])
				copy(out[8*(i-1):8*i], blk[8:])
			}
		}
		clear(blk[:])
	}
	mli := int(uint32(a))
	pad := 8*n - mli
	ok := subtle.ConstantTimeEq(int32(uint32(a>>32)^kwpIV), 0)
	if ok != 1 || mli == 0 || pad < 0 || pad > 7 {
		clear(out)
		return nil, fmt.Errorf("%w: integrity check failed", ErrUnwrap)
	}
	for _, z := range out[mli:] {
		if z != 0 {
			clear(out)
			return nil, fmt.Errorf("%w: integrity check failed", ErrUnwrap)
		}
	}
	return out[:mli], nil
}

// ImportedMaterial checks unwrapped material against a key spec, as the
// table above says, and returns it in the stored format of that spec (a
// fresh slice for asymmetric keys; material itself for symmetric and HMAC
// keys). Errors wrap ErrInvalidKeyMaterial (or ErrUnsupportedSpec).
func ImportedMaterial(spec string, material []byte) ([]byte, error) {
	s, err := lookupSpec(spec)
	if err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) ([]byte, error) {
		return nil, fmt.Errorf("%w: %s: %s", ErrInvalidKeyMaterial, spec, fmt.Sprintf(format, args...))
	}
	switch s.family {
	case famSymmetric:
		if len(material) != SymmetricKeySize {
			return bad("%d bytes, want %d", len(material), SymmetricKeySize)
		}
		return material, nil
	case famHMAC:
		if len(material) < s.hmac.size || len(material) > s.hmac.maxKey {
			return bad("%d bytes, want %d to %d", len(material), s.hmac.size, s.hmac.maxKey)
		}
		return material, nil
	case famRSA, famECDSA, famEd25519:
		k, err := parseStdPrivate(s, material)
		if err != nil {
			return nil, err
		}
		switch k := k.(type) {
		case *rsa.PrivateKey:
			if err := k.Validate(); err != nil {
				return bad("RSA key is not consistent: %v", err)
			}
		case *ecdsa.PrivateKey:
			if err := checkEmbeddedPublic(s, k, material); err != nil {
				return nil, err
			}
		}
		return x509.MarshalPKCS8PrivateKey(k)
	case famSecp256k1:
		k, err := parseSecp256k1PKCS8(material)
		if err != nil {
			return nil, err
		}
		return marshalSecp256k1PKCS8(k), nil
	case famMLDSA:
		seed, ok := parseMLDSASeed(s.mldsa, material)
		if !ok {
			return bad("not a PKCS#8 seed-only ML-DSA key of this parameter set")
		}
		return marshalMLDSAPKCS8(s.mldsa, seed), nil
	}
	return nil, fmt.Errorf("%w: %s cannot be imported", ErrUnsupportedSpec, spec)
}

// checkEmbeddedPublic checks the optional public key inside an RFC 5915
// ECPrivateKey: crypto/x509 ignores it, but material whose public half is
// off the curve or belongs to another key is not a key pair.
func checkEmbeddedPublic(s *specInfo, k *ecdsa.PrivateKey, der []byte) error {
	var pki struct {
		Version    int
		Algorithm  pkix.AlgorithmIdentifier
		PrivateKey []byte
	}
	if _, err := asn1.Unmarshal(der, &pki); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalidKeyMaterial, s.name, err)
	}
	var ec struct {
		Version    int
		PrivateKey []byte
		Curve      asn1.ObjectIdentifier `asn1:"optional,explicit,tag:0"`
		PublicKey  asn1.BitString        `asn1:"optional,explicit,tag:1"`
	}
	if _, err := asn1.Unmarshal(pki.PrivateKey, &ec); err != nil {
		return fmt.Errorf("%w: %s: ECPrivateKey: %v", ErrInvalidKeyMaterial, s.name, err)
	}
	if ec.PublicKey.BitLength == 0 {
		return nil
	}
	pub, err := s.ecdh.NewPublicKey(ec.PublicKey.Bytes)
	if err != nil {
		return fmt.Errorf("%w: %s: embedded public key is not a point on the curve: %v", ErrInvalidKeyMaterial, s.name, err)
	}
	priv, err := k.ECDH()
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalidKeyMaterial, s.name, err)
	}
	if !priv.PublicKey().Equal(pub) {
		return fmt.Errorf("%w: %s: embedded public key does not match the private key", ErrInvalidKeyMaterial, s.name)
	}
	return nil
}

// ImportedMaterialID is the KeyMaterialId of imported material: AWS derives
// it from the key and the material ("based on the KMS key ID and the
// imported key material"), so importing the same material again gives the
// same id and different material a different one. It is SHA-256 over a
// label, the key id and the material in its stored form: one-way, and
// every material here is a secret of at least 224 bits, so it reveals
// nothing a guess could confirm.
func ImportedMaterialID(keyID string, stored []byte) string {
	h := sha256.New()
	h.Write([]byte("trent/imported-key-material-id/v1\x00"))
	h.Write([]byte(keyID))
	h.Write([]byte{0})
	h.Write(stored)
	return hex.EncodeToString(h.Sum(nil))
}
