package iam

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsquery"
	"github.com/trent-kms/trent/internal/identity"
	"github.com/trent-kms/trent/internal/store"
)

// Tags of users and roles. IAM tag keys are unique per entity without
// regard to case ("Dept" and "dept" are one key), which is also how
// aws:PrincipalTag/<key> reads them.

// requestTags converts validated request tags, refusing duplicate keys
// (in any case) and keys with AWS's reserved prefix. code is the error code
// for those refusals: IAM's InvalidInput or STS's InvalidParameterValue.
func requestTags(in []awsquery.Tag, code string) ([]store.Tag, error) {
	out := make([]store.Tag, 0, len(in))
	for _, t := range in {
		k, v := str(t.Key), str(t.Value)
		if hasPrefixFold(k, "aws:") {
			return nil, apierr.New(code, msgReservedTagPrefix)
		}
		for _, o := range out {
			if strings.EqualFold(o.Key, k) {
				return nil, apierr.New(code, msgDuplicateTagKeys)
			}
		}
		out = append(out, store.Tag{Key: k, Value: v})
	}
	return out, nil
}

// mergeTags adds or replaces tags (a key matching in any case is replaced,
// taking the new key's case) and reports whether the result is over the
// 50-tag limit.
func mergeTags(have, add []store.Tag) ([]store.Tag, error) {
	out := append([]store.Tag(nil), have...)
	for _, t := range add {
		replaced := false
		for i := range out {
			if strings.EqualFold(out[i].Key, t.Key) {
				out[i], replaced = t, true
				break
			}
		}
		if !replaced {
			out = append(out, t)
		}
	}
	if len(out) > maxTags {
		return nil, iamErr(awsquery.LimitExceeded, msgTooManyTags)
	}
	return out, nil
}

// removeTags drops the tags whose keys are listed, in any case; keys that
// are not there are ignored, as IAM does.
func removeTags(have []store.Tag, keys []string) []store.Tag {
	out := make([]store.Tag, 0, len(have))
	for _, t := range have {
		drop := false
		for _, k := range keys {
			if strings.EqualFold(t.Key, k) {
				drop = true
				break
			}
		}
		if !drop {
			out = append(out, t)
		}
	}
	return out
}

func outTags(tags []store.Tag) []awsquery.OutTag {
	if len(tags) == 0 {
		return nil
	}
	return each(tags, func(t store.Tag) awsquery.OutTag { return awsquery.OutTag{Key: t.Key, Value: t.Value} })
}

func callerTags(tags []store.Tag) []identity.Tag {
	return each(tags, func(t store.Tag) identity.Tag { return identity.Tag{Key: t.Key, Value: t.Value} })
}

// checkTagKeys validates the TagKeys of an Untag request.
func (c *checker) tagKeys(member string, keys []string) {
	c.listLength(member, len(keys), maxTags)
	for i := range keys {
		c.str(member+".member."+strconv.Itoa(i+1), &keys[i], 1, 128, patTagKey, validTagKey)
	}
}

// pageTags pages a tag list by position. Tags keep the order they were
// added in, as IAM lists them.
func pageTags(p pager, tags []store.Tag) (*awsquery.ListTagsOutput, error) {
	start, end, marker, err := p.indexes(len(tags))
	if err != nil {
		return nil, err
	}
	return &awsquery.ListTagsOutput{Tags: outTags(tags[start:end]), IsTruncated: marker != "", Marker: marker}, nil
}

// tagged is a user or a role, the two entities that carry tags and a
// permissions boundary, read for a change to either: tags and boundary
// point into the entity, and save writes it back.
type tagged struct {
	tags     *[]store.Tag
	boundary *string
	save     func(context.Context) error
}

// loadTagged reads the user or role e names, answering NoSuchEntity if it
// is absent.
func (s *Service) loadTagged(ctx context.Context, e entity, account, name string) (tagged, error) {
	switch e.kind {
	case store.KindUser:
		u, err := s.loadUser(ctx, account, name)
		return tagged{&u.Tags, &u.PermissionsBoundary, func(ctx context.Context) error {
			_, err := s.st.UpdateUser(ctx, u)
			return err
		}}, err
	case store.KindRole:
		role, err := s.loadRole(ctx, account, name)
		return tagged{&role.Tags, &role.PermissionsBoundary, func(ctx context.Context) error {
			_, err := s.st.UpdateRole(ctx, role)
			return err
		}}, err
	}
	return tagged{}, internal("load "+string(e.kind), fmt.Errorf("a %s has no tags", e.kind))
}

// tag, untag and listTags are Tag{User,Role}, Untag{User,Role} and
// List{User,Role}Tags.
func (s *Service) tag(ctx context.Context, r *Request, e entity, name *string, tags []awsquery.Tag) error {
	c := iamChecker()
	e.checkName(c, name)
	c.tags("tags", tags)
	if err := c.err(); err != nil {
		return err
	}
	add, err := requestTags(tags, awsquery.InvalidInput)
	if err != nil {
		return err
	}
	x, err := s.loadTagged(ctx, e, r.account(), *name)
	if err != nil {
		return err
	}
	if *x.tags, err = mergeTags(*x.tags, add); err != nil {
		return err
	}
	return errMap{notFound: e.noEntity(*name)}.wrap("tag "+string(e.kind), x.save(ctx))
}

func (s *Service) untag(ctx context.Context, r *Request, e entity, name *string, keys []string) error {
	c := iamChecker()
	e.checkName(c, name)
	c.tagKeys("tagKeys", keys)
	if err := c.err(); err != nil {
		return err
	}
	x, err := s.loadTagged(ctx, e, r.account(), *name)
	if err != nil {
		return err
	}
	*x.tags = removeTags(*x.tags, keys)
	return errMap{notFound: e.noEntity(*name)}.wrap("untag "+string(e.kind), x.save(ctx))
}

func (s *Service) listTags(ctx context.Context, r *Request, e entity, name, marker *string, maxItems *int32) (*awsquery.ListTagsOutput, error) {
	c := iamChecker()
	e.checkName(c, name)
	p, err := c.pager(marker, maxItems)
	if err != nil {
		return nil, err
	}
	x, err := s.loadTagged(ctx, e, r.account(), *name)
	if err != nil {
		return nil, err
	}
	return pageTags(p, *x.tags)
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
