package kms

import (
	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsproto"
	"github.com/trent-kms/trent/internal/throttle"
)

// Throttling: each request counts against one of AWS's request quotas for
// its caller's account and its region (internal/throttle). Most rows know
// their quota from their name; GenerateDataKeyPair's depends on the
// KeyPairSpec asked for, and the quota of Encrypt, Decrypt, ReEncrypt,
// Sign, Verify and DeriveSharedSecret on the spec of the key they use, so
// those are charged once the access step has found the key — whether or
// not it then allowed the request, so that a flood of refused requests is
// throttled too. A throttled request answers ThrottlingException (HTTP
// 400, which the AWS SDKs retry with backoff) and is audited like any
// other error.

// quota says how a row finds its quota class.
type quota struct {
	by    quotaBy
	class throttle.Class
}

type quotaBy uint8

const (
	quotaNone  quotaBy = iota // not throttled
	quotaFixed                // class
	quotaPair                 // by the input's KeyPairSpec
	quotaByKey                // by the spec of the key the access step found
)

func quotaOf(name string) quota {
	if c, ok := throttle.ForOperation(name); ok {
		return quota{by: quotaFixed, class: c}
	}
	switch name {
	case "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext":
		return quota{by: quotaPair}
	case "Encrypt", "Decrypt", "ReEncrypt", "Sign", "Verify", "DeriveSharedSecret":
		return quota{by: quotaByKey}
	}
	return quota{}
}

// throttled is AWS's answer to a request over its quota.
func throttled() error { return apierr.New(apierr.Throttling, "%s", throttle.Message) }

// throttleEarly charges the rows whose class is known before any key is
// looked up.
func (s *Service) throttleEarly(r *Request, q quota, in any) error {
	c := q.class
	switch q.by {
	case quotaFixed:
	case quotaPair:
		var spec *string
		switch in := in.(type) {
		case *awsproto.GenerateDataKeyPairInput:
			spec = in.KeyPairSpec
		case *awsproto.GenerateDataKeyPairWithoutPlaintextInput:
			spec = in.KeyPairSpec
		}
		var ok bool
		if spec == nil {
			return nil // refused by the row's check
		}
		if c, ok = throttle.ForKeyPairSpec(*spec); !ok {
			return nil
		}
	default:
		return nil
	}
	if !s.throttle(r.Caller.Principal.Account, r.Region, c) {
		return throttled()
	}
	return nil
}

// throttleByKey charges a row whose class is its key's: ReEncrypt's source
// key, or the key the row names. A request refused before its key was
// found counts as symmetric, the class of most such requests.
func (s *Service) throttleByKey(r *Request, a *access) error {
	c := throttle.Symmetric
	if e := a.src; e != nil {
		c = throttle.ForKeySpec(e.meta.KeySpec)
	} else if e := a.key; e != nil {
		c = throttle.ForKeySpec(e.meta.KeySpec)
	}
	if !s.throttle(r.Caller.Principal.Account, r.Region, c) {
		return throttled()
	}
	return nil
}
