package sigv4

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/trent-kms/trent/internal/apierr"
)

// maxCanonicalRequest bounds the canonical request Verify hashes before it
// compares the signature. With SignedHeaders strictly ascending (each header
// once) the canonical request is at most the request line URI-encoded (three
// bytes a byte at most) plus the headers, so nothing that fits the 64 KiB
// header limit of server.HTTPServer reaches this; it keeps the cost bounded
// behind any other server too.
const maxCanonicalRequest = 256 << 10

// flushAt is how much of the canonical request is buffered before it is
// written to the hash: the request is hashed as a stream, so the buffer
// holds at most this much plus one element (a header line, the URI).
const flushAt = 4 << 10

// writeCanonicalRequest writes the SigV4 canonical request for r to w, a
// writer that cannot fail (a SHA-256 hash; a bytes.Buffer in tests):
//
//	method \n canonical URI \n canonical query \n canonical headers \n signed headers \n payload hash
//
// signedHeaders is the raw list from the Authorization header, checked by
// checkSignedHeaders. buf is scratch space, returned for reuse. The common
// case (POST /, no query, headers whose names are short) does not allocate.
func writeCanonicalRequest(w io.Writer, buf []byte, r *http.Request, signedHeaders string, payloadHash []byte) ([]byte, *apierr.Error) {
	written := 0
	// flush writes buf out once it is long enough, and reports whether the
	// canonical request is still within maxCanonicalRequest.
	flush := func(force bool) bool {
		if written+len(buf) > maxCanonicalRequest {
			return false
		}
		if force || len(buf) >= flushAt {
			w.Write(buf)
			written += len(buf)
			buf = buf[:0]
		}
		return true
	}
	tooLong := func() *apierr.Error {
		return apierr.New(apierr.IncompleteSignature,
			"The canonical request for this request is longer than %d bytes.", maxCanonicalRequest)
	}

	buf = append(buf, r.Method...)
	buf = append(buf, '\n')
	buf = appendCanonicalURI(buf, r.URL)
	buf = append(buf, '\n')
	if r.URL != nil && r.URL.RawQuery != "" {
		var ok bool
		if buf, ok = appendCanonicalQuery(buf, r.URL.RawQuery); !ok {
			return buf, apierr.New(apierr.IncompleteSignature,
				"The query string is malformed and cannot be signed: '%s'.", echo(r.URL.RawQuery))
		}
	}
	buf = append(buf, '\n')
	if !flush(false) {
		return buf, tooLong()
	}

	for list := signedHeaders; list != ""; {
		var name string
		name, list, _ = strings.Cut(list, ";")
		buf = appendLower(buf, name)
		buf = append(buf, ':')
		var ok bool
		buf, ok = appendHeaderValue(buf, r, name)
		if !ok {
			return buf, apierr.New(apierr.IncompleteSignature,
				"The request has no '%s' header, but it is listed in 'SignedHeaders'.", echo(name))
		}
		buf = append(buf, '\n')
		if !flush(false) {
			return buf, tooLong()
		}
	}
	buf = append(buf, '\n')
	buf = appendLower(buf, signedHeaders)
	buf = append(buf, '\n')
	buf = append(buf, payloadHash...)
	if !flush(true) {
		return buf, tooLong()
	}
	return buf, nil
}

// appendHeaderValue appends the canonical value of the named header: each
// value trimmed, runs of spaces collapsed to one, values joined by ",". The
// host comes from r.Host, since net/http moves it out of r.Header.
func appendHeaderValue(buf []byte, r *http.Request, name string) ([]byte, bool) {
	if strings.EqualFold(name, "host") {
		if r.Host == "" {
			return buf, false
		}
		return appendTrimmed(buf, r.Host), true
	}
	values, ok := lookupHeader(r.Header, name)
	if !ok && strings.EqualFold(name, "content-length") && r.ContentLength >= 0 {
		return strconv.AppendInt(buf, r.ContentLength, 10), true
	}
	if !ok {
		return buf, false
	}
	for i, v := range values {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendTrimmed(buf, v)
	}
	return buf, true
}

// lookupHeader finds a header by case-insensitive name without allocating:
// the canonical form of name is built on the stack, and a map index with a
// string(bytes) key does not allocate.
func lookupHeader(h http.Header, name string) ([]string, bool) {
	var key [64]byte
	if len(name) > len(key) {
		v, ok := h[http.CanonicalHeaderKey(name)]
		return v, ok
	}
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		key[i] = c
		upper = c == '-'
	}
	if v, ok := h[string(key[:len(name)])]; ok {
		return v, true
	}
	// Names with characters outside the token set are stored as sent.
	v, ok := h[name]
	return v, ok
}

// appendTrimmed appends v without leading and trailing spaces and tabs, with
// each run of spaces inside it collapsed to a single space.
func appendTrimmed(buf []byte, v string) []byte {
	v = strings.Trim(v, " \t")
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		buf = append(buf, c)
	}
	return buf
}

func appendLower(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf = append(buf, c)
	}
	return buf
}

// appendCanonicalURI appends the URI-encoded form of the request's escaped
// path, every byte outside the unreserved set and '/' percent-encoded. For
// every service but S3 the path is thus encoded twice, as AWS signers do.
func appendCanonicalURI(buf []byte, u *url.URL) []byte {
	path := ""
	if u != nil {
		path = u.EscapedPath()
	}
	if path == "" {
		return append(buf, '/')
	}
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c == '/' || unreserved(c) {
			buf = append(buf, c)
		} else {
			buf = appendPercent(buf, c)
		}
	}
	return buf
}

// maxQueryParams bounds the pairs of a query string Verify canonicalizes
// (and sorts) before it checks the signature. AWS Query-protocol requests
// carry a few dozen at most.
const maxQueryParams = 1000

// appendCanonicalQuery appends the canonical form of the raw query string:
// each name and value decoded, then URI-encoded, the pairs sorted by encoded
// name and then value. It reports false for a query that does not parse as
// net/url parses it (a bad percent-escape, a semicolon) or that has more than
// maxQueryParams pairs: url.Values would silently drop such pairs, so what is
// signed and what a handler reads could differ. Only requests with a query
// string come here; it allocates.
func appendCanonicalQuery(buf []byte, raw string) ([]byte, bool) {
	if strings.Count(raw, "&") >= maxQueryParams {
		return buf, false
	}
	type pair struct{ k, v string }
	var pairs []pair
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		if kv == "" {
			continue // "a=1&&b=2": net/url skips empty pairs, so nothing is lost
		}
		if strings.Contains(kv, ";") {
			return buf, false
		}
		k, v, _ := strings.Cut(kv, "=")
		k, err := url.QueryUnescape(k)
		if err != nil {
			return buf, false
		}
		v, err = url.QueryUnescape(v)
		if err != nil {
			return buf, false
		}
		pairs = append(pairs, pair{uriEncode(k), uriEncode(v)})
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	for i, p := range pairs {
		if i > 0 {
			buf = append(buf, '&')
		}
		buf = append(buf, p.k...)
		buf = append(buf, '=')
		buf = append(buf, p.v...)
	}
	return buf, true
}

func uriEncode(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		if unreserved(s[i]) {
			b = append(b, s[i])
		} else {
			b = appendPercent(b, s[i])
		}
	}
	return string(b)
}

// unreserved reports whether c is in RFC 3986's unreserved set, the only
// bytes SigV4 leaves unencoded.
func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func appendPercent(buf []byte, c byte) []byte {
	const hexUpper = "0123456789ABCDEF"
	return append(buf, '%', hexUpper[c>>4], hexUpper[c&15])
}
