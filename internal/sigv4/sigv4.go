// Package sigv4 authenticates incoming AWS JSON-protocol requests signed with
// AWS Signature Version 4 (AWS4-HMAC-SHA256 in the Authorization header). A
// Verifier recomputes the signature from the request, its body and the secret
// that its Lookup returns for the access key id, and answers with the caller's
// Credential or an *apierr.Error worded as AWS words it.
//
// It never puts a secret, a derived key or anything computed from the request
// body (the canonical request holds the body's hash) into an error or a log:
// the messages it returns echo only what the caller sent. It never accepts an
// unsigned payload: the body is always hashed and must match the signature.
// Query-string (presigned) authentication is rejected. A session token
// (X-Amz-Security-Token) is accepted only through Verifier.LookupSession,
// which resolves the temporary credentials STS issued.
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/identity"
)

// DefaultMaxSkew is the clock skew AWS allows between a request's X-Amz-Date
// and the server's clock.
const DefaultMaxSkew = 5 * time.Minute

// timeFormat is the ISO 8601 basic format of X-Amz-Date.
const timeFormat = "20060102T150405Z"

// Credential is what a Lookup returns for an access key id.
type Credential struct {
	AccessKeyID  string
	Secret       []byte // the secret access key; never logged, never in an error
	Account      string
	PrincipalARN string
	// Caller is who the key belongs to, as the layers after authentication
	// see it; nil when the lookup does not know more than the fields above.
	Caller *identity.Caller
}

// Auth is what a successful Verify returns: the credential that signed the
// request and the credential scope it was signed for. The scope's region is
// the request's region, and its service says which API is being called.
type Auth struct {
	*Credential
	Region  string
	Service string
}

// ErrExpiredToken is what a LookupSession returns for a session token whose
// credentials have expired; the verifier answers it with AWS's
// ExpiredTokenException instead of an unrecognized client.
var ErrExpiredToken = errors.New("sigv4: session token expired")

// ErrUnknownCredential is what LookupKey and LookupSession return for an
// access key or session token that names no valid credential; the verifier
// answers it as AWS answers an unknown key. Any other error is a failure to
// look (a store that cannot be read): the verifier answers it as an
// internal error, so a broken store never reads as a bad signature.
var ErrUnknownCredential = errors.New("sigv4: unknown credential")

// Verifier checks SigV4 Authorization headers. Safe for concurrent use once
// its exported fields are set; do not copy a Verifier after first use.
type Verifier struct {
	// Region is the one region accepted in the credential scope; "" accepts
	// every well-formed region name, as one Trent serves every region.
	Region string
	// Service is the service the scope must name ("kms"); Services, if not
	// empty, lists several instead (the Query endpoint takes "iam" and
	// "sts").
	Service  string
	Services []string
	Now      func() time.Time // injectable clock; nil = time.Now
	MaxSkew  time.Duration    // 0 = 5 minutes
	// Lookup returns the credential for an access key id, or false if there is
	// none. It is called once per request that gets that far, and must be safe
	// for concurrent use. The returned Secret is read, never modified or kept
	// beyond a copy in the signing-key cache.
	Lookup func(accessKeyID string) (*Credential, bool)
	// LookupKey, if set, is used instead of Lookup: it returns
	// ErrUnknownCredential for an unknown key and any other error for a
	// failure to look it up.
	LookupKey func(accessKeyID string) (*Credential, error)
	// LookupSession resolves temporary credentials: an access key id sent
	// with an X-Amz-Security-Token. It returns ErrExpiredToken for expired
	// credentials and any other error for unknown or invalid ones. nil
	// refuses every session token.
	LookupSession func(accessKeyID, sessionToken string) (*Credential, error)

	keys keyCache
}

// Messages AWS sends verbatim. The wording of each is taken from AWS
// responses (see the package tests for where each comes from).
const (
	msgMissingToken = "Missing Authentication Token"
	msgInvalidToken = "The security token included in the request is invalid."
	msgExpiredToken = "The security token included in the request is expired"
	msgMismatch     = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgHostNotSigned = "'Host' must be a 'SignedHeader' in the AWS Authorization."
)

