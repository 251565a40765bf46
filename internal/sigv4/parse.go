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

	if p.signedHeaders != "" {
		for sh := p.signedHeaders; ; {
			name, more, found := strings.Cut(sh, ";")
			if name == "" {
				return p, apierr.New(apierr.IncompleteSignature,
					"'SignedHeaders' must be a semicolon-separated list of header names, got '%s'. Authorization=%s",
					echo(p.signedHeaders), echo(h))
			}
			if !found {
				break
			}
			sh = more
		}
	}
	return p, nil
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
