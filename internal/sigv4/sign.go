package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"net/http"
	"slices"
	"strings"
	"time"
)

// signerKeys caches the signing keys Sign derives, one per (access key id,
// day, region, service), so a client that signs every request repeats the
// four-HMAC derivation once a day rather than once a request. Like the
// Verifier's cache it checks the secret on every hit, so a changed secret is
// never signed with a key derived from the old one.
var signerKeys keyCache

// Sign signs req, whose body is body, as an AWS SDK would: it sets
// X-Amz-Date to t (second precision, UTC) and Authorization to an
// AWS4-HMAC-SHA256 signature by accessKeyID with secret, scoped to region
// and service. The signed headers are host, content-type and every x-amz-*
// header the request has (x-amz-target, x-amz-security-token …); nothing
// else, so headers set later (User-Agent, Content-Length) do not break the
// signature. When the
// host carries the scheme's default port, req.Host is set without it, as the
// AWS SDKs do, so that the Host sent is the one signed.
//
// Sign is for clients of Trent (the bench command and tests). It keeps no
// reference to secret beyond a copy in its bounded signing-key cache, and is
// safe for concurrent use.
func Sign(req *http.Request, body []byte, accessKeyID string, secret []byte, region, service string, t time.Time) error {
	switch {
	case req == nil || req.URL == nil:
		return errors.New("sigv4: sign: no request or URL")
	case accessKeyID == "" || len(secret) == 0:
		return errors.New("sigv4: sign: access key id and secret are required")
	case region == "" || service == "":
		return errors.New("sigv4: sign: region and service are required")
	case strings.ContainsAny(accessKeyID, "/, \t") || strings.ContainsAny(region, "/, \t") || strings.ContainsAny(service, "/, \t"):
		// They go into the Credential parameter unescaped.
		return errors.New("sigv4: sign: access key id, region and service must not contain '/', ',' or blanks")
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	host = stripDefaultPort(req.URL.Scheme, host)
	if host == "" {
		return errors.New("sigv4: sign: request has no host")
	}
	req.Host = host
	if req.Header == nil {
		req.Header = make(http.Header)
	}

	t = t.UTC()
	amzDate := t.Format(timeFormat)
	date := amzDate[:8]
	req.Header.Set("X-Amz-Date", amzDate)

	signedHeaders := signedHeadersOf(req.Header)

	sk, fresh := signerKeys.get(accessKeyID, date, region, service, secret)
	if fresh {
		signerKeys.put(accessKeyID, date, region, service, sk)
	}
	s := getScratch()
	defer putScratch(s)

	var payloadHash [2 * sha256.Size]byte
	sum := sha256.Sum256(body)
	hex.Encode(payloadHash[:], sum[:])
	s.h.Reset()
	buf, cerr := writeCanonicalRequest(s.h, s.buf[:0], req, signedHeaders, payloadHash[:])
	if cerr != nil {
		s.buf = buf
		return errors.New("sigv4: sign: " + cerr.Message)
	}
	crHash := s.h.Sum(s.sum[:0])

	// String to sign, as Verify builds it.
	buf = buf[:0]
	buf = append(buf, Algorithm...)
	buf = append(buf, '\n')
	buf = append(buf, amzDate...)
	buf = append(buf, '\n')
	buf = appendScope(buf, date, region, service)
	buf = append(buf, '\n')
	buf = hex.AppendEncode(buf, crHash)

	mac := sk.pool.Get().(hash.Hash)
	mac.Reset()
	mac.Write(buf)
	n := len(buf)
	buf = mac.Sum(buf)
	sk.pool.Put(mac)

	// The Authorization value, after the signature in the scratch buffer.
	sig := buf[n:]
	auth := len(buf)
	buf = append(buf, Algorithm+" Credential="...)
	buf = append(buf, accessKeyID...)
	buf = append(buf, '/')
	buf = appendScope(buf, date, region, service)
	buf = append(buf, ", SignedHeaders="...)
	buf = append(buf, signedHeaders...)
	buf = append(buf, ", Signature="...)
	buf = hex.AppendEncode(buf, sig)
	req.Header.Set("Authorization", string(buf[auth:]))
	s.buf = buf
	return nil
}

// signedHeaders lists what Verify requires signed: host, the date,
// Content-Type and every x-amz-* header present (the target and any session
// token among them). The usual KMS request takes a precomputed list.
func signedHeadersOf(h http.Header) string {
	_, hasType := h["Content-Type"]
	_, hasTarget := h["X-Amz-Target"]
	amz := 0
	for k := range h {
		if len(k) >= 6 && strings.EqualFold(k[:6], "x-amz-") {
			amz++
		}
	}
	switch {
	case amz == 2 && hasTarget && hasType: // x-amz-date and x-amz-target
		return "content-type;host;x-amz-date;x-amz-target"
	case amz == 1 && hasType:
		return "content-type;host;x-amz-date"
	case amz == 2 && hasTarget:
		return "host;x-amz-date;x-amz-target"
	case amz == 1:
		return "host;x-amz-date"
	}
	names := []string{"host"}
	for k := range h {
		lk := strings.ToLower(k)
		if lk == "content-type" || strings.HasPrefix(lk, "x-amz-") {
			names = append(names, lk)
		}
	}
	slices.Sort(names)
	return strings.Join(names, ";")
}

// appendScope appends the credential scope date/region/service/aws4_request.
func appendScope(buf []byte, date, region, service string) []byte {
	buf = append(buf, date...)
	buf = append(buf, '/')
	buf = append(buf, region...)
	buf = append(buf, '/')
	buf = append(buf, service...)
	buf = append(buf, '/')
	return append(buf, Terminator...)
}

// stripDefaultPort removes ":80" from an http host and ":443" from an https
// one, as the AWS SDKs do before signing.
func stripDefaultPort(scheme, host string) string {
	var port string
	switch strings.ToLower(scheme) {
	case "http":
		port = ":80"
	case "https":
		port = ":443"
	default:
		return host
	}
	if h, ok := strings.CutSuffix(host, port); ok && (!strings.Contains(h, ":") || strings.HasSuffix(h, "]")) {
		return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	}
	return host
}