// Verify authenticates r, whose body has already been read into body.
// It returns the caller's credential and scope, or an *apierr.Error.
func (v *Verifier) Verify(r *http.Request, body []byte) (Auth, error) {
	var c Checked
	if err := v.Check(r, &c); err != nil {
		return Auth{}, err
	}
	return v.VerifyChecked(r, body, &c)
}

// Checked is a request whose headers Check accepted: everything a
// signature is checked against but the body.
type Checked struct {
	a          authParts
	cred       *Credential
	rawDate    string
	dateHeader string
	t          time.Time
}

// Check does everything Verify does that needs no body: the Authorization
// header's form, the request time, the credential scope and the
// credential's lookup. A server calls it before it reads a body, so that
// a client with no valid credential cannot make it hold one.
func (v *Verifier) Check(r *http.Request, c *Checked) error {
	if err := v.check(r, c); err != nil {
		return err
	}
	return nil
}

// VerifyChecked finishes what Check began: it checks r's signature over
// body and returns the caller's credential and scope, or an
// *apierr.Error.
func (v *Verifier) VerifyChecked(r *http.Request, body []byte, c *Checked) (Auth, error) {
	if err := v.verifySignature(r, body, c); err != nil {
		return Auth{}, err
	}
	return Auth{Credential: c.cred, Region: c.a.region, Service: c.a.service}, nil
}

