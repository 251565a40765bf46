package keys

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"math/big"
	"strings"
	"testing"
)

var nistCurves = map[string]ecdh.Curve{
	"ECC_NIST_P256": ecdh.P256(),
	"ECC_NIST_P384": ecdh.P384(),
	"ECC_NIST_P521": ecdh.P521(),
}

func TestDeriveSharedSecret(t *testing.T) {
	for spec, curve := range nistCurves {
		t.Run(spec, func(t *testing.T) {
			priv := testKey(t, spec)
			ourSPKI, err := PublicKeyDER(spec, priv)
			if err != nil {
				t.Fatal(err)
			}
			peer, err := curve.GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			peerSPKI, err := x509.MarshalPKIXPublicKey(peer.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			got, err := DeriveSharedSecret(spec, priv, peerSPKI)
			if err != nil {
				t.Fatal(err)
			}
			// The peer's side, with the standard library only.
			ours, err := x509.ParsePKIXPublicKey(ourSPKI)
			if err != nil {
				t.Fatal(err)
			}
			ourECDH, err := ours.(*ecdsa.PublicKey).ECDH()
			if err != nil {
				t.Fatal(err)
			}
			want, err := peer.ECDH(ourECDH)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("shared secrets differ:\n%x\n%x", got, want)
			}
			if wantLen := map[string]int{"ECC_NIST_P256": 32, "ECC_NIST_P384": 48, "ECC_NIST_P521": 66}[spec]; len(got) != wantLen {
				t.Fatalf("secret is %d bytes, want %d", len(got), wantLen)
			}

			for name, bad := range badPeerKeys(t, spec, peerSPKI) {
				if _, err := DeriveSharedSecret(spec, priv, bad); !errors.Is(err, ErrInvalidPeerKey) {
					t.Errorf("peer %s: %v, want ErrInvalidPeerKey", name, err)
				}
			}
		})
	}
	p256 := testKey(t, "ECC_NIST_P256")
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	peerSPKI, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
	for _, spec := range []string{"RSA_2048", "ECC_SECG_P256K1", "ECC_NIST_EDWARDS25519", "ML_DSA_44", "HMAC_256", "SYMMETRIC_DEFAULT", "SM2", "bogus"} {
		if _, err := DeriveSharedSecret(spec, p256, peerSPKI); !errors.Is(err, ErrUnsupportedSpec) {
			t.Errorf("DeriveSharedSecret(%s) = %v, want ErrUnsupportedSpec", spec, err)
		}
	}
	if _, err := DeriveSharedSecret("ECC_NIST_P384", p256, peerSPKI); !errors.Is(err, ErrInvalidKeyMaterial) {
		t.Errorf("P-384 spec with P-256 material: %v", err)
	}
}

