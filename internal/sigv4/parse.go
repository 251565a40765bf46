package sigv4

import (
	"strings"

	"github.com/trent-kms/trent/internal/apierr"
)

// Algorithm is the only signing algorithm Trent accepts.
const Algorithm = "AWS4-HMAC-SHA256"

// Terminator is the last element of every SigV4 credential scope.
const Terminator = "aws4_request"

// maxEcho bounds how much of a caller-supplied value is copied into an error
// message, so a huge header cannot bloat responses and logs.
const maxEcho = 512

// Authorization is a parsed "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…,
// Signature=…" header. ParseAuthorization checks its shape only: whether the
// scope names the right date, region, service and terminator is Verify's job.
type Authorization struct {
	AccessKeyID   string
	Date          string // yyyymmdd, from the credential scope
	Region        string
	Service       string
	Terminator    string // "aws4_request" when well formed
	SignedHeaders []string
	Signature     string // hex, as sent
}

// authParts is Authorization without the SignedHeaders slice, so that Verify
// can parse a header without allocating. signedHeaders is the raw
// semicolon-separated list.
type authParts struct {
	accessKeyID, date, region, service, terminator string
	signedHeaders                                  string
	signature                                      string
}

// ParseAuthorization parses an Authorization header value. On bad input it
// returns an *apierr.Error with code IncompleteSignatureException and a message
// worded as AWS words it.
func ParseAuthorization(h string) (Authorization, error) {
	p, err := parseAuth(h)
	if err != nil {
		return Authorization{}, err
	}
	a := Authorization{
		AccessKeyID: p.accessKeyID,
		Date:        p.date,
		Region:      p.region,
		Service:     p.service,
		Terminator:  p.terminator,
		Signature:   p.signature,
	}
	if p.signedHeaders != "" {
		a.SignedHeaders = strings.Split(p.signedHeaders, ";")
	}
	return a, nil
}

// parseAuth does the work of ParseAuthorization without allocating on success.
func parseAuth(h string) (authParts, *apierr.Error) {
	var p authParts
	alg, rest, _ := strings.Cut(h, " ")
	if alg != Algorithm {
		// Recorded from AWS (Coral) JSON services, trailing space included.
		return p, apierr.New(apierr.IncompleteSignature,
			"Unsupported AWS 'algorithm': '%s' (only AWS4-HMAC-SHA256 for now). ", echo(alg))
	}

	var credential string
	var haveCred, haveSigned, haveSig bool
	// Parameters are separated by commas and blanks, as AWS separates them:
	// "Credential= AKID/…" is two parameters, the second without "=".
	for i := 0; i < len(rest); {
		if isParamSep(rest[i]) {
			i++
			continue
		}
		start := i
		for i < len(rest) && !isParamSep(rest[i]) {
			i++
		}
		part := rest[start:i]
		key, val, ok := strings.Cut(part, "=")
		if !ok {
			return p, apierr.New(apierr.IncompleteSignature,
				"'%s' not a valid key=value pair (missing equal-sign) in Authorization header: '%s'.",
				echo(part), echo(h))
		}
		var seen *bool
		switch key {
		case "Credential":
			credential, seen = val, &haveCred
		case "SignedHeaders":
			p.signedHeaders, seen = val, &haveSigned
		case "Signature":
			p.signature, seen = val, &haveSig
		default:
			continue // AWS ignores parameters it does not know.
		}
		if *seen {
			return p, apierr.New(apierr.IncompleteSignature,
				"Authorization header has more than one '%s' parameter. Authorization=%s", key, echo(h))
		}
		*seen = true
	}

	// An empty SignedHeaders is let through, as AWS does: the check that host
	// is signed rejects it later with a clearer message.
	if credential == "" || p.signature == "" || !haveSigned {
		var msg strings.Builder
		if credential == "" {
			msg.WriteString("Authorization header requires 'Credential' parameter. ")
		}
		if p.signature == "" {
			msg.WriteString("Authorization header requires 'Signature' parameter. ")
		}
		if !haveSigned {
			msg.WriteString("Authorization header requires 'SignedHeaders' parameter. ")
		}
		msg.WriteString("Authorization=")
		msg.WriteString(echo(h))
		return p, &apierr.Error{Code: apierr.IncompleteSignature, Message: msg.String()}
	}

	if !splitCredential(strings.TrimRight(credential, "/"), &p) {
		return p, apierr.New(apierr.IncompleteSignature,
			"Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'",
			echo(credential))
	}

	if perr := checkSignedHeaders(p.signedHeaders, h); perr != nil {
		return p, perr
	}
	return p, nil
}

// maxSignedHeaders bounds the SignedHeaders list. The AWS SDKs sign fewer
// than a dozen headers (aws-sdk-go-v2: amz-sdk-invocation-id;amz-sdk-request;
// content-length;content-type;host;x-amz-date;x-amz-security-token;
// x-amz-target; botocore and the AWS CLI fewer still); 64 leaves room for
// callers that sign headers of their own, and bounds the work Verify does for
// a request before its signature is checked.
const maxSignedHeaders = 64

// checkSignedHeaders checks the SignedHeaders list as SigV4 builds it: header
// names in lowercase, separated by semicolons, in ascending byte order, each
// named once, at most maxSignedHeaders of them. Verify copies each named
// header's value into the canonical request once per entry, so a list that
// repeats a name could otherwise make a small request cost gigabytes before
// its signature is compared. An empty list passes: the check that host is
// signed rejects it later with a clearer message.
func checkSignedHeaders(all, h string) *apierr.Error {
	prev, list := "", all
	for n := 1; list != ""; n++ {
		name, rest, more := strings.Cut(list, ";")
		switch {
		case !validHeaderName(name) || more && rest == "":
			return apierr.New(apierr.IncompleteSignature,
				"'SignedHeaders' must be a semicolon-separated list of header names, got '%s'. Authorization=%s",
				echo(all), echo(h))
		case n > maxSignedHeaders:
			return apierr.New(apierr.IncompleteSignature,
				"'SignedHeaders' must not name more than %d headers. Authorization=%s", maxSignedHeaders, echo(h))
		case hasUpper(name) || name <= prev:
			return apierr.New(apierr.IncompleteSignature,
				"'SignedHeaders' must name each header once, in lowercase and in ascending order, got '%s'. Authorization=%s",
				echo(all), echo(h))
		}
		prev, list = name, rest
	}
	return nil
}

// validHeaderName reports whether s is a non-empty HTTP field name (an RFC
// 9110 token); net/http accepts no other names, so no other can be signed.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

func isParamSep(c byte) bool { return c == ',' || c == ' ' || c == '\t' }

// splitCredential splits "akid/date/region/service/terminator" into p.
func splitCredential(c string, p *authParts) bool {
	var f [5]string
	for i := range 4 {
		var ok bool
		f[i], c, ok = strings.Cut(c, "/")
		if !ok {
			return false
		}
	}
	if strings.Contains(c, "/") {
		return false
	}
	f[4] = c
	p.accessKeyID, p.date, p.region, p.service, p.terminator = f[0], f[1], f[2], f[3], f[4]
	return true
}

// echo bounds a caller-supplied string before it is copied into a message.
func echo(s string) string {
	if len(s) <= maxEcho {
		return s
	}
	return s[:maxEcho] + "..."
}
