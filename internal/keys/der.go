package keys

// A minimal DER reader and writer for the few structures this package frames
// itself: SubjectPublicKeyInfo (RFC 5280), PKCS#8 PrivateKeyInfo (RFC 5208)
// with an RFC 5915 ECPrivateKey or an RFC 9881 ML-DSA seed inside, and the
// Ecdsa-Sig-Value of RFC 3279. Everything else goes through crypto/x509.
//
// The reader accepts DER only: single-byte tags, definite lengths in their
// shortest form, no more than 3 length octets. Object identifiers are compared
// as encoded bytes against the constants below, so a non-minimal encoding of
// a known OID is simply an unknown OID.

// DER tags used here.
const (
	tagInteger     = 0x02
	tagBitString   = 0x03
	tagOctetString = 0x04
	tagOID         = 0x06
	tagSequence    = 0x30
	tagContext0    = 0xa0 // [0] constructed
	tagContext1    = 0xa1 // [1] constructed
	tagContext0Raw = 0x80 // [0] primitive (IMPLICIT OCTET STRING)
)

// Encoded object identifier contents (without tag and length).
var (
	oidRSAEncryption = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01} // 1.2.840.113549.1.1.1
	oidECPublicKey   = []byte{0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01}             // 1.2.840.10045.2.1
	oidP256          = []byte{0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}       // 1.2.840.10045.3.1.7
	oidP384          = []byte{0x2b, 0x81, 0x04, 0x00, 0x22}                         // 1.3.132.0.34
	oidP521          = []byte{0x2b, 0x81, 0x04, 0x00, 0x23}                         // 1.3.132.0.35
	oidSecp256k1     = []byte{0x2b, 0x81, 0x04, 0x00, 0x0a}                         // 1.3.132.0.10
	oidMLDSA44       = []byte{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x11} // 2.16.840.1.101.3.4.3.17
	oidMLDSA65       = []byte{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x12} // 2.16.840.1.101.3.4.3.18
	oidMLDSA87       = []byte{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x13} // 2.16.840.1.101.3.4.3.19
)

// readTLV reads one DER element from the front of in. ok is false if in does
// not start with a well-formed element.
func readTLV(in []byte) (tag byte, content, rest []byte, ok bool) {
	if len(in) < 2 {
		return 0, nil, nil, false
	}
	tag = in[0]
	if tag&0x1f == 0x1f { // high-tag-number form: nothing here uses it
		return 0, nil, nil, false
	}
	n := int(in[1])
	in = in[2:]
	if n >= 0x80 {
		octets := n & 0x7f
		// 0x80 is the indefinite form (BER only); more than 3 octets would
		// describe more than 16 MiB, which nothing here needs.
		if octets == 0 || octets > 3 || len(in) < octets || in[0] == 0 {
			return 0, nil, nil, false
		}
		n = 0
		for _, b := range in[:octets] {
			n = n<<8 | int(b)
		}
		in = in[octets:]
		if n < 0x80 { // must have used the short form
			return 0, nil, nil, false
		}
	}
	if len(in) < n {
		return 0, nil, nil, false
	}
	return tag, in[:n:n], in[n:], true
}

// readExpect reads one element with tag want from the front of in.
func readExpect(in []byte, want byte) (content, rest []byte, ok bool) {
	tag, content, rest, ok := readTLV(in)
	if !ok || tag != want {
		return nil, nil, false
	}
	return content, rest, true
}

// readOnly reads exactly one element with tag want that spans all of in.
func readOnly(in []byte, want byte) (content []byte, ok bool) {
	content, rest, ok := readExpect(in, want)
	if !ok || len(rest) != 0 {
		return nil, false
	}
	return content, true
}

// readSmallInt reads a non-negative DER INTEGER that fits in a byte.
func readSmallInt(in []byte) (v byte, rest []byte, ok bool) {
	content, rest, ok := readExpect(in, tagInteger)
	if !ok || len(content) != 1 || content[0]&0x80 != 0 {
		return 0, nil, false
	}
	return content[0], rest, true
}

// readUnsignedInt reads a DER INTEGER that must be positive and returns its
// magnitude without the sign octet. It rejects negative and non-minimal
// encodings, and zero.
func readUnsignedInt(in []byte) (magnitude, rest []byte, ok bool) {
	content, rest, ok := readExpect(in, tagInteger)
	if !ok || len(content) == 0 || content[0]&0x80 != 0 {
		return nil, nil, false
	}
	if content[0] == 0 {
		if len(content) == 1 || content[1]&0x80 == 0 {
			return nil, nil, false // zero, or a redundant leading zero
		}
		content = content[1:]
	}
	return content, rest, true
}

// derLen is the size of an element with n content bytes.
func derLen(n int) int {
	switch {
	case n < 0x80:
		return 2 + n
	case n < 0x100:
		return 3 + n
	case n < 0x10000:
		return 4 + n
	default:
		return 5 + n
	}
}

// appendTLV appends one element whose content is the concatenation of parts.
func appendTLV(dst []byte, tag byte, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	dst = append(dst, tag)
	switch {
	case n < 0x80:
		dst = append(dst, byte(n))
	case n < 0x100:
		dst = append(dst, 0x81, byte(n))
	case n < 0x10000:
		dst = append(dst, 0x82, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	for _, p := range parts {
		dst = append(dst, p...)
	}
	return dst
}

// tlv returns one encoded element.
func tlv(tag byte, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	return appendTLV(make([]byte, 0, derLen(n)), tag, parts...)
}

// marshalSPKI encodes a SubjectPublicKeyInfo. params is the encoded
// parameters element, or nil for an AlgorithmIdentifier without parameters.
func marshalSPKI(algOID, params, key []byte) []byte {
	alg := tlv(tagSequence, tlv(tagOID, algOID), params)
	return tlv(tagSequence, alg, tlv(tagBitString, []byte{0}, key))
}

// parseSPKI splits a DER SubjectPublicKeyInfo into the algorithm's OID, its
// encoded parameters element (nil if absent) and the public key bits, which
// must be a whole number of octets. It performs no algorithm-specific checks.
func parseSPKI(der []byte) (algOID, params, key []byte, ok bool) {
	spki, ok := readOnly(der, tagSequence)
	if !ok {
		return nil, nil, nil, false
	}
	alg, rest, ok := readExpect(spki, tagSequence)
	if !ok {
		return nil, nil, nil, false
	}
	bits, ok := readOnly(rest, tagBitString)
	if !ok || len(bits) == 0 || bits[0] != 0 {
		return nil, nil, nil, false
	}
	algOID, rest, ok = readExpect(alg, tagOID)
	if !ok {
		return nil, nil, nil, false
	}
	if len(rest) != 0 {
		_, _, after, ok := readTLV(rest)
		if !ok || len(after) != 0 {
			return nil, nil, nil, false
		}
		params = rest
	}
	return algOID, params, bits[1:], true
}
