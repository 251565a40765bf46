package kms

import (
	"context"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsproto"
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

func (s *Service) GetKeyPolicy(ctx context.Context, r *Request, in *awsproto.GetKeyPolicyInput) (any, error) {
	var v validator
	v.keyID("keyId", in.KeyId)
	checkPolicyName(&v, in.PolicyName)
	if err := v.err(); err != nil {
		return nil, err
	}
	e, err := s.resolve(ctx, *in.KeyId, false)
	if err != nil {
		return nil, err
	}
	name, err := policyNameOf(in.PolicyName)
	if err != nil {
		return nil, err
	}
	return &awsproto.GetKeyPolicyOutput{Policy: e.meta.Policy, PolicyName: name}, nil
}

func (s *Service) PutKeyPolicy(ctx context.Context, r *Request, in *awsproto.PutKeyPolicyInput) (any, error) {
	var v validator
	v.keyID("keyId", in.KeyId)
	checkPolicyName(&v, in.PolicyName)
	if v.requiredString("policy", in.Policy) {
		v.length("policy", in.Policy, 1, 131072)
		v.pattern("policy", in.Policy, `[\u0009\u000A\u000D\u0020-\u00FF]+`, policyChars)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	e, err := s.resolve(ctx, *in.KeyId, false)
	if err != nil {
		return nil, err
	}
	if _, err := policyNameOf(in.PolicyName); err != nil {
		return nil, err
	}
	if err := checkPolicy(*in.Policy); err != nil {
		return nil, err
	}
	// The lockout safety check needs the policy evaluator, which comes
	// with authorization; BypassPolicyLockoutSafetyCheck is accepted now.
	_, err = s.update(ctx, e, func(k *store.Key) error {
		k.Policy = *in.Policy
		return nil
	})
	return nil, err
}

func (s *Service) ListKeyPolicies(ctx context.Context, r *Request, in *awsproto.ListKeyPoliciesInput) (any, error) {
	var v validator
	v.keyID("keyId", in.KeyId)
	if err := v.err(); err != nil {
		return nil, err
	}
	_, after, err := pageParams(in.Limit, in.Marker, 1000, 100, "policies")
	if err != nil {
		return nil, err
	}
	if _, err := s.resolve(ctx, *in.KeyId, false); err != nil {
		return nil, err
	}
	out := &awsproto.ListKeyPoliciesOutput{PolicyNames: []string{}}
	if after < defaultPolicyName {
		out.PolicyNames = append(out.PolicyNames, defaultPolicyName)
	}
	return out, nil
}
