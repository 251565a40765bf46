package audit

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/trent-kms/trent/internal/jsonstrict"
)

// A digest file is one JSON object, {"payload": {…}, "signature": "…"}.
// The signature is ECDSA P-384 over SHA-384 of digestDomain followed by
// the payload's bytes exactly as they stand in the file — never a
// re-encoding, so no JSON canonicalisation is involved.
//
// Why ECDSA P-384 rather than Ed25519: both are approved by FIPS 186-5,
// but P-384 is what every FIPS 140-3 validated module and PKCS#11 HSM
// offers (Ed25519 support in HSMs is still patchy), so the integrator can
// later keep this key wherever it keeps the others, in FIPS mode included.
const (
	digestVersion = 1
	// SignatureAlgorithm names the digest signature as KMS names the
	// algorithm.
	SignatureAlgorithm = "ECDSA_SHA_384"
)

// digestDomain separates what this key signs from anything else it could
// ever be asked to sign.
var digestDomain = []byte("trent audit digest v1\n")

// Digest is a digest's signed payload.
type Digest struct {
	Version int    `json:"trentDigestVersion"`
	Seq     uint64 `json:"digestSeq"` // 1 for the log's first digest, then one more each time
	Time    string `json:"digestTime"`
	// Reason is why it was written: interval, rotation, open (covering
	// what a crash left uncovered), close, or request (Log.Digest).
	Reason string `json:"reason"`
	// PreviousFile and PreviousSignature chain the digests: "" in the
	// first digest of a log.
	PreviousFile      string `json:"previousDigestFile"`
	PreviousSignature string `json:"previousDigestSignature"`
	// Ranges are the events this digest covers: everything after the
	// previous digest's Head, in order, one range per file.
	Ranges []Range `json:"ranges"`
	// Head is the log position this digest covers through.
	Head Head `json:"head"`
	// Truncations are incomplete last lines Open cut off after a crash:
	// bytes whose write never completed, so no Record was acknowledged
	// for them.
	Truncations        []Truncation `json:"truncatedTails,omitempty"`
	SignatureAlgorithm string       `json:"signatureAlgorithm"`
	PublicKeySHA256    string       `json:"publicKeySha256"` // of the signer's SubjectPublicKeyInfo
	// NodeID names the node whose log this is, when several nodes share
	// one installation (PostgreSQL; see cluster.go); absent otherwise.
	NodeID string `json:"nodeId,omitempty"`
}

// Range is a run of consecutive events in one file.
type Range struct {
	File           string `json:"file"`
	StartOffset    int64  `json:"startOffset"` // of the first event's line
	EndOffset      int64  `json:"endOffset"`   // just past the last event's newline
	FirstEventSeq  uint64 `json:"firstEventSeq"`
	EventCount     uint64 `json:"eventCount"`
	FirstEventHash string `json:"firstEventHash"` // hex SHA-256 of the first line, as written
	LastEventHash  string `json:"lastEventHash"`
}

// Head is a position in the log: just after event EventSeq, whose line
// hashes to EventHash and ends at Offset in File. The head of an empty log
// is event 0 with the all-zero hash, in no file.
type Head struct {
	File      string `json:"file"`
	Offset    int64  `json:"offset"`
	EventSeq  uint64 `json:"eventSeq"`
	EventHash string `json:"eventHash"`
}

// Truncation records an incomplete line cut off a file's end.
type Truncation struct {
	File   string `json:"file"`
	Offset int64  `json:"offset"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"` // of the bytes cut off
}

type digestDoc struct {
	Payload   json.RawMessage `json:"payload"`
	Signature string          `json:"signature"`
}

func encodeDigest(payload, sig []byte) []byte {
	var b bytes.Buffer
	b.WriteString(`{"payload":`)
	b.Write(payload)
	b.WriteString(`,"signature":"`)
	b.WriteString(base64.StdEncoding.EncodeToString(sig))
	b.WriteString("\"}\n")
	return b.Bytes()
}

// domainHash is what the digest key signs for data of one kind: SHA-384
// of the kind's domain string and the data, so that a signature over one
// kind (a digest, a lookup index) is never valid for another.
func domainHash(domain, data []byte) []byte {
	h := sha512.New384()
	h.Write(domain)
	h.Write(data)
	return h.Sum(nil)
}

