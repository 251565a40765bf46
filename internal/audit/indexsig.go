package audit

import (
	"crypto"
	"crypto/ecdsa"
	"encoding/binary"
	"fmt"
)

// A lookup index decides which files Lookup reads, so one planted by
// someone who can write the audit directory could hide events from
// LookupEvents while the log itself still verifies. So the index file is
// the marshalled index signed with the log's digest key (Options.Signer):
//
//	indexFileMagic, the signature's length (uint16, little-endian), the
//	signature (ECDSA P-384, ASN.1, over SHA-384 of indexDomain and the
//	marshalled index), then the marshalled index (marshal, CRC last).
//
// The marshalled index stays last, so that its Bloom filter ends four
// bytes before the file does (indexcache.go reads it there). An index
// that does not verify with the log's public key — planted, written by an
// older Trent, or under another key — is treated as missing: Lookup reads
// the file, and the indexer writes a new index.
const indexFileMagic = "trentls1"

// indexDomain separates what the digest key signs for indexes from the
// digests it signs (digestDomain).
var indexDomain = []byte("trent audit lookup index v1\n")

// maxIndexSig bounds a signature's length: an ASN.1 ECDSA P-384 signature
// is at most 104 bytes.
const maxIndexSig = 128

// signIndex returns the bytes of the index file holding body, the
// marshalled index.
func signIndex(s crypto.Signer, body []byte) ([]byte, error) {
	sig, err := signDomain(s, indexDomain, body)
	if err != nil {
		return nil, fmt.Errorf("audit: sign lookup index: %w", err)
	}
	if len(sig) > maxIndexSig {
		return nil, fmt.Errorf("audit: sign lookup index: a signature of %d bytes", len(sig))
	}
	out := make([]byte, 0, len(indexFileMagic)+2+len(sig)+len(body))
	out = append(out, indexFileMagic...)
	out = binary.LittleEndian.AppendUint16(out, uint16(len(sig)))
	out = append(out, sig...)
	return append(out, body...), nil
}

// checkIndexSignature returns the marshalled index an index file holds if
// its signature verifies with pub. The bytes are untrusted.
func checkIndexSignature(pub *ecdsa.PublicKey, data []byte) ([]byte, error) {
	head := len(indexFileMagic) + 2
	if len(data) < head || string(data[:len(indexFileMagic)]) != indexFileMagic {
		return nil, errBadIndex
	}
	n := int(binary.LittleEndian.Uint16(data[len(indexFileMagic):]))
	if n > maxIndexSig || len(data) < head+n {
		return nil, fmt.Errorf("%w: a signature of %d bytes", errBadIndex, n)
	}
	sig, body := data[head:head+n], data[head+n:]
	if pub == nil || !ecdsa.VerifyASN1(pub, domainHash(indexDomain, body), sig) {
		return nil, fmt.Errorf("%w: signature", errBadIndex)
	}
	return body, nil
}
