package keys

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// Seed corpora for the parsers written in this package. Each seed function's
// first entry is well-formed; TestAsymmetricFuzzSeeds checks that, and that
// no corpus is empty.

// fuzzP256 is a fixed P-256 key pair for the ECDH fuzzer.
func fuzzP256(t testing.TB) (*ecdh.PrivateKey, []byte) {
	k, err := ecdh.P256().NewPrivateKey(seq(0x11, 32))
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, der
}

func peerSPKISeeds(t testing.TB) [][]byte {
	peer, err := ecdh.P256().NewPrivateKey(seq(0x60, 32))
	if err != nil {
		t.Fatal(err)
	}
	good, err := x509.MarshalPKIXPublicKey(peer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	point := peer.PublicKey().Bytes()
	p384, _ := ecdh.P384().NewPrivateKey(seq(0x30, 48))
	p384SPKI, _ := x509.MarshalPKIXPublicKey(p384.PublicKey())
	return [][]byte{
		good,
		// A Wycheproof secp256r1 peer key (ecdh_secp256r1_test.json tcId 1).
		mustHex(t, "3059301306072a8648ce3d020106082a8648ce3d0301070342000462d5bd3372af75fe85a040715d0f502428e07046868b0bfdfa61d731afe44f26ac333a93a9e70a81cd5a95b5bf8d13990eb741c8c38872b4a07d275a014e30cf"),
		append(bytes.Clone(good), 0),
		good[:len(good)-1],
		marshalSPKI(oidECPublicKey, tlv(tagOID, oidP256), append([]byte{2}, point[1:33]...)),
		marshalSPKI(oidECPublicKey, tlv(tagOID, oidSecp256k1), point),
		marshalSPKI(oidECPublicKey, nil, point),
		marshalSPKI(oidECPublicKey, tlv(tagOID, oidP256), []byte{0}),
		p384SPKI,
		{0x30, 0x80, 0x00, 0x00},
		{},
	}
}

func secp256k1PKCS8Seeds(t testing.TB) [][]byte {
	d := seq(0x21, 32)
	k := defaultK1(d)
	withParams := k
	withParams.params = tlv(tagOID, oidSecp256k1)
	noPub := k
	noPub.pub = nil
	good := k.der()
	return [][]byte{
		good,
		withParams.der(),
		noPub.der(),
		// openssl pkcs8 -topk8 of an openssl-generated secp256k1 key.
		mustHex(t, "308184020100301006072a8648ce3d020106052b8104000a046d306b0201010420953b1f8010adc5a2f40383652d26c2842673b839d816c29f83f904ffb99e7257a1440342000439276d9e69d4ae36252ff4692b6d5bc43b39c39c53e21cb84a2112bd98b56b3ffcfb02c750e0ae27d12f8aef89a3556fd87d02f5ff4bfc6a3d2d07299d635527"),
		good[:len(good)-1],
		append(bytes.Clone(good), 0),
		marshalMLDSAPKCS8(specs["ML_DSA_44"].mldsa, d),
		{},
	}
}

func secp256k1SignatureSeeds(t testing.TB) [][]byte {
	sig := signSecp256k1(secp256k1.PrivKeyFromBytes(seq(0x21, 32)), make([]byte, 32))
	return [][]byte{
		sig,
		highS(t, sig),
		append(bytes.Clone(sig), 0),
		// Wycheproof ecdsa_secp256k1_sha256_bitcoin_test.json tcId 1 (malleated).
		mustHex(t, "3046022100813ef79ccefa9a56f7ba805f0e478584fe5f0dd5f567bc09b5123ccbc9832365022100900e75ad233fcc908509dbff5922647db37c21f4afd3203ae8dc4ae7794b0f87"),
		{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01},
		{0x30, 0x00},
		{},
	}
}

func mldsaPKCS8Seeds(t testing.TB) [][]byte {
	p := specs["ML_DSA_44"].mldsa
	good := marshalMLDSAPKCS8(p, seq(0x2a, 32))
	return [][]byte{
		good,
		mustHex(t, "3034020100300b0609608648016503040311042280202a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a"),
		marshalMLDSAPKCS8(specs["ML_DSA_65"].mldsa, seq(0x2a, 32)),
		marshalMLDSAPKCS8(p, seq(0x2a, 31)),
		append(bytes.Clone(good), 0),
		{},
	}
}

func TestAsymmetricFuzzSeeds(t *testing.T) {
	for name, c := range map[string]struct {
		seeds [][]byte
		valid func([]byte) bool
	}{
		"peer SPKI": {peerSPKISeeds(t), func(b []byte) bool {
			_, priv := fuzzP256(t)
			_, err := DeriveSharedSecret("ECC_NIST_P256", priv, b)
			return err == nil
		}},
		"secp256k1 PKCS#8": {secp256k1PKCS8Seeds(t), func(b []byte) bool {
			_, err := parseSecp256k1PKCS8(b)
			return err == nil
		}},
		"secp256k1 signature": {secp256k1SignatureSeeds(t), func(b []byte) bool {
			_, _, ok := parseSecp256k1Signature(b)
			return ok
		}},
		"ML-DSA PKCS#8": {mldsaPKCS8Seeds(t), func(b []byte) bool {
			_, ok := parseMLDSASeed(specs["ML_DSA_44"].mldsa, b)
			return ok
		}},
	} {
		if len(c.seeds) == 0 {
			t.Errorf("%s: seed corpus is empty", name)
			continue
		}
		if !c.valid(c.seeds[0]) {
			t.Errorf("%s: first seed is not well-formed", name)
		}
	}
}

// FuzzDeriveSharedSecret: any peer key DeriveSharedSecret accepts is one the
// standard library parses as a P-256 key, and the secret is the standard
// library's; everything else is ErrInvalidPeerKey. Never a panic.
func FuzzDeriveSharedSecret(f *testing.F) {
	for _, s := range peerSPKISeeds(f) {
		f.Add(s)
	}
	priv, der := fuzzP256(f)
	f.Fuzz(func(t *testing.T, peer []byte) {
		got, err := DeriveSharedSecret("ECC_NIST_P256", der, peer)
		if err != nil {
			if !errors.Is(err, ErrInvalidPeerKey) {
				t.Fatalf("error %v is not ErrInvalidPeerKey", err)
			}
			return
		}
		k, perr := x509.ParsePKIXPublicKey(peer)
		if perr != nil {
			t.Fatalf("accepted a peer key crypto/x509 refuses: %v", perr)
		}
		ek, ok := k.(*ecdsa.PublicKey)
		if !ok {
			t.Fatalf("accepted a %T", k)
		}
		pub, perr := ek.ECDH()
		if perr != nil || pub.Curve() != ecdh.P256() {
			t.Fatalf("accepted a key not on P-256: %v", perr)
		}
		want, _ := priv.ECDH(pub)
		if !bytes.Equal(got, want) {
			t.Fatal("secret differs from the standard library's")
		}
	})
}

// FuzzParseSPKI: what parseSPKI accepts re-encodes to the same bytes (so it
// accepts DER only).
func FuzzParseSPKI(f *testing.F) {
	for _, s := range peerSPKISeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		alg, params, key, ok := parseSPKI(der)
		if !ok {
			return
		}
		if again := marshalSPKI(alg, params, key); !bytes.Equal(again, der) {
			t.Fatalf("re-encoded\n%x\nfrom\n%x", again, der)
		}
	})
}

