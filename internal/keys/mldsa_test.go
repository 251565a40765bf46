package keys

import (
	"bytes"
	"errors"
	"testing"
)

// TestMLDSAWycheproof pins the ML-DSA key format and signing to Wycheproof's
// vectors: the PKCS#8 seed encoding, the public key derived from the seed,
// deterministic signatures (FIPS 204 with rnd = 0), verification of the
// vectors' signatures through Verify, and EXTERNAL_MU's refusal.
func TestMLDSAWycheproof(t *testing.T) {
	type group struct {
		PrivateSeed     string           `json:"privateSeed"`
		PrivateKeyPkcs8 *string          `json:"privateKeyPkcs8"`
		PublicKey       string           `json:"publicKey"`
		Tests           []wycheproofTest `json:"tests"`
	}
	for file, spec := range map[string]string{
		"mldsa_44_sign_seed_test": "ML_DSA_44",
		"mldsa_65_sign_seed_test": "ML_DSA_65",
		"mldsa_87_sign_seed_test": "ML_DSA_87",
	} {
		p := specs[spec].mldsa
		for _, g := range loadWycheproof[group](t, file) {
			seed := mustHex(t, g.PrivateSeed)
			var priv []byte
			switch {
			case g.PrivateKeyPkcs8 != nil && *g.PrivateKeyPkcs8 != "":
				priv = mustHex(t, *g.PrivateKeyPkcs8)
				if !bytes.Equal(priv, marshalMLDSAPKCS8(p, seed)) {
					t.Errorf("%s: Wycheproof's PKCS#8 differs from ours", file)
				}
			case len(seed) == mldsaSeedSize:
				priv = marshalMLDSAPKCS8(p, seed)
			default: // IncorrectPrivateKeyLength: a PKCS#8 around a seed of the wrong size is refused.
				bad := tlv(tagSequence, tlv(tagInteger, []byte{0}), tlv(tagSequence, tlv(tagOID, p.oid)),
					tlv(tagOctetString, tlv(tagContext0Raw, seed)))
				if _, err := PublicKeyDER(spec, bad); !errors.Is(err, ErrInvalidKeyMaterial) {
					t.Errorf("%s: %d-byte seed accepted: %v", file, len(seed), err)
				}
				for _, tc := range g.Tests {
					if tc.Result != "invalid" {
						t.Errorf("%s tcId %d: expected invalid", file, tc.TcID)
					}
				}
				continue
			}
			spki, err := PublicKeyDER(spec, priv)
			if err != nil {
				t.Fatal(err)
			}
			_, _, key, _ := parseSPKI(spki)
			if !bytes.Equal(key, mustHex(t, g.PublicKey)) {
				t.Fatalf("%s: public key derived from the seed differs from Wycheproof's", file)
			}
			_, sk, err := parseMLDSAPrivate(p, priv)
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range g.Tests {
				sig := mustHex(t, tc.Sig)
				if tc.Msg == nil { // an EXTERNAL_MU vector
					mu := mustHex(t, *tc.Mu)
					if _, err := Sign(spec, "ML_DSA_SHAKE_256", "EXTERNAL_MU", priv, mu); !errors.Is(err, ErrUnsupportedMessageType) {
						t.Errorf("%s tcId %d: Sign(EXTERNAL_MU) = %v", file, tc.TcID, err)
					}
					if err := Verify(spec, "ML_DSA_SHAKE_256", "EXTERNAL_MU", priv, mu, sig); !errors.Is(err, ErrUnsupportedMessageType) {
						t.Errorf("%s tcId %d: Verify(EXTERNAL_MU) = %v", file, tc.TcID, err)
					}
					continue
				}
				msg := mustHex(t, *tc.Msg)
				if tc.Result != "valid" {
					t.Fatalf("%s tcId %d: unexpected result %s", file, tc.TcID, tc.Result)
				}
				if err := Verify(spec, "ML_DSA_SHAKE_256", "RAW", priv, msg, sig); err != nil {
					t.Errorf("%s tcId %d (%v): Verify: %v", file, tc.TcID, tc.Flags, err)
				}
				if hasFlag(tc.Flags, "Randomized") {
					continue
				}
				got, err := p.sign(sk, msg, false)
				if err != nil || !bytes.Equal(got, sig) {
					t.Errorf("%s tcId %d (%v): deterministic signature differs", file, tc.TcID, tc.Flags)
				}
			}
		}
	}
}

func hasFlag(flags []string, f string) bool {
	for _, x := range flags {
		if x == f {
			return true
		}
	}
	return false
}

