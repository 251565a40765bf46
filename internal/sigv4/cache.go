package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"strings"
	"sync"
)

// maxCachedKeys bounds the signing-key cache. A key is valid for one
// (access key, day, region, service), so the cache holds about one entry per
// active access key; when it is full, a new key takes an old one's place.
const maxCachedKeys = 4096

// signingKey is a derived SigV4 signing key and a pool of HMACs keyed with it,
// so that verifying a request neither repeats the four-HMAC derivation nor
// allocates an HMAC.
type signingKey struct {
	// secret is a copy of the secret the key was derived from. A hit counts
	// only if the secret Lookup returns now is the same, so a rotated secret
	// never verifies against a key derived from the old one.
	secret []byte
	key    [sha256.Size]byte
	pool   sync.Pool // of hash.Hash: HMAC-SHA256 keyed with key
}

type cacheKey struct{ akid, date, region, service string }

// keyCache maps (access key id, date, region, service) to signing keys. The
// zero value is ready to use.
type keyCache struct {
	mu sync.RWMutex
	m  map[cacheKey]*signingKey
}

// get returns the signing key for the scope and secret: the cached one,
// or one derived now (fresh), which put caches once it has verified a
// signature.
func (c *keyCache) get(akid, date, region, service string, secret []byte) (*signingKey, bool) {
	k := cacheKey{akid, date, region, service}
	c.mu.RLock()
	e := c.m[k]
	c.mu.RUnlock()
	if e != nil && subtle.ConstantTimeCompare(e.secret, secret) == 1 {
		return e, false
	}
	return newSigningKey(secret, date, region, service), true
}

// newSigningKey derives the signing key for the scope. (A function of its
// own: the pool's closure captures the key, which moves whatever variable
// holds it to the heap.)
func newSigningKey(secret []byte, date, region, service string) *signingKey {
	e := &signingKey{secret: append([]byte(nil), secret...)}
	deriveSigningKey(e.key[:0], secret, date, region, service)
	e.pool.New = func() any { return hmac.New(sha256.New, e.key[:]) }
	return e
}

// put caches e for the scope. The strings may point into a request; they
// are copied before being kept. A full cache drops one entry, whichever
// the map's iteration yields first, rather than every key in use.
func (c *keyCache) put(akid, date, region, service string, e *signingKey) {
	k := cacheKey{strings.Clone(akid), strings.Clone(date), strings.Clone(region), strings.Clone(service)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[cacheKey]*signingKey)
	}
	if _, ok := c.m[k]; !ok && len(c.m) >= maxCachedKeys {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[k] = e
}

// deriveSigningKey appends the SigV4 signing key to dst:
// HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request").
func deriveSigningKey(dst, secret []byte, date, region, service string) []byte {
	k := make([]byte, 0, 4+len(secret))
	k = append(k, "AWS4"...)
	k = append(k, secret...)
	seed := k
	k = hmacSHA256(k, date)
	clear(seed)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	k = hmacSHA256(k, Terminator)
	return append(dst, k...)
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