func (v *Verifier) check(r *http.Request, c *Checked) *apierr.Error {
	// Authentication mechanism.
	authValues := r.Header["Authorization"]
	presigned := r.URL != nil && r.URL.RawQuery != "" && r.URL.Query().Has("X-Amz-Algorithm")
	switch {
	case len(authValues) == 0 || authValues[0] == "":
		if presigned {
			return apierr.New(apierr.IncompleteSignature,
				"Query-string (presigned) authentication is not supported; sign the request with an Authorization header.")
		}
		return apierr.New(apierr.MissingAuthenticationToken, msgMissingToken)
	case len(authValues) > 1:
		return apierr.New(apierr.IncompleteSignature, "The request has more than one Authorization header.")
	case presigned:
		return apierr.New(apierr.IncompleteSignature,
			"Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified.")
	}
	h := authValues[0]
	a, perr := parseAuth(h)
	if perr != nil {
		return perr
	}
	c.a = a

	// Request time: X-Amz-Date, or Date if there is no X-Amz-Date.
	dateHeader := "x-amz-date"
	rawDate := header(r.Header, "X-Amz-Date")
	if rawDate == "" {
		dateHeader = "date"
		rawDate = header(r.Header, "Date")
		if rawDate == "" {
			return apierr.New(apierr.IncompleteSignature,
				"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=%s", echo(h))
		}
	}
	t, ok := parseAMZDate(rawDate)
	if !ok && dateHeader == "date" {
		var err error
		t, err = http.ParseTime(rawDate)
		ok = err == nil
	}
	if !ok {
		return apierr.New(apierr.IncompleteSignature,
			"Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", echo(rawDate))
	}
	t = t.UTC()
	if err := v.checkSkew(t); err != nil {
		return err
	}

	// What must be signed.
	if !hasSignedHeader(a.signedHeaders, "host") {
		return apierr.New(apierr.InvalidSignature, msgHostNotSigned)
	}
	if !hasSignedHeader(a.signedHeaders, dateHeader) {
		// AWS's documentation requires a date header that is sent to be
		// signed; without it a captured request could be replayed all day.
		if dateHeader == "date" {
			return apierr.New(apierr.InvalidSignature, "'Date' must be a 'SignedHeader' in the AWS Authorization.")
		}
		return apierr.New(apierr.InvalidSignature, "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if name := unsignedHeader(r.Header, a.signedHeaders); name != "" {
		return apierr.New(apierr.InvalidSignature, "'%s' must be a 'SignedHeader' in the AWS Authorization.", echo(name))
	}

	// Credential scope. AWS reports every mismatch at once.
	var dateBuf [8]byte
	reqDate := t.AppendFormat(dateBuf[:0], "20060102")
	if !v.regionOK(a.region) || !v.serviceOK(a.service) || a.terminator != Terminator || a.date != string(reqDate) {
		return v.scopeError(a, string(reqDate), t)
	}

	// Who is calling.
	cred, lerr := v.lookup(a.accessKeyID, header(r.Header, "X-Amz-Security-Token"))
	if lerr != nil {
		return lerr
	}
	c.cred, c.rawDate, c.dateHeader, c.t = cred, rawDate, dateHeader, t
	return nil
}

// verifySignature checks the signature of the request c describes over
// body.
func (v *Verifier) verifySignature(r *http.Request, body []byte, c *Checked) *apierr.Error {
	a, rawDate, dateHeader, t := &c.a, c.rawDate, c.dateHeader, c.t

	// The signature.
	want, ok := decodeHex32(a.signature)
	if !ok {
		return apierr.New(apierr.InvalidSignature, msgMismatch)
	}
	sk, fresh := v.keys.get(a.accessKeyID, a.date, a.region, a.service, c.cred.Secret)

	s := getScratch()
	defer putScratch(s)

	var bodyHash [64]byte
	sum := sha256.Sum256(body)
	hex.Encode(bodyHash[:], sum[:])
	payloadHash := bodyHash[:]
	if claimed := header(r.Header, "X-Amz-Content-Sha256"); claimed != "" && claimed != "UNSIGNED-PAYLOAD" {
		// The header is what the client signed; it must also be true.
		if claimed != string(bodyHash[:]) {
			return apierr.New(apierr.InvalidSignature,
				"The provided 'x-amz-content-sha256' header does not match what was computed.")
		}
	}
	// UNSIGNED-PAYLOAD is never honoured: the real body hash goes into the
	// canonical request, so a request signed over "UNSIGNED-PAYLOAD" fails.

	s.h.Reset()
	buf, cerr := writeCanonicalRequest(s.h, s.buf[:0], r, a.signedHeaders, payloadHash)
	if cerr != nil {
		s.buf = buf
		return cerr
	}
	crHash := s.h.Sum(s.sum[:0])

	// String to sign.
	buf = buf[:0]
	buf = append(buf, Algorithm...)
	buf = append(buf, '\n')
	if len(rawDate) == len(timeFormat) && dateHeader == "x-amz-date" {
		buf = append(buf, rawDate...)
	} else {
		buf = t.AppendFormat(buf, timeFormat)
	}
	buf = append(buf, '\n')
	buf = append(buf, a.date...)
	buf = append(buf, '/')
	buf = append(buf, a.region...)
	buf = append(buf, '/')
	buf = append(buf, a.service...)
	buf = append(buf, '/')
	buf = append(buf, Terminator...)
	buf = append(buf, '\n')
	buf = hex.AppendEncode(buf, crHash)

	mac := sk.pool.Get().(hash.Hash)
	mac.Reset()
	mac.Write(buf)
	n := len(buf)
	buf = mac.Sum(buf)
	got := buf[n:]
	sk.pool.Put(mac)
	s.buf = buf

	if !hmac.Equal(got, want[:]) {
		return apierr.New(apierr.InvalidSignature, msgMismatch)
	}
	if fresh {
		// Only a key that verified a signature is kept: forged requests
		// naming a real access key id must not fill the cache, each with
		// a copy of its secret, nor push out the keys in use.
		v.keys.put(a.accessKeyID, a.date, a.region, a.service, sk)
	}
	return nil
}

// checkSkew rejects a request time more than MaxSkew away from now, with
// AWS's messages.
func (v *Verifier) checkSkew(t time.Time) *apierr.Error {
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	now = now.UTC()
	skew := v.MaxSkew
	if skew <= 0 {
		skew = DefaultMaxSkew
	}
	if earliest := now.Add(-skew); t.Before(earliest) {
		return apierr.New(apierr.InvalidSignature, "Signature expired: %s is now earlier than %s (%s - %s.)",
			t.Format(timeFormat), earliest.Format(timeFormat), now.Format(timeFormat), skewString(skew))
	}
	if latest := now.Add(skew); t.After(latest) {
		return apierr.New(apierr.InvalidSignature, "Signature not yet current: %s is still later than %s (%s + %s.)",
			t.Format(timeFormat), latest.Format(timeFormat), now.Format(timeFormat), skewString(skew))
	}
	return nil
}

// skewString renders a skew the way AWS does ("5 min"), falling back to Go's
// notation for durations that are not whole minutes.
func skewString(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.FormatInt(int64(d/time.Minute), 10) + " min"
	}
	return d.String()
}

