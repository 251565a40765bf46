package iam

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/store"
)

// AWS-managed policies that concern KMS, attachable in every account by
// their ARN arn:aws:iam::aws:policy/NAME. The documents are written from
// AWS's published policy text (the AWS Managed Policy Reference Guide and
// the KMS Developer Guide, "AWS managed policies for AWS KMS") as the
// author knows it, not copied from a live account; where AWS has published
// several versions, the document is the current one, stored as Trent's v1.
// Only policies whose text is known with confidence are here: a wrong
// managed policy grants the wrong things silently.
var awsManagedPolicies = []struct {
	name, description, document string
}{
	{
		name:        "AWSKeyManagementServicePowerUser",
		description: "Provides access to AWS Key Management Service (AWS KMS).",
		document: `{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "kms:CreateAlias",
                "kms:CreateKey",
                "kms:DeleteAlias",
                "kms:Describe*",
                "kms:GenerateRandom",
                "kms:Get*",
                "kms:List*",
                "kms:TagResource",
                "kms:UntagResource",
                "iam:ListGroups",
                "iam:ListRoles",
                "iam:ListUsers"
            ],
            "Resource": "*"
        }
    ]
}`,
	},
	{
		// Not KMS's own, but the policy most often attached to the people
		// who administer keys: it allows every action, kms:* included.
		name:        "AdministratorAccess",
		description: "Provides full access to AWS services and resources.",
		document: `{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "*",
            "Resource": "*"
        }
    ]
}`,
	},
}

// awsManagedEpoch is the creation date Trent gives the AWS-managed
// policies, so that every node seeds the same rows.
var awsManagedEpoch = time.Date(2015, 2, 6, 18, 40, 0, 0, time.UTC)

// seedManagedPolicies creates the AWS-managed policies that do not exist
// yet. IDs derive from the name, so that nodes seeding one store
// concurrently write the same row and the loser's ErrExists is harmless.
func (s *Service) seedManagedPolicies(ctx context.Context) error {
	for _, m := range awsManagedPolicies {
		if _, err := policy.ParseIdentity(m.document); err != nil {
			return fmt.Errorf("iam: AWS-managed policy %s: %w", m.name, err)
		}
		arn := policyARN(store.AWSAccount, "/", m.name)
		_, err := s.st.GetPolicy(ctx, store.AWSAccount, arn)
		if err == nil {
			continue
		}
		if !isNotFound(err) {
			return fmt.Errorf("iam: get AWS-managed policy %s: %w", m.name, err)
		}
		sum := sha256.Sum256([]byte("trent/aws-managed-policy/" + m.name))
		p := store.Policy{
			Account: store.AWSAccount, Name: m.name, Path: "/", ARN: arn,
			ID:          prefixPolicy + b32.EncodeToString(sum[:])[:uniqueIDLength-len(prefixPolicy)],
			Description: m.description, CreatedAt: awsManagedEpoch, UpdatedAt: awsManagedEpoch,
		}
		if err := s.st.CreatePolicy(ctx, p, m.document); err != nil && !errors.Is(err, store.ErrExists) {
			return fmt.Errorf("iam: create AWS-managed policy %s: %w", m.name, err)
		}
	}
	return nil
}