// FuzzParseSecp256k1PKCS8: accepted input is a key whose canonical encoding
// parses to the same key, and whose canonical form equals the input when
// the input has the canonical shape; errors are ErrInvalidKeyMaterial.
func FuzzParseSecp256k1PKCS8(f *testing.F) {
	for _, s := range secp256k1PKCS8Seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		k, err := parseSecp256k1PKCS8(der)
		if err != nil {
			if !errors.Is(err, ErrInvalidKeyMaterial) {
				t.Fatalf("error %v is not ErrInvalidKeyMaterial", err)
			}
			return
		}
		canon := marshalSecp256k1PKCS8(k)
		k2, err := parseSecp256k1PKCS8(canon)
		if err != nil || !k2.Key.Equals(&k.Key) {
			t.Fatalf("canonical re-encoding does not round-trip: %v", err)
		}
		if len(der) == len(canon) && !bytes.Equal(der, canon) {
			// Same length means no [0] parameters and a [1] public key: the
			// canonical shape, which has one encoding per key.
			t.Fatalf("accepted a second encoding of a key:\n%x\n%x", der, canon)
		}
	})
}

// FuzzSecp256k1Signature: parseSecp256k1Signature accepts only DER (the
// values re-encode to the input) and verification never panics.
func FuzzSecp256k1Signature(f *testing.F) {
	for _, s := range secp256k1SignatureSeeds(f) {
		f.Add(s)
	}
	pub := secp256k1.PrivKeyFromBytes(seq(0x21, 32)).PubKey()
	digest := sha256.Sum256(nil)
	f.Fuzz(func(t *testing.T, sig []byte) {
		_ = verifySecp256k1(pub, digest[:], sig)
		r, s, ok := parseSecp256k1Signature(sig)
		if !ok {
			return
		}
		rb, sb := r.Bytes(), s.Bytes()
		again := tlv(tagSequence, derInt(rb[:]), derInt(sb[:]))
		if !bytes.Equal(again, sig) {
			t.Fatalf("re-encoded %x from %x", again, sig)
		}
	})
}

// derInt encodes a positive big-endian integer as a DER INTEGER.
func derInt(b []byte) []byte {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	if b[0]&0x80 != 0 {
		b = append([]byte{0}, b...)
	}
	return tlv(tagInteger, b)
}

// FuzzParseMLDSAPrivate: the ML-DSA seed parser accepts exactly the encodings
// marshalMLDSAPKCS8 writes.
func FuzzParseMLDSAPrivate(f *testing.F) {
	for _, s := range mldsaPKCS8Seeds(f) {
		f.Add(s)
	}
	p := specs["ML_DSA_44"].mldsa
	f.Fuzz(func(t *testing.T, der []byte) {
		seed, ok := parseMLDSASeed(p, der)
		if !ok {
			return
		}
		if again := marshalMLDSAPKCS8(p, seed); !bytes.Equal(again, der) {
			t.Fatalf("re-encoded %x from %x", again, der)
		}
	})
}