// lookup finds the credential of a long-term access key, or of temporary
// credentials when a session token is sent.
func (v *Verifier) lookup(accessKeyID, sessionToken string) (*Credential, *apierr.Error) {
	var cred *Credential
	if sessionToken != "" {
		if v.LookupSession == nil {
			return nil, apierr.New(apierr.UnrecognizedClient, msgInvalidToken)
		}
		c, err := v.LookupSession(accessKeyID, sessionToken)
		if errors.Is(err, ErrExpiredToken) {
			return nil, apierr.New(apierr.ExpiredToken, msgExpiredToken)
		}
		if err != nil {
			return nil, lookupError(err)
		}
		cred = c
	} else if v.LookupKey != nil {
		c, err := v.LookupKey(accessKeyID)
		if err != nil {
			return nil, lookupError(err)
		}
		cred = c
	} else {
		if v.Lookup == nil {
			return nil, apierr.New(apierr.UnrecognizedClient, msgInvalidToken)
		}
		c, found := v.Lookup(accessKeyID)
		if !found {
			return nil, apierr.New(apierr.UnrecognizedClient, msgInvalidToken)
		}
		cred = c
	}
	if cred == nil || len(cred.Secret) == 0 {
		return nil, apierr.New(apierr.UnrecognizedClient, msgInvalidToken)
	}
	return cred, nil
}

// lookupError answers a failed lookup: an unknown credential as AWS
// answers it, anything else as an internal error whose cause reaches the
// log only.
func lookupError(err error) *apierr.Error {
	if errors.Is(err, ErrUnknownCredential) {
		return apierr.New(apierr.UnrecognizedClient, msgInvalidToken)
	}
	return apierr.Internal(fmt.Errorf("look up the request's credential: %w", err))
}

func (v *Verifier) regionOK(region string) bool {
	if v.Region != "" {
		return region == v.Region
	}
	return ValidRegion(region)
}

func (v *Verifier) serviceOK(service string) bool {
	if len(v.Services) == 0 {
		return service == v.Service
	}
	for _, s := range v.Services {
		if service == s {
			return true
		}
	}
	return false
}

// wantService names the service a wrongly scoped request should have used.
func (v *Verifier) wantService() string {
	if len(v.Services) > 0 {
		return v.Services[0]
	}
	return v.Service
}

// ValidRegion reports whether s is shaped like an AWS region name: lower-case
// words joined by hyphens and ending in a number ("us-east-1",
// "us-gov-west-1", "ap-southeast-2"). Trent serves any such region; keys
// live in the region their requests are signed for.
func ValidRegion(s string) bool {
	if len(s) < 4 || len(s) > 32 {
		return false
	}
	// Words of lower-case letters, then a last word of digits; read in
	// place rather than split, since every request's scope is checked.
	words, start := 0, 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '-' {
			continue
		}
		w := s[start:i]
		last := i == len(s)
		if w == "" || last && len(w) > 2 {
			return false
		}
		for j := 0; j < len(w); j++ {
			c := w[j]
			if last && !(c >= '0' && c <= '9') || !last && !(c >= 'a' && c <= 'z') {
				return false
			}
		}
		words++
		start = i + 1
	}
	return words >= 3
}

