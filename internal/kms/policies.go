package kms

import (
	"context"
	"fmt"
	"strings"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsproto"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/store"
)

func checkPolicyName(v *validator, name *string) {
	v.length("policyName", name, 1, 128)
	v.pattern("policyName", name, `[\w]+`, func(s string) bool {
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
				return false
			}
		}
		return true
	})
}

// policyNameOf returns the policy a request names; "default" is the only
// policy a KMS key has.
func policyNameOf(name *string) (string, error) {
	if name == nil || *name == defaultPolicyName {
		return defaultPolicyName, nil
	}
	return "", apierr.New(apierr.NotFound, "No such policy exists: %s. The only valid policy name is default.", *name)
}

func checkGetKeyPolicy(in *awsproto.GetKeyPolicyInput) error {
	var v validator
	v.keyID("keyId", in.KeyId)
	checkPolicyName(&v, in.PolicyName)
	return v.err()
}

func (s *Service) getKeyPolicy(ctx context.Context, r *Request, in *awsproto.GetKeyPolicyInput, a *access) (any, error) {
	name, err := policyNameOf(in.PolicyName)
	if err != nil {
		return nil, err
	}
	return &awsproto.GetKeyPolicyOutput{Policy: a.key.meta.Policy, PolicyName: name}, nil
}

func checkPutKeyPolicy(in *awsproto.PutKeyPolicyInput) error {
	var v validator
	v.keyID("keyId", in.KeyId)
	checkPolicyName(&v, in.PolicyName)
	if v.requiredString("policy", in.Policy) {
		v.length("policy", in.Policy, 1, 131072)
		v.pattern("policy", in.Policy, `[\u0009\u000A\u000D\u0020-\u00FF]+`, policyChars)
	}
	return v.err()
}

func (s *Service) putKeyPolicy(ctx context.Context, r *Request, in *awsproto.PutKeyPolicyInput, a *access) (any, error) {
	if _, err := policyNameOf(in.PolicyName); err != nil {
		return nil, err
	}
	proposed := *a.key
	proposed.meta.Policy = *in.Policy
	if err := s.checkNewPolicy(ctx, a, &proposed, in.BypassPolicyLockoutSafetyCheck); err != nil {
		return nil, err
	}
	// The new policy governs the next request: update publishes the
	// entry with it compiled before this one answers.
	_, err := s.update(ctx, a.key, func(k *store.Key) error {
		k.Policy = *in.Policy
		return nil
	})
	return nil, err
}

// Messages AWS gives for key policies it refuses at CreateKey and
// PutKeyPolicy.
const (
	msgInvalidPrincipals = "Policy contains a statement with one or more invalid principals."
	msgLockout           = "The new key policy will not allow you to update the key policy in the future."
)

// checkNewPolicy applies AWS's checks to the key policy proposed for key e
// (whose meta.Policy holds it) at CreateKey and PutKeyPolicy: it must
// parse (policy.Parse, which also enforces the 32 KB quota), every AWS
// principal it names must exist, and unless bypass, the caller must still
// be allowed kms:PutKeyPolicy on the key under it — the policy lockout
// safety check, decided by the same engine as every request, with the
// caller's identity-based policies and without grants.
func (s *Service) checkNewPolicy(ctx context.Context, a *access, e *keyEntry, bypass bool) error {
	doc, err := policy.Parse(e.meta.Policy)
	if err != nil {
		return err
	}
	if err := s.principalsExist(ctx, doc); err != nil {
		return err
	}
	compiled, err := policy.Compile(doc)
	if err != nil {
		return apierr.Internal(fmt.Errorf("compile a parsed key policy: %w", err))
	}
	if bypass {
		return nil
	}
	if err := a.onKey(ctx, e, "kms:PutKeyPolicy", ""); err != nil {
		return err
	}
	a.set(condBypassLockout, "false")
	ids, err := a.identityPolicies(ctx)
	if err != nil {
		return err
	}
	ps := *ids
	ps.Resource = compiled
	ps.GrantAllows = false
	if d := policy.Decide(&ps, &a.req); !d.Allowed {
		return apierr.New(apierr.MalformedPolicyDocument, msgLockout)
	}
	return nil
}

// principalsExist refuses a key policy that names an AWS principal that
// does not exist. Without Identities every principal is taken to exist.
func (s *Service) principalsExist(ctx context.Context, doc *policy.Document) error {
	if s.ids == nil {
		return nil
	}
	for i := range doc.Statements {
		st := &doc.Statements[i]
		for _, m := range []map[string][]string{st.Principal, st.NotPrincipal} {
			for _, p := range m["AWS"] {
				if p == "*" {
					continue
				}
				arn := p
				if !strings.HasPrefix(p, "arn:") {
					arn = accountRootARN(p) // a bare 12-digit account id
				}
				if !s.ids.PrincipalExists(ctx, arn) {
					return apierr.New(apierr.MalformedPolicyDocument, msgInvalidPrincipals)
				}
			}
		}
	}
	return nil
}

func checkListKeyPolicies(in *awsproto.ListKeyPoliciesInput) error {
	var v validator
	v.keyID("keyId", in.KeyId)
	if err := v.err(); err != nil {
		return err
	}
	_, _, err := policyPages.params(in.Limit, in.Marker)
	return err
}

func (s *Service) listKeyPolicies(ctx context.Context, r *Request, in *awsproto.ListKeyPoliciesInput, a *access) (any, error) {
	_, after, err := policyPages.params(in.Limit, in.Marker)
	if err != nil {
		return nil, err
	}
	out := &awsproto.ListKeyPoliciesOutput{PolicyNames: []string{}}
	if after < defaultPolicyName {
		out.PolicyNames = append(out.PolicyNames, defaultPolicyName)
	}
	return out, nil
}