// signDomain signs data of the kind domain names with the digest key.
func signDomain(s crypto.Signer, domain, data []byte) ([]byte, error) {
	return s.Sign(rand.Reader, domainHash(domain, data), crypto.SHA384)
}

func signDigest(s crypto.Signer, payload []byte) ([]byte, error) {
	sig, err := signDomain(s, digestDomain, payload)
	if err != nil {
		return nil, fmt.Errorf("audit: sign digest: %w", err)
	}
	return sig, nil
}

// parsedDigest is a digest file as read back.
type parsedDigest struct {
	Digest
	payload []byte
	sig     []byte
	sigText string // base64, as the next digest quotes it
}

// parseDigest parses a digest file's bytes. It does not check the
// signature.
func parseDigest(data []byte) (*parsedDigest, error) {
	var doc digestDoc
	if err := jsonstrict.Decode(data, &doc); err != nil {
		return nil, fmt.Errorf("not a digest: %w", err)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(doc.Signature)
	if err != nil || len(sig) == 0 {
		return nil, errors.New("not a digest: signature is not base64")
	}
	p := &parsedDigest{payload: doc.Payload, sig: sig, sigText: doc.Signature}
	if err := jsonstrict.Decode(doc.Payload, &p.Digest); err != nil {
		return nil, fmt.Errorf("not a digest payload: %w", err)
	}
	if p.Version != digestVersion {
		return nil, fmt.Errorf("digest format version %d, want %d", p.Version, digestVersion)
	}
	if p.SignatureAlgorithm != SignatureAlgorithm {
		return nil, fmt.Errorf("digest signature algorithm %q, want %s", p.SignatureAlgorithm, SignatureAlgorithm)
	}
	return p, nil
}

func readDigest(path string) (*parsedDigest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseDigest(data)
}

// verifySignature reports whether the digest was signed by pub.
func (p *parsedDigest) verifySignature(pub *ecdsa.PublicKey) bool {
	return ecdsa.VerifyASN1(pub, domainHash(digestDomain, p.payload), p.sig)
}

// GenerateSigningKey returns a new audit signing key: ECDSA P-384.
func GenerateSigningKey() (crypto.Signer, error) {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("audit: generate signing key: %w", err)
	}
	return k, nil
}

// MarshalSigningKey returns the key as PKCS#8 DER, for the integrator to
// wrap under the root key; the caller clears the bytes after wrapping.
func MarshalSigningKey(s crypto.Signer) ([]byte, error) {
	if _, err := p384(s.Public()); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(s)
	if err != nil {
		return nil, fmt.Errorf("audit: marshal signing key: %w", err)
	}
	return der, nil
}

// ParseSigningKey parses PKCS#8 DER made by MarshalSigningKey.
func ParseSigningKey(der []byte) (crypto.Signer, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("audit: parse signing key: %w", err)
	}
	s, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("audit: signing key is a %T, want ECDSA P-384", k)
	}
	if _, err := p384(s.Public()); err != nil {
		return nil, err
	}
	return s, nil
}

// PublicKeyPEM returns the signer's public key as a PEM "PUBLIC KEY"
// (SubjectPublicKeyInfo), which openssl and Verify read.
func PublicKeyPEM(s crypto.Signer) ([]byte, error) {
	pub, err := p384(s.Public())
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("audit: marshal public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePublicKeyPEM parses a PEM public key as PublicKeyPEM writes it.
func ParsePublicKeyPEM(data []byte) (*ecdsa.PublicKey, error) {
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" || len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("audit: not a single PEM PUBLIC KEY block")
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("audit: parse public key: %w", err)
	}
	return p384(k)
}

// p384 returns pub as an ECDSA P-384 key, the only kind the log signs with.
func p384(pub crypto.PublicKey) (*ecdsa.PublicKey, error) {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P384() {
		return nil, fmt.Errorf("audit: signing key is %T, want ECDSA P-384", pub)
	}
	return k, nil
}

// Fingerprint is the hex SHA-256 of a public key's SubjectPublicKeyInfo
// DER, as digests name their signer.
func Fingerprint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("audit: fingerprint: %w", err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}
