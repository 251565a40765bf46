package iam

import (
	"errors"
	"fmt"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsquery"
	"github.com/trent-kms/trent/internal/store"
)

// IAM's and STS's error messages. Those marked "recorded" are AWS's own
// responses in shared/reference/aws-recorded; the others are AWS's wording
// as its public API references, SDK issue trackers and user reports quote
// it, and are the ones to correct first if a recording disagrees.
const (
	msgNoSuchUser        = "The user with name %s cannot be found." // recorded
	msgNoSuchGroup       = "The group with name %s cannot be found."
	msgNoSuchRole        = "The role with name %s cannot be found."
	msgNoSuchUserPolicy  = "The user policy with name %s cannot be found."
	msgNoSuchGroupPolicy = "The group policy with name %s cannot be found."
	msgNoSuchRolePolicy  = "The role policy with name %s cannot be found."
	msgNoSuchPolicy      = "Policy %s was not found."                           // recorded
	msgNotAttachable     = "Policy %s does not exist or is not attachable."     // recorded
	msgNoSuchVersion     = "Policy %s version %s does not exist."               // guessed
	msgNoSuchBoundary    = "Scope ARN: %s does not exist or is not attachable." // reported
	msgNoSuchAccessKey   = "The Access Key with id %s cannot be found."
	msgBadPolicyARN      = "Invalid ARN:  Could not be parsed!" // recorded, two spaces and all

	msgUserExists   = "User with name %s already exists."
	msgGroupExists  = "Group with name %s already exists."
	msgRoleExists   = "Role with name %s already exists."
	msgPolicyExists = "A policy called %s already exists. Duplicate names are not allowed."

	msgDeleteAccessKeys   = "Cannot delete entity, must delete access keys first."
	msgDeletePolicies     = "Cannot delete entity, must delete policies first."
	msgDetachPolicies     = "Cannot delete entity, must detach all policies first."
	msgRemoveUsers        = "Cannot delete entity, must remove users from group first."
	msgDeleteReferenced   = "Cannot delete entity, must remove referenced objects first." // recorded
	msgPolicyAttached     = "Cannot delete a policy attached to entities."
	msgPolicyHasVersions  = "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy."
	msgDeleteDefault      = "Cannot delete the default version of a policy."
	msgTooManyVersions    = "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version."
	msgQuota              = "Cannot exceed quota for %s: %d"
	msgInlineTooLarge     = "Maximum policy size of %d bytes exceeded for %s %s"
	msgTooManyTags        = "The number of tags has reached the maximum limit."
	msgDuplicateTagKeys   = "Duplicate tag keys found. Please note that Tag keys are case insensitive." // recorded (STS)
	msgReservedTagPrefix  = "User is not authorized to tag with reserved 'aws:' prefix"
	msgInvalidJSON        = "This policy contains invalid Json" // recorded
	msgNonUserCredentials = "Must specify userName when calling with non-User credentials"
	msgInvalidMarker      = "Invalid Marker"
	msgConcurrent         = "The request was rejected because multiple requests to change this object were submitted simultaneously. Wait a few minutes and submit your request again."
)

func iamErr(code, format string, args ...any) *apierr.Error {
	return apierr.New(code, format, args...)
}

// internal wraps an unexpected failure with what was being done. The
// caller sees IAM's ServiceFailure (or STS's InternalFailure) without
// detail; the cause goes to the log.
func internal(what string, err error) *apierr.Error {
	return apierr.Internal(fmt.Errorf("iam: %s: %w", what, err))
}

// storeErr maps a store error for an operation on one entity: ErrNotFound
// to notFound (if given), ErrExists to exists, ErrLimit to limit,
// ErrDeleteConflict to conflict; anything else is internal. An *apierr.Error
// passes through.
type errMap struct {
	notFound, exists, limit, conflict *apierr.Error
}

func (m errMap) wrap(what string, err error) error {
	var ae *apierr.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ae):
		return err
	case errors.Is(err, store.ErrNotFound) && m.notFound != nil:
		return withCause(m.notFound, err)
	case errors.Is(err, store.ErrExists) && m.exists != nil:
		return withCause(m.exists, err)
	case errors.Is(err, store.ErrLimit) && m.limit != nil:
		return withCause(m.limit, err)
	case errors.Is(err, store.ErrDeleteConflict) && m.conflict != nil:
		return withCause(m.conflict, err)
	case errors.Is(err, store.ErrConflict):
		return withCause(iamErr(awsquery.ConcurrentModification, msgConcurrent), err)
	}
	return internal(what, err)
}

// withCause returns a copy of e that keeps cause for the log.
func withCause(e *apierr.Error, cause error) *apierr.Error {
	c := *e
	c.Cause = cause
	return &c
}

func noSuchUser(name string) *apierr.Error {
	return iamErr(awsquery.NoSuchEntity, msgNoSuchUser, name)
}

func noSuchGroup(name string) *apierr.Error {
	return iamErr(awsquery.NoSuchEntity, msgNoSuchGroup, name)
}

func noSuchRole(name string) *apierr.Error {
	return iamErr(awsquery.NoSuchEntity, msgNoSuchRole, name)
}

func noSuchPolicy(arn string) *apierr.Error {
	return iamErr(awsquery.NoSuchEntity, msgNoSuchPolicy, arn)
}

func notAttachable(arn string) *apierr.Error {
	return iamErr(awsquery.NoSuchEntity, msgNotAttachable, arn)
}

func noSuchAccessKey(id string) *apierr.Error {
	return iamErr(awsquery.NoSuchEntity, msgNoSuchAccessKey, id)
}

func quota(name string, n int) *apierr.Error {
	return iamErr(awsquery.LimitExceeded, msgQuota, name, n)
}

func deleteConflict(msg string) *apierr.Error {
	return iamErr(awsquery.DeleteConflict, "%s", msg)
}

func malformed(msg string) *apierr.Error {
	return iamErr(awsquery.MalformedPolicyDocument, "%s", msg)
}

func invalidInput(format string, args ...any) *apierr.Error {
	return iamErr(awsquery.InvalidInput, format, args...)
}