// TestMLDSAVerifyWycheproof runs Wycheproof's ML-DSA-44 verification vectors
// (modified signatures, bad hint encodings, norm violations, wrong lengths)
// through the SPKI parser and the verifier Verify uses.
func TestMLDSAVerifyWycheproof(t *testing.T) {
	type group struct {
		PublicKey    string           `json:"publicKey"`
		PublicKeyDer *string          `json:"publicKeyDer"`
		Tests        []wycheproofTest `json:"tests"`
	}
	p := specs["ML_DSA_44"].mldsa
	for _, g := range loadWycheproof[group](t, "mldsa_44_verify_test") {
		raw := mustHex(t, g.PublicKey)
		if g.PublicKeyDer != nil {
			alg, params, key, ok := parseSPKI(mustHex(t, *g.PublicKeyDer))
			if !ok || !bytes.Equal(alg, oidMLDSA44) || params != nil || !bytes.Equal(key, raw) {
				t.Fatalf("Wycheproof SPKI %.40s... does not parse as ML-DSA-44", *g.PublicKeyDer)
			}
			if !bytes.Equal(marshalSPKI(oidMLDSA44, nil, raw), mustHex(t, *g.PublicKeyDer)) {
				t.Fatal("our SPKI encoding differs from Wycheproof's")
			}
		}
		pub, err := p.scheme.UnmarshalBinaryPublicKey(raw)
		for _, tc := range g.Tests {
			if err != nil { // IncorrectPublicKeyLength
				if tc.Result != "invalid" {
					t.Errorf("tcId %d: public key refused: %v", tc.TcID, err)
				}
				continue
			}
			verr := p.verify(pub, mustHex(t, *tc.Msg), mustHex(t, tc.Sig))
			if (tc.Result == "valid") != (verr == nil) || (verr != nil && !errors.Is(verr, ErrInvalidSignature)) {
				t.Errorf("tcId %d (%s %v): result %s, Verify %v", tc.TcID, tc.Comment, tc.Flags, tc.Result, verr)
			}
		}
	}
}

func TestMLDSAPKCS8Strict(t *testing.T) {
	p := specs["ML_DSA_65"].mldsa
	good := marshalMLDSAPKCS8(p, seq(0, 32))
	if _, _, err := parseMLDSAPrivate(p, good); err != nil {
		t.Fatal(err)
	}
	_, expanded, _ := parseMLDSAPrivate(p, good)
	expandedBytes, _ := expanded.MarshalBinary()
	for name, bad := range map[string][]byte{
		"ML-DSA-44 OID": marshalMLDSAPKCS8(specs["ML_DSA_44"].mldsa, seq(0, 32)),
		"trailing":      append(bytes.Clone(good), 0),
		"version 1":     tlv(tagSequence, tlv(tagInteger, []byte{1}), tlv(tagSequence, tlv(tagOID, p.oid)), tlv(tagOctetString, tlv(tagContext0Raw, seq(0, 32)))),
		"NULL params":   tlv(tagSequence, tlv(tagInteger, []byte{0}), tlv(tagSequence, tlv(tagOID, p.oid), []byte{5, 0}), tlv(tagOctetString, tlv(tagContext0Raw, seq(0, 32)))),
		"seed as OCTET STRING": tlv(tagSequence, tlv(tagInteger, []byte{0}), tlv(tagSequence, tlv(tagOID, p.oid)),
			tlv(tagOctetString, tlv(tagOctetString, seq(0, 32)))),
		"expandedKey form": tlv(tagSequence, tlv(tagInteger, []byte{0}), tlv(tagSequence, tlv(tagOID, p.oid)),
			tlv(tagOctetString, tlv(tagOctetString, expandedBytes))),
		"both form": tlv(tagSequence, tlv(tagInteger, []byte{0}), tlv(tagSequence, tlv(tagOID, p.oid)),
			tlv(tagOctetString, tlv(tagSequence, tlv(tagOctetString, seq(0, 32)), tlv(tagOctetString, expandedBytes)))),
		"constructed [0]": tlv(tagSequence, tlv(tagInteger, []byte{0}), tlv(tagSequence, tlv(tagOID, p.oid)),
			tlv(tagOctetString, tlv(tagContext0, tlv(tagOctetString, seq(0, 32))))),
		"attributes": tlv(tagSequence, tlv(tagInteger, []byte{0}), tlv(tagSequence, tlv(tagOID, p.oid)),
			tlv(tagOctetString, tlv(tagContext0Raw, seq(0, 32))), tlv(tagContext0)),
		"31-byte seed": marshalMLDSAPKCS8(p, seq(0, 31)),
		"33-byte seed": marshalMLDSAPKCS8(p, seq(0, 33)),
	} {
		if _, _, err := parseMLDSAPrivate(p, bad); !errors.Is(err, ErrInvalidKeyMaterial) {
			t.Errorf("%s: %v, want ErrInvalidKeyMaterial", name, err)
		}
	}
}
