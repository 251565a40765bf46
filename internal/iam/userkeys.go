package iam

import (
	"context"
	"strings"

	"github.com/trent-kms/trent/internal/awsquery"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/store"
)

// The IAM access-key operations. Keys are stored wrapped by the root key
// as Directory stores the account roots' (AAD secretAAD(id)); the secret
// leaves Trent once, in CreateAccessKey's answer.

// keyOwner is the user whose keys a request is about: the named one, or
// without UserName the caller itself (AWS's rule for these operations) —
// "" for the account root. A role session must name a user.
func keyOwner(r *Request, userName *string) (string, error) {
	if userName != nil {
		return *userName, nil
	}
	switch p := r.Caller.Principal; p.Type {
	case policy.PrincipalRoot:
		return "", nil
	case policy.PrincipalIAMUser:
		return p.Username, nil
	}
	return "", iamErr(awsquery.ValidationError, msgNonUserCredentials)
}

func (s *Service) createAccessKey(ctx context.Context, r *Request, in *awsquery.CreateAccessKeyInput) (*awsquery.CreateAccessKeyOutput, error) {
	c := iamChecker()
	c.existingUserName("userName", in.UserName)
	if err := c.err(); err != nil {
		return nil, err
	}
	owner, err := keyOwner(r, in.UserName)
	if err != nil {
		return nil, err
	}
	account := r.account()
	principalARN := RootARN(account)
	if owner == "" {
		// The store does not limit the root's keys; AWS allows it two too.
		keys, err := s.st.ListAccessKeysForUser(ctx, account, "")
		if err != nil {
			return nil, internal("list root access keys", err)
		}
		if len(keys) >= store.MaxAccessKeysPerUser {
			return nil, quota("AccessKeysPerUser", store.MaxAccessKeysPerUser)
		}
		if err := s.ensureAccount(ctx, account); err != nil {
			return nil, err
		}
	} else {
		u, err := s.loadUser(ctx, account, owner)
		if err != nil {
			return nil, err
		}
		owner, principalARN = u.Name, u.ARN
	}
	created := s.now()
	id, secret, err := s.newKey(ctx, account, owner, principalARN, created)
	if err != nil {
		return nil, errMap{notFound: noSuchUser(owner), limit: quota("AccessKeysPerUser", store.MaxAccessKeysPerUser)}.wrap("create access key", err)
	}
	return &awsquery.CreateAccessKeyOutput{AccessKey: awsquery.AccessKey{
		UserName: owner, AccessKeyId: id, Status: "Active", SecretAccessKey: secret, CreateDate: &created,
	}}, nil
}

func (s *Service) listAccessKeys(ctx context.Context, r *Request, in *awsquery.ListAccessKeysInput) (*awsquery.ListAccessKeysOutput, error) {
	c := iamChecker()
	c.existingUserName("userName", in.UserName)
	p, err := c.pager(in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	owner, err := keyOwner(r, in.UserName)
	if err != nil {
		return nil, err
	}
	keys, err := s.st.ListAccessKeysForUser(ctx, r.account(), owner)
	if err != nil {
		return nil, errMap{notFound: noSuchUser(owner)}.wrap("list access keys", err)
	}
	start, end, marker, err := p.indexes(len(keys))
	if err != nil {
		return nil, err
	}
	out := each(keys[start:end], func(k store.AccessKey) awsquery.AccessKeyMetadata {
		return awsquery.AccessKeyMetadata{UserName: k.UserName, AccessKeyId: k.ID, Status: k.Status(), CreateDate: &k.CreatedAt}
	})
	return &awsquery.ListAccessKeysOutput{AccessKeyMetadata: out, IsTruncated: marker != "", Marker: marker}, nil
}

// ownedKey reads an access key of the account that belongs to owner (""
// for the root). A key of someone else is as absent as a key of no one.
func (s *Service) ownedKey(ctx context.Context, r *Request, userName *string, id string) (store.AccessKey, error) {
	owner, err := keyOwner(r, userName)
	if err != nil {
		return store.AccessKey{}, err
	}
	if owner != "" {
		if _, err := s.loadUser(ctx, r.account(), owner); err != nil {
			return store.AccessKey{}, err
		}
	}
	k, err := s.st.GetAccessKey(ctx, id)
	if err != nil {
		return k, errMap{notFound: noSuchAccessKey(id)}.wrap("get access key", err)
	}
	if k.Account != r.account() || !strings.EqualFold(k.UserName, owner) {
		return k, noSuchAccessKey(id)
	}
	return k, nil
}

func (s *Service) updateAccessKey(ctx context.Context, r *Request, in *awsquery.UpdateAccessKeyInput) error {
	c := iamChecker()
	c.existingUserName("userName", in.UserName)
	c.accessKeyID("accessKeyId", in.AccessKeyId)
	c.enum("status", in.Status, "Active", "Inactive", "Expired")
	if err := c.err(); err != nil {
		return err
	}
	if *in.Status == "Expired" {
		// In the model's enum but not settable (IAM API Reference,
		// UpdateAccessKey: Active or Inactive).
		return iamErr(awsquery.ValidationError, "1 validation error detected: Value at 'status' failed to satisfy constraint: Member must satisfy enum value set")
	}
	k, err := s.ownedKey(ctx, r, in.UserName, *in.AccessKeyId)
	if err != nil {
		return err
	}
	err = s.st.SetAccessKeyActive(ctx, k.ID, *in.Status == "Active")
	return errMap{notFound: noSuchAccessKey(k.ID)}.wrap("update access key", err)
}

func (s *Service) deleteAccessKey(ctx context.Context, r *Request, in *awsquery.DeleteAccessKeyInput) error {
	c := iamChecker()
	c.existingUserName("userName", in.UserName)
	c.accessKeyID("accessKeyId", in.AccessKeyId)
	if err := c.err(); err != nil {
		return err
	}
	k, err := s.ownedKey(ctx, r, in.UserName, *in.AccessKeyId)
	if err != nil {
		return err
	}
	err = s.st.DeleteAccessKey(ctx, k.ID)
	return errMap{notFound: noSuchAccessKey(k.ID)}.wrap("delete access key", err)
}

// getAccessKeyLastUsed answers from the store's last-use columns. A key
// never used has no date and "N/A" for service and region, as AWS sends.
func (s *Service) getAccessKeyLastUsed(ctx context.Context, r *Request, in *awsquery.GetAccessKeyLastUsedInput) (*awsquery.GetAccessKeyLastUsedOutput, error) {
	c := iamChecker()
	c.accessKeyID("accessKeyId", in.AccessKeyId)
	if err := c.err(); err != nil {
		return nil, err
	}
	k, err := s.st.GetAccessKey(ctx, *in.AccessKeyId)
	if err == nil && k.Account != r.account() {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, errMap{notFound: noSuchAccessKey(*in.AccessKeyId)}.wrap("get access key", err)
	}
	out := &awsquery.GetAccessKeyLastUsedOutput{UserName: k.UserName,
		AccessKeyLastUsed: awsquery.AccessKeyLastUsed{ServiceName: "N/A", Region: "N/A"}}
	if !k.LastUsedAt.IsZero() {
		at := k.LastUsedAt
		out.AccessKeyLastUsed = awsquery.AccessKeyLastUsed{LastUsedDate: &at, ServiceName: k.LastUsedService, Region: k.LastUsedRegion}
	}
	return out, nil
}