// scopeError reports every way the credential scope is wrong, concatenated,
// as AWS does.
func (v *Verifier) scopeError(a authParts, reqDate string, t time.Time) *apierr.Error {
	var b strings.Builder
	if !v.regionOK(a.region) {
		b.WriteString("Credential should be scoped to a valid region, not '" + echo(a.region) + "'. ")
	}
	if !v.serviceOK(a.service) {
		b.WriteString("Credential should be scoped to correct service: '" + v.wantService() + "'. ")
	}
	if a.terminator != Terminator {
		b.WriteString("Credential should be scoped with a valid terminator: '" + Terminator + "', not '" + echo(a.terminator) + "'. ")
	}
	if a.date != reqDate {
		b.WriteString("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" +
			echo(a.date) + "' != '" + reqDate + "', from '" + t.Format(timeFormat) + "'.")
	}
	return &apierr.Error{Code: apierr.InvalidSignature, Message: b.String()}
}

// unsignedHeader returns the first (in byte order) header of h that must be
// signed but is not in the SignedHeaders list, or "". X-Amz-Target names the
// operation and Content-Type how the body is read, so a signature that left
// either out could be replayed as another operation; every other x-amz-*
// header is AWS's own and read by someone, and the AWS SDKs and CLI sign all
// of them (aws-sdk-go-v2 and botocore sign every header but a short ignore
// list: Authorization, User-Agent, Expect, Transfer-Encoding,
// X-Amzn-Trace-Id and hop-by-hop headers). x-amzn-* headers such as
// X-Amzn-Trace-Id are added by proxies and tracers after signing, and are
// not x-amz-* headers.
func unsignedHeader(h http.Header, signed string) string {
	first := ""
	for name := range h {
		if !mustBeSigned(name) || hasSignedHeader(signed, name) {
			continue
		}
		if first == "" || name < first {
			first = name
		}
	}
	return first
}

// mustBeSigned reports whether the named header must be signed when sent:
// Content-Type and every x-amz-* header, X-Amz-Target among them.
func mustBeSigned(name string) bool {
	const amz = "x-amz-"
	return strings.EqualFold(name, "content-type") || len(name) >= len(amz) && strings.EqualFold(name[:len(amz)], amz)
}

// hasSignedHeader reports whether the semicolon-separated list names name,
// ignoring case.
func hasSignedHeader(list, name string) bool {
	for list != "" {
		var h string
		h, list, _ = strings.Cut(list, ";")
		if strings.EqualFold(h, name) {
			return true
		}
	}
	return false
}

// parseAMZDate parses an ISO 8601 basic-format UTC time, yyyymmddTHHMMSSZ,
// without allocating.
func parseAMZDate(s string) (time.Time, bool) {
	if len(s) != len(timeFormat) || s[8] != 'T' || s[15] != 'Z' {
		return time.Time{}, false
	}
	num := func(i, n int) (int, bool) {
		v := 0
		for _, c := range []byte(s[i : i+n]) {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(4, 2)
	day, ok3 := num(6, 2)
	hour, ok4 := num(9, 2)
	minute, ok5 := num(11, 2)
	sec, ok6 := num(13, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC)
	if t.Day() != day { // 31 April and the like
		return time.Time{}, false
	}
	return t, true
}

// header is h.Get(name) for a name already in canonical form: net/http
// stores incoming names canonicalized, and Get would canonicalize name
// again on every call.
func header(h http.Header, name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// decodeHex32 decodes a 64-character lowercase hex string. SigV4's
// signature is lowercase hex (AWS's Hex()), and AWS compares it as the
// string it computes: accepting uppercase too would let one signed request
// pass under 2^64 spellings of its Authorization header.
func decodeHex32(s string) ([32]byte, bool) {
	var out [32]byte
	if len(s) != 64 {
		return out, false
	}
	for i := range out {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return out, false
		}
		out[i] = hi<<4 | lo
	}
	return out, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// scratch is per-request space for hashing the canonical request and
// building the string to sign, pooled so that Verify does not allocate it.
type scratch struct {
	buf []byte
	h   hash.Hash // SHA-256, for the canonical request
	sum [sha256.Size]byte
}

var scratchPool = sync.Pool{New: func() any { return &scratch{buf: make([]byte, 0, 1024), h: sha256.New()} }}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(s *scratch) {
	if cap(s.buf) > 64<<10 { // do not keep what one huge request grew
		return
	}
	scratchPool.Put(s)
}