// badPeerKeys returns malformed or mismatched peer keys for spec, derived from
// the good SPKI good.
func badPeerKeys(t testing.TB, spec string, good []byte) map[string][]byte {
	t.Helper()
	k, err := x509.ParsePKIXPublicKey(good)
	if err != nil {
		t.Fatal(err)
	}
	pub := k.(*ecdsa.PublicKey)
	point, _ := pub.Bytes()
	size := (len(point) - 1) / 2
	compressed := append([]byte{2 | point[len(point)-1]&1}, point[1:1+size]...)
	offCurve := bytes.Clone(point)
	offCurve[len(offCurve)-1] ^= 1
	// An x-coordinate equal to the field prime is not a field element.
	xIsP := append(append([]byte{4}, pub.Curve.Params().P.FillBytes(make([]byte, size))...), point[1+size:]...)
	curveParams := tlv(tagOID, map[string][]byte{"ECC_NIST_P256": oidP256, "ECC_NIST_P384": oidP384, "ECC_NIST_P521": oidP521}[spec])
	otherCurve := map[string]string{"ECC_NIST_P256": "ECC_NIST_P384", "ECC_NIST_P384": "ECC_NIST_P521", "ECC_NIST_P521": "ECC_NIST_P256"}[spec]
	other, _ := nistCurves[otherCurve].GenerateKey(rand.Reader)
	otherSPKI, _ := x509.MarshalPKIXPublicKey(other.PublicKey())
	otherWithOurOID := marshalSPKI(oidECPublicKey, curveParams, other.PublicKey().Bytes())
	k1 := marshalSecp256k1SPKI(secp256k1PrivFromBytes(seq(9, 32)).PubKey())
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	edSPKI, _ := x509.MarshalPKIXPublicKey(edPub)
	rsaSPKI, _ := PublicKeyDER("RSA_2048", testKey(t, "RSA_2048"))
	return map[string][]byte{
		"empty":                   {},
		"trailing byte":           append(bytes.Clone(good), 0),
		"truncated":               good[:len(good)-1],
		"long-form outer length":  append([]byte{0x30, 0x81, good[1]}, good[2:]...),
		"bare point":              point,
		"compressed point":        marshalSPKI(oidECPublicKey, curveParams, compressed),
		"point not on curve":      marshalSPKI(oidECPublicKey, curveParams, offCurve),
		"point at infinity":       marshalSPKI(oidECPublicKey, curveParams, []byte{0}),
		"x = p":                   marshalSPKI(oidECPublicKey, curveParams, xIsP),
		"empty point":             marshalSPKI(oidECPublicKey, curveParams, nil),
		"no curve":                marshalSPKI(oidECPublicKey, nil, point),
		"NULL params":             marshalSPKI(oidECPublicKey, []byte{5, 0}, point),
		"params and junk":         marshalSPKI(oidECPublicKey, append(bytes.Clone(curveParams), 5, 0), point),
		"rsaEncryption algorithm": marshalSPKI(oidRSAEncryption, curveParams, point),
		"unused bits":             append(good[:len(good)-len(point)-1], append([]byte{1}, point...)...),
		"other curve":             otherSPKI,
		"other curve, our OID":    otherWithOurOID,
		"secp256k1":               k1,
		"Ed25519":                 edSPKI,
		"RSA":                     rsaSPKI,
	}
}

// TestECDHWycheproof runs Wycheproof's ECDH vectors with SPKI-encoded peer
// keys: valid shared secrets, and invalid or unusual encodings (explicit
// curve parameters, compressed points, wrong curves, invalid-curve points).
// "acceptable" vectors may be refused; if one is accepted its secret must
// match.
func TestECDHWycheproof(t *testing.T) {
	type group struct {
		Curve    string           `json:"curve"`
		Encoding string           `json:"encoding"`
		Tests    []wycheproofTest `json:"tests"`
	}
	for file, spec := range map[string]string{
		"ecdh_secp256r1_test": "ECC_NIST_P256",
		"ecdh_secp384r1_test": "ECC_NIST_P384",
		"ecdh_secp521r1_test": "ECC_NIST_P521",
	} {
		curve := nistCurves[spec]
		size := map[string]int{"ECC_NIST_P256": 32, "ECC_NIST_P384": 48, "ECC_NIST_P521": 66}[spec]
		for _, g := range loadWycheproof[group](t, file) {
			if g.Encoding != "asn" {
				t.Fatalf("%s: encoding %s", file, g.Encoding)
			}
			for _, tc := range g.Tests {
				// Wycheproof's private keys are minimal big-endian integers.
				d := new(big.Int).SetBytes(mustHex(t, tc.Private)).FillBytes(make([]byte, size))
				k, err := curve.NewPrivateKey(d)
				if err != nil {
					t.Fatalf("%s tcId %d: private key: %v", file, tc.TcID, err)
				}
				priv, err := x509.MarshalPKCS8PrivateKey(k)
				if err != nil {
					t.Fatal(err)
				}
				got, err := DeriveSharedSecret(spec, priv, mustHex(t, tc.Public))
				name := file + " tcId " + itoa(tc.TcID) + " (" + tc.Comment + " " + strings.Join(tc.Flags, ",") + ")"
				switch tc.Result {
				case "valid":
					if err != nil || !bytes.Equal(got, mustHex(t, tc.Shared)) {
						t.Errorf("%s: %x, %v", name, got, err)
					}
				case "invalid":
					if !errors.Is(err, ErrInvalidPeerKey) {
						t.Errorf("%s: accepted (%v)", name, err)
					}
				case "acceptable":
					if err == nil && !bytes.Equal(got, mustHex(t, tc.Shared)) {
						t.Errorf("%s: wrong secret", name)
					} else if err != nil && !errors.Is(err, ErrInvalidPeerKey) {
						t.Errorf("%s: %v", name, err)
					}
				}
			}
		}
	}
}

func itoa(i int) string { return big.NewInt(int64(i)).String() }
