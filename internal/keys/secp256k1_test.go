package keys

import (
	"bytes"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"math/big"
	"slices"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	dcrecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// testSecp256k1PKCS8Independently parses a secp256k1 PKCS#8 with
// encoding/asn1 against RFC 5208 and RFC 5915, checks every field, and
// returns the private scalar.
func testSecp256k1PKCS8Independently(t testing.TB, der []byte) []byte {
	t.Helper()
	var pki struct {
		Version int
		Algo    struct {
			Algorithm, Curve asn1.ObjectIdentifier
		}
		PrivateKey []byte
	}
	if rest, err := asn1.Unmarshal(der, &pki); err != nil || len(rest) != 0 {
		t.Fatalf("PKCS#8: %v, %d trailing bytes", err, len(rest))
	}
	if pki.Version != 0 || !pki.Algo.Algorithm.Equal(oidECPublicKeyObj) || !pki.Algo.Curve.Equal(oidSecp256k1Test) {
		t.Fatalf("PKCS#8 header: %+v", pki)
	}
	var ec struct {
		Version    int
		PrivateKey []byte
		Params     asn1.ObjectIdentifier `asn1:"optional,explicit,tag:0"`
		PublicKey  asn1.BitString        `asn1:"optional,explicit,tag:1"`
	}
	if rest, err := asn1.Unmarshal(pki.PrivateKey, &ec); err != nil || len(rest) != 0 {
		t.Fatalf("ECPrivateKey: %v, %d trailing bytes", err, len(rest))
	}
	if ec.Version != 1 || len(ec.PrivateKey) != 32 || ec.Params != nil {
		t.Fatalf("ECPrivateKey: version %d, %d-byte key, params %v", ec.Version, len(ec.PrivateKey), ec.Params)
	}
	want := secp256k1.PrivKeyFromBytes(ec.PrivateKey).PubKey().SerializeUncompressed()
	if ec.PublicKey.BitLength != 65*8 || !bytes.Equal(ec.PublicKey.Bytes, want) {
		t.Fatalf("ECPrivateKey public key %x, want %x", ec.PublicKey.Bytes, want)
	}
	return ec.PrivateKey
}

func secp256k1PrivFromBytes(d []byte) *secp256k1.PrivateKey { return secp256k1.PrivKeyFromBytes(d) }

// secp256k1N is the group order, written out.
var secp256k1N, _ = new(big.Int).SetString("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", 16)

// k1PKCS8 builds a secp256k1 PKCS#8 by hand, with knobs for each field.
type k1PKCS8 struct {
	version, ecVersion []byte // INTEGER contents
	algOID, curveOID   []byte
	d                  []byte
	params             []byte // [0] content, nil = absent
	pub                []byte // [1] BIT STRING content, nil = absent
	attrs              []byte // trailing [0] in PrivateKeyInfo, nil = absent
}

func defaultK1(d []byte) k1PKCS8 {
	pub := secp256k1.PrivKeyFromBytes(d).PubKey().SerializeUncompressed()
	return k1PKCS8{
		version: []byte{0}, ecVersion: []byte{1},
		algOID: oidECPublicKey, curveOID: oidSecp256k1,
		d:   d,
		pub: append([]byte{0}, pub...),
	}
}

func (k k1PKCS8) der() []byte {
	ec := [][]byte{tlv(tagInteger, k.ecVersion), tlv(tagOctetString, k.d)}
	if k.params != nil {
		ec = append(ec, tlv(tagContext0, k.params))
	}
	if k.pub != nil {
		ec = append(ec, tlv(tagContext1, tlv(tagBitString, k.pub)))
	}
	parts := [][]byte{
		tlv(tagInteger, k.version),
		tlv(tagSequence, tlv(tagOID, k.algOID), tlv(tagOID, k.curveOID)),
		tlv(tagOctetString, tlv(tagSequence, ec...)),
	}
	if k.attrs != nil {
		parts = append(parts, tlv(tagContext0, k.attrs))
	}
	return tlv(tagSequence, parts...)
}

func TestSecp256k1PKCS8(t *testing.T) {
	d := mustHex(t, "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721")
	k := defaultK1(d)
	if !bytes.Equal(k.der(), marshalSecp256k1PKCS8(secp256k1.PrivKeyFromBytes(d))) {
		t.Fatal("marshalSecp256k1PKCS8 differs from the hand-built encoding")
	}
	accept := map[string]k1PKCS8{"default": k}
	v := k
	v.params = tlv(tagOID, oidSecp256k1)
	accept["with parameters"] = v
	v = k
	v.pub = nil
	accept["without public key"] = v
	for name, c := range accept {
		got, err := parseSecp256k1PKCS8(c.der())
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if b := got.Key.Bytes(); !bytes.Equal(b[:], d) {
			t.Errorf("%s: wrong scalar", name)
		}
	}

	n := secp256k1N.FillBytes(make([]byte, 32))
	nPlus1 := new(big.Int).Add(secp256k1N, big.NewInt(1)).FillBytes(make([]byte, 32))
	otherPub := secp256k1.PrivKeyFromBytes(seq(1, 32)).PubKey()
	reject := map[string]func(*k1PKCS8){
		"version 1":          func(k *k1PKCS8) { k.version = []byte{1} },
		"version 00 00":      func(k *k1PKCS8) { k.version = []byte{0, 0} },
		"ec version 0":       func(k *k1PKCS8) { k.ecVersion = []byte{0} },
		"ec version 2":       func(k *k1PKCS8) { k.ecVersion = []byte{2} },
		"P-256 curve":        func(k *k1PKCS8) { k.curveOID = oidP256 },
		"rsa algorithm":      func(k *k1PKCS8) { k.algOID = oidRSAEncryption },
		"31-byte key":        func(k *k1PKCS8) { k.d = k.d[1:]; k.pub = nil },
		"33-byte key":        func(k *k1PKCS8) { k.d = append([]byte{0}, k.d...) },
		"zero key":           func(k *k1PKCS8) { k.d = make([]byte, 32); k.pub = nil },
		"key = n":            func(k *k1PKCS8) { k.d = n; k.pub = nil },
		"key = n+1":          func(k *k1PKCS8) { k.d = nPlus1; k.pub = nil },
		"other public key":   func(k *k1PKCS8) { k.pub = append([]byte{0}, otherPub.SerializeUncompressed()...) },
		"compressed pub":     func(k *k1PKCS8) { k.pub = append([]byte{0}, otherPub.SerializeCompressed()...) },
		"pub unused bits":    func(k *k1PKCS8) { k.pub[0] = 1 },
		"pub truncated":      func(k *k1PKCS8) { k.pub = k.pub[:len(k.pub)-1] },
		"P-256 params":       func(k *k1PKCS8) { k.params = tlv(tagOID, oidP256) },
		"params not an OID":  func(k *k1PKCS8) { k.params = tlv(tagInteger, []byte{1}) },
		"PKCS#8 attributes":  func(k *k1PKCS8) { k.attrs = tlv(tagSequence) },
		"empty params [0]":   func(k *k1PKCS8) { k.params = []byte{} },
		"pub with junk [1]":  func(k *k1PKCS8) { k.pub = append(k.pub, 0) },
		"hybrid public key":  func(k *k1PKCS8) { k.pub[1] = 6 | k.pub[65]&1 },
		"negative version":   func(k *k1PKCS8) { k.version = []byte{0xff} },
		"version too large":  func(k *k1PKCS8) { k.version = []byte{0x01, 0x00} },
		"ec version as 0x81": func(k *k1PKCS8) { k.ecVersion = []byte{0x81} },
	}
	for name, f := range reject {
		c := defaultK1(d)
		f(&c)
		if _, err := parseSecp256k1PKCS8(c.der()); !errors.Is(err, ErrInvalidKeyMaterial) {
			t.Errorf("%s: parse = %v, want ErrInvalidKeyMaterial", name, err)
		}
	}
	good := k.der()
	for name, bad := range map[string][]byte{
		"trailing byte":     append(bytes.Clone(good), 0),
		"truncated":         good[:len(good)-1],
		"long-form length":  append([]byte{0x30, 0x81, good[1]}, good[2:]...),
		"indefinite length": append(append([]byte{0x30, 0x80}, good[2:]...), 0, 0),
		"empty":             {},
		"SPKI instead":      marshalSecp256k1SPKI(otherPub),
	} {
		if _, err := parseSecp256k1PKCS8(bad); !errors.Is(err, ErrInvalidKeyMaterial) {
			t.Errorf("%s: parse = %v, want ErrInvalidKeyMaterial", name, err)
		}
	}
}

func TestSecp256k1SPKI(t *testing.T) {
	d := seq(0x40, 32)
	pub := secp256k1.PrivKeyFromBytes(d).PubKey()
	want := append(mustHex(t, "3056301006072a8648ce3d020106052b8104000a034200"), pub.SerializeUncompressed()...)
	if got := marshalSecp256k1SPKI(pub); !bytes.Equal(got, want) {
		t.Fatalf("SPKI = %x\nwant   %x", got, want)
	}
}

// highS returns the DER signature (r, n-s) for a low-S signature (r, s).
func highS(t testing.TB, sig []byte) []byte {
	t.Helper()
	var v struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(sig, &v); err != nil || len(rest) != 0 {
		t.Fatal(err)
	}
	v.S.Sub(secp256k1N, v.S)
	out, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSecp256k1Malleability(t *testing.T) {
	priv := testKey(t, "ECC_SECG_P256K1")
	spki, _ := PublicKeyDER("ECC_SECG_P256K1", priv)
	msg := []byte("pay 1 BTC")
	sig, err := Sign("ECC_SECG_P256K1", "ECDSA_SHA_256", "RAW", priv, msg)
	if err != nil {
		t.Fatal(err)
	}
	hs := highS(t, sig)
	// (r, n-s) is a valid ECDSA signature (decred accepts it) ...
	pub := parsePublicIndependently(t, "ECC_SECG_P256K1", spki).(*secp256k1.PublicKey)
	ds, err := dcrecdsa.ParseDERSignature(hs)
	digest := sha256.Sum256(msg)
	if err != nil || !ds.Verify(digest[:], pub) {
		t.Fatal("the high-S twin is not a valid ECDSA signature")
	}
	// ... which Verify accepts, as X9.62 and AWS do.
	if err := Verify("ECC_SECG_P256K1", "ECDSA_SHA_256", "RAW", priv, msg, hs); err != nil {
		t.Fatalf("Verify(high-S) = %v, want nil", err)
	}
	// BER variants of the valid signature are refused too.
	r, s, _ := parseSecp256k1Signature(sig)
	rb, sb := r.Bytes(), s.Bytes()
	for name, bad := range map[string][]byte{
		"trailing garbage":  append(bytes.Clone(sig), 0x00),
		"padded r":          tlv(tagSequence, tlv(tagInteger, []byte{0}, []byte{0}, rb[:]), tlv(tagInteger, []byte{0}, sb[:])),
		"long-form length":  append([]byte{0x30, 0x81, sig[1]}, sig[2:]...),
		"indefinite length": append(append([]byte{0x30, 0x80}, sig[2:]...), 0, 0),
		"r and s swapped":   tlv(tagSequence, tlv(tagInteger, []byte{0}, sb[:]), tlv(tagInteger, []byte{0}, rb[:])),
		"negative s":        tlv(tagSequence, tlv(tagInteger, []byte{0}, rb[:]), tlv(tagInteger, []byte{0xff}, sb[:])),
		"three integers":    tlv(tagSequence, tlv(tagInteger, []byte{0}, rb[:]), tlv(tagInteger, []byte{0}, sb[:]), tlv(tagInteger, []byte{1})),
		"r = 0":             tlv(tagSequence, tlv(tagInteger, []byte{0}), tlv(tagInteger, []byte{0}, sb[:])),
		"r = n":             tlv(tagSequence, tlv(tagInteger, []byte{0}, secp256k1N.Bytes()), tlv(tagInteger, []byte{0}, sb[:])),
	} {
		if err := Verify("ECC_SECG_P256K1", "ECDSA_SHA_256", "RAW", priv, msg, bad); !errors.Is(err, ErrInvalidSignature) {
			t.Errorf("Verify(%s) = %v, want ErrInvalidSignature", name, err)
		}
	}
}

// TestSecp256k1Wycheproof runs Wycheproof's secp256k1/SHA-256 vectors of the
// "bitcoin" variant: DER strictness, range checks, arithmetic edge cases.
// That variant also marks high-S signatures invalid (flag
// SignatureMalleabilityBitcoin); Trent accepts them, as X9.62 ECDSA does.
func TestSecp256k1Wycheproof(t *testing.T) {
	type group struct {
		PublicKey struct {
			Uncompressed string `json:"uncompressed"`
		} `json:"publicKey"`
		PublicKeyDer string           `json:"publicKeyDer"`
		Sha          string           `json:"sha"`
		Tests        []wycheproofTest `json:"tests"`
	}
	n := 0
	for _, g := range loadWycheproof[group](t, "ecdsa_secp256k1_sha256_bitcoin_test") {
		if g.Sha != "SHA-256" {
			t.Fatalf("hash %s", g.Sha)
		}
		alg, params, point, ok := parseSPKI(mustHex(t, g.PublicKeyDer))
		if !ok || !bytes.Equal(alg, oidECPublicKey) || !bytes.Equal(params, tlv(tagOID, oidSecp256k1)) {
			t.Fatalf("Wycheproof SPKI %s does not parse as a secp256k1 key", g.PublicKeyDer)
		}
		if !bytes.Equal(point, mustHex(t, g.PublicKey.Uncompressed)) {
			t.Fatal("SPKI point differs from the vector's public key")
		}
		pub, err := secp256k1.ParsePubKey(point)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range g.Tests {
			n++
			digest := sha256.Sum256(mustHex(t, *tc.Msg))
			sig := mustHex(t, tc.Sig)
			err := verifySecp256k1(pub, digest[:], sig)
			result := tc.Result
			if result == "invalid" && slices.Contains(tc.Flags, "SignatureMalleabilityBitcoin") {
				result = "valid"
			}
			switch result {
			case "valid":
				if err != nil {
					t.Errorf("tcId %d (%s %v): %v", tc.TcID, tc.Comment, tc.Flags, err)
				}
			case "invalid":
				if !errors.Is(err, ErrInvalidSignature) {
					t.Errorf("tcId %d (%s %v): accepted", tc.TcID, tc.Comment, tc.Flags)
				}
			default:
				t.Fatalf("tcId %d: result %s", tc.TcID, tc.Result)
			}
			// Whatever the strict parser accepts, decred's parser reads the same way.
			if r, s, ok := parseSecp256k1Signature(sig); ok {
				ds, err := dcrecdsa.ParseDERSignature(sig)
				if err != nil {
					t.Errorf("tcId %d: accepted DER that decred refuses: %v", tc.TcID, err)
				} else if dr, dss := ds.R(), ds.S(); !dr.Equals(&r) || !dss.Equals(&s) {
					t.Errorf("tcId %d: parsers disagree", tc.TcID)
				}
			}
		}
	}
	t.Logf("%d vectors", n)
}

func TestReadUnsignedInt(t *testing.T) {
	for in, want := range map[string]string{
		"020101":     "01",
		"02020080":   "80",
		"0203008000": "8000",
		"02017f":     "7f",
	} {
		got, rest, ok := readUnsignedInt(mustHex(t, in))
		if !ok || len(rest) != 0 || hex.EncodeToString(got) != want {
			t.Errorf("%s: %x %v", in, got, ok)
		}
	}
	for _, in := range []string{"020100", "0201ff", "02020001", "0200", "0202ff80", "030101", "0201", "02810101"} {
		if _, _, ok := readUnsignedInt(mustHex(t, in)); ok {
			t.Errorf("%s accepted", in)
		}
	}
}
