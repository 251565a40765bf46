package kms

import (
	"context"
	"sort"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsproto"
	"github.com/trent-kms/trent/internal/store"
)

func checkTagResource(in *awsproto.TagResourceInput) error {
	var v validator
	v.keyID("keyId", in.KeyId)
	if v.required("tags", in.Tags != nil) {
		v.tags("tags", in.Tags)
	}
	return v.err()
}

func (s *Service) tagResource(ctx context.Context, r *Request, in *awsproto.TagResourceInput, a *access) (any, error) {
	e := a.key
	_, err := s.update(ctx, e, func(k *store.Key) error {
		if err := notPendingDeletion(e.arn, k); err != nil {
			return err
		}
		tags, err := checkTags(k.Tags, in.Tags)
		if err != nil {
			return err
		}
		k.Tags = tags
		return nil
	})
	return nil, err
}

func checkUntagResource(in *awsproto.UntagResourceInput) error {
	var v validator
	v.keyID("keyId", in.KeyId)
	if v.required("tagKeys", in.TagKeys != nil) && v.listLength("tagKeys", len(in.TagKeys), 0, maxTagKeys) {
		for i := range in.TagKeys {
			v.length("tagKeys."+itoa(i+1)+".member", &in.TagKeys[i], 1, 128)
		}
	}
	return v.err()
}

func (s *Service) untagResource(ctx context.Context, r *Request, in *awsproto.UntagResourceInput, a *access) (any, error) {
	e := a.key
	remove := make(map[string]bool, len(in.TagKeys))
	for _, k := range in.TagKeys {
		if len(k) >= 4 && k[:4] == "aws:" {
			return nil, apierr.New(apierr.Tag, "Tags beginning with aws: are reserved")
		}
		remove[k] = true
	}
	_, err := s.update(ctx, e, func(k *store.Key) error {
		if err := notPendingDeletion(e.arn, k); err != nil {
			return err
		}
		kept := k.Tags[:0]
		for _, t := range k.Tags {
			if !remove[t.Key] {
				kept = append(kept, t)
			}
		}
		k.Tags = kept
		return nil
	})
	return nil, err
}

func checkListResourceTags(in *awsproto.ListResourceTagsInput) error {
	var v validator
	v.keyID("keyId", in.KeyId)
	if err := v.err(); err != nil {
		return err
	}
	_, _, err := tagPages.params(in.Limit, in.Marker)
	return err
}

func (s *Service) listResourceTags(ctx context.Context, r *Request, in *awsproto.ListResourceTagsInput, a *access) (any, error) {
	limit, after, err := tagPages.params(in.Limit, in.Marker)
	if err != nil {
		return nil, err
	}
	tags := append([]store.Tag(nil), a.key.meta.Tags...)
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
	out := &awsproto.ListResourceTagsOutput{Tags: []awsproto.OutTag{}}
	for _, t := range tags {
		if after != "" && t.Key <= after {
			continue
		}
		if len(out.Tags) == limit {
			out.Truncated = true
			out.NextMarker = encodeMarker("tags", out.Tags[limit-1].TagKey)
			break
		}
		out.Tags = append(out.Tags, awsproto.OutTag{TagKey: t.Key, TagValue: t.Value})
	}
	return out, nil
}
