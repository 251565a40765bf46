package kms

import (
	"sync"

	"github.com/trent-kms/trent/internal/policy"
)

// compiledPolicies shares compiled key policies between keys whose policy
// documents are the same text. Every key an account creates without a
// Policy carries the same default document, and compiling it again for each
// new key or each cache miss was about 6% of CreateKey's CPU (profile at
// 30,000 keys, docs/ARCHITECTURE.md "Write path and group commit"). The key
// is the exact text, so nothing ever needs invalidating: a changed policy is
// another text. A Compiled is read-only once made, so sharing it between
// keys is as safe as sharing it between the requests of one key.
var compiledPolicies = policyCache{max: 512, maxDoc: 4 << 10}

type policyCache struct {
	// max bounds the entries and maxDoc the length of a cached document,
	// so the cache holds at most max*maxDoc bytes of text (2 MiB); longer
	// documents, which are rarely shared, are compiled every time.
	max, maxDoc int
	mu          sync.Mutex
	m           map[string]*policy.Compiled
}

// get returns doc compiled, from the cache when the same text was compiled
// before. Errors are not cached: a document that does not compile is not
// stored on any key for long.
func (c *policyCache) get(doc string) (*policy.Compiled, error) {
	if len(doc) <= c.maxDoc {
		c.mu.Lock()
		p, ok := c.m[doc]
		c.mu.Unlock()
		if ok {
			return p, nil
		}
	}
	d, err := policy.Parse(doc)
	if err != nil {
		return nil, err
	}
	p, err := policy.Compile(d)
	if err != nil || len(doc) > c.maxDoc {
		return p, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= c.max {
		// Full: start again rather than track recency; the default
		// documents, the common case, come back on their next use.
		c.m = make(map[string]*policy.Compiled, c.max)
	}
	c.m[doc] = p
	c.mu.Unlock()
	return p, nil
}
