package store

import (
	"context"
	"errors"
	"time"
)

// Identity storage: accounts, IAM users, groups and roles, their inline and
// managed policies, group membership, users' access keys, KMS grants, and
// the authorization generation that tells caches when any of it changed.
//
// Names. IAM user, group, role and managed-policy names are unique within an
// account without regard to case ("Alice" and "alice" cannot both exist), as
// in AWS. The folding is ASCII only (A–Z and a–z; IAM names are drawn from
// [A-Za-z0-9_+=,.@-]). Every lookup by such a name is case-insensitive; every
// name reads back in the case it was created (or last renamed) with.
// Inline-policy names, tag keys, IDs and ARNs compare exactly.
//
// Listing. Every List method returns rows in byte order of the column named
// in its comment (as Go compares strings; COLLATE "C" on PostgreSQL), only
// those sorting strictly after `after` ("" for the start), at most limit of
// them (limit must be positive), and a non-nil empty slice when there are
// none. A pathPrefix of "" matches every path; otherwise a row matches if its
// path starts with pathPrefix, compared exactly.
//
// Writes. Every method that writes is one transaction: it stores all of its
// change or none of it.

var (
	// ErrDeleteConflict: the row cannot be deleted while other rows depend
	// on it (IAM's DeleteConflict): a user with access keys, policies or
	// groups, a group with members or policies, a policy that is attached or
	// has versions other than the default, the default policy version.
	ErrDeleteConflict = errors.New("store: other rows depend on it")
	// ErrLimit: the write would exceed a per-owner limit (IAM's and KMS's
	// LimitExceeded). The limits are the Max… constants below and the cap
	// passed to CreateGrant.
	ErrLimit = errors.New("store: limit exceeded")
)

// Limits the store enforces inside the writing transaction, so concurrent
// writers cannot overshoot them. They are AWS's quotas.
const (
	// MaxAccessKeysPerUser is how many access keys one IAM user may have.
	// The account root's keys are not counted or limited by the store.
	MaxAccessKeysPerUser = 2
	// MaxAttachedPolicies is how many managed policies one user, group or
	// role may have attached.
	MaxAttachedPolicies = 10
	// MaxPolicyVersions is how many versions one managed policy may have.
	MaxPolicyVersions = 5
	// MaxGroupsPerUser is how many groups one user may be a member of.
	MaxGroupsPerUser = 10
)

// AWSAccount is the Account of AWS-managed policies: they belong to no
// account and every account sees them.
const AWSAccount = "aws"

// Account is a tenant: a 12-digit account id with its root principal.
type Account struct {
	ID        string // 12 ASCII digits
	CreatedAt time.Time
}

// User is an IAM user.
type User struct {
	Account string
	Name    string // unique in the account, case-insensitively
	Path    string // "/" or "/…/"
	ID      string // "AIDA…", unique in the store
	ARN     string // unique in the store
	// PermissionsBoundary is the ARN of the managed policy that bounds the
	// user's permissions, or "". The store does not check that it exists.
	PermissionsBoundary string
	Tags                []Tag
	CreatedAt           time.Time
	// Revision increases by one on every successful UpdateUser; UpdateUser
	// succeeds only if the stored revision equals this one. Membership,
	// policies and access keys have their own rows and do not move it.
	Revision int64
}

// Group is an IAM group.
type Group struct {
	Account   string
	Name      string // unique in the account, case-insensitively
	Path      string
	ID        string // "AGPA…"
	ARN       string
	CreatedAt time.Time
	Revision  int64 // as User.Revision, for UpdateGroup
}

// Role is an IAM role.
type Role struct {
	Account          string
	Name             string // unique in the account, case-insensitively
	Path             string
	ID               string // "AROA…"
	ARN              string
	AssumeRolePolicy string // the trust policy document, as given
	Description      string
	// MaxSessionDuration is the longest session AssumeRole may grant, in
	// seconds.
	MaxSessionDuration  int
	PermissionsBoundary string
	Tags                []Tag
	CreatedAt           time.Time
	Revision            int64 // as User.Revision, for UpdateRole
}

// EntityKind is the kind of an IAM entity that policies attach to.
type EntityKind string

// The kinds of entity.
const (
	KindUser  EntityKind = "user"
	KindGroup EntityKind = "group"
	KindRole  EntityKind = "role"
)

// EntityRef names a user, group or role: by its kind, account and name (the
// name compared case-insensitively).
type EntityRef struct {
	Kind    EntityKind
	Account string
	Name    string
}

// Entity is a user, group or role as ListEntitiesForPolicy reports it.
type Entity struct {
	Kind    EntityKind
	Account string
	Name    string
	Path    string
	ID      string
	ARN     string
}

// Policy is a managed policy. DefaultVersion and AttachmentCount are
// maintained by the store: values in the argument of CreatePolicy are
// ignored.
type Policy struct {
	Account        string // the owning account, or AWSAccount
	Name           string // unique in the account, case-insensitively
	Path           string
	ID             string // "ANPA…"
	ARN            string // unique in the store
	DefaultVersion string // "v1", "v2", …
	// AttachmentCount is how many users, groups and roles the policy is
	// attached to: for its owner every attachment, for another account
	// reading an AWS-managed policy that account's attachments.
	AttachmentCount int
	Description     string
	CreatedAt       time.Time
	// UpdatedAt is when the newest version was created (CreatedAt while
	// the policy has only its first version).
	UpdatedAt time.Time
}

// PolicyVersion is one version of a managed policy's document. Version IDs
// are "v" and a number: v1 is created with the policy, each
// CreatePolicyVersion takes the next number, and numbers are never reused.
type PolicyVersion struct {
	PolicyARN string
	VersionID string
	Document  string
	IsDefault bool
	CreatedAt time.Time
}

// PolicyScope selects managed policies by owner for ListPolicies.
type PolicyScope string

// The scopes, as IAM's ListPolicies names them.
const (
	ScopeAll   PolicyScope = "All"   // the account's and AWS's ("" means All too)
	ScopeAWS   PolicyScope = "AWS"   // AWS-managed only
	ScopeLocal PolicyScope = "Local" // the account's own only
)

// PolicyFilter narrows ListPolicies.
type PolicyFilter struct {
	Scope PolicyScope
	// OnlyAttached keeps policies whose AttachmentCount, as the listing
	// account sees it, is positive.
	OnlyAttached bool
	PathPrefix   string
}

// AccessKeyUse is one sighting of an access key, for UpdateAccessKeyLastUsed.
type AccessKeyUse struct {
	ID      string
	At      time.Time
	Service string // "kms", "iam", "sts"
	Region  string
}

// Accounts stores accounts.
type Accounts interface {
	// CreateAccount stores a new account. ErrExists if the ID exists; an
	// error (not a sentinel) if the ID is not 12 ASCII digits.
	CreateAccount(ctx context.Context, a Account) error
	// GetAccount returns the account, or ErrNotFound.
	GetAccount(ctx context.Context, id string) (Account, error)
	// ListAccounts lists accounts ordered by ID.
	ListAccounts(ctx context.Context, after string, limit int) ([]Account, error)
}

// Users stores IAM users.
type Users interface {
	// CreateUser stores u with revision 1 (u.Revision is ignored).
	// ErrExists if the account has a user of that name in any case, or the
	// ID or ARN is taken; ErrNotFound if the account does not exist.
	CreateUser(ctx context.Context, u User) error
	// GetUser returns the user with its tags, or ErrNotFound.
	GetUser(ctx context.Context, account, name string) (User, error)
	// UpdateUser replaces the name, path, ARN, permissions boundary and tags
	// of the user with ID u.ID in u.Account, if the stored revision equals
	// u.Revision, and returns the user as stored, with its new revision.
	// Renaming also rewrites the PrincipalARN of the user's access keys.
	// ErrNotFound if no such user; ErrConflict if the revision moved;
	// ErrExists if the new name (in any case) or ARN belongs to another
	// user. On error nothing is changed.
	UpdateUser(ctx context.Context, u User) (User, error)
	// DeleteUser removes the user and its tags. ErrNotFound if absent;
	// ErrDeleteConflict while it has access keys, inline or attached
	// policies, or group memberships.
	DeleteUser(ctx context.Context, account, name string) error
	// ListUsers lists the account's users under pathPrefix, ordered by
	// name, with their tags.
	ListUsers(ctx context.Context, account, pathPrefix, after string, limit int) ([]User, error)
}

// Groups stores IAM groups.
type Groups interface {
	// CreateGroup stores g with revision 1; errors as CreateUser.
	CreateGroup(ctx context.Context, g Group) error
	// GetGroup returns the group, or ErrNotFound.
	GetGroup(ctx context.Context, account, name string) (Group, error)
	// UpdateGroup replaces the name, path and ARN of the group with ID g.ID
	// in g.Account, with UpdateUser's revision check and errors.
	UpdateGroup(ctx context.Context, g Group) (Group, error)
	// DeleteGroup removes the group. ErrNotFound if absent;
	// ErrDeleteConflict while it has members, inline or attached policies.
	DeleteGroup(ctx context.Context, account, name string) error
	// ListGroups lists the account's groups under pathPrefix, ordered by
	// name.
	ListGroups(ctx context.Context, account, pathPrefix, after string, limit int) ([]Group, error)
}

// GroupMembers stores which users belong to which groups.
type GroupMembers interface {
	// AddUserToGroup makes the user a member of the group; adding a member
	// again succeeds and changes nothing. ErrNotFound if the group or the
	// user does not exist; ErrLimit if the user is in MaxGroupsPerUser
	// groups already.
	AddUserToGroup(ctx context.Context, account, group, user string) error
	// RemoveUserFromGroup ends a membership. ErrNotFound if the group or the
	// user does not exist or the user is not a member.
	RemoveUserFromGroup(ctx context.Context, account, group, user string) error
	// ListGroupsForUser lists the user's groups ordered by name;
	// ErrNotFound if the user does not exist.
	ListGroupsForUser(ctx context.Context, account, user, after string, limit int) ([]Group, error)
	// ListUsersInGroup lists the group's members ordered by name, with their
	// tags; ErrNotFound if the group does not exist.
	ListUsersInGroup(ctx context.Context, account, group, after string, limit int) ([]User, error)
}

// Roles stores IAM roles.
type Roles interface {
	// CreateRole stores r with revision 1; errors as CreateUser.
	CreateRole(ctx context.Context, r Role) error
	// GetRole returns the role with its tags, or ErrNotFound.
	GetRole(ctx context.Context, account, name string) (Role, error)
	// UpdateRole replaces every field of the role with ID r.ID in r.Account
	// but its ID, account and creation time, with UpdateUser's revision
	// check and errors.
	UpdateRole(ctx context.Context, r Role) (Role, error)
	// DeleteRole removes the role and its tags. ErrNotFound if absent;
	// ErrDeleteConflict while it has inline or attached policies.
	DeleteRole(ctx context.Context, account, name string) error
	// ListRoles lists the account's roles under pathPrefix, ordered by
	// name, with their tags.
	ListRoles(ctx context.Context, account, pathPrefix, after string, limit int) ([]Role, error)
}

// InlinePolicies stores the policy documents embedded in users, groups and
// roles. Policy names are per entity and compare exactly.
type InlinePolicies interface {
	// PutInlinePolicy creates the entity's policy of that name or replaces
	// its document. ErrNotFound if the entity does not exist.
	PutInlinePolicy(ctx context.Context, e EntityRef, name, document string) error
	// GetInlinePolicy returns the document, or ErrNotFound if the entity or
	// the policy does not exist.
	GetInlinePolicy(ctx context.Context, e EntityRef, name string) (string, error)
	// DeleteInlinePolicy removes the policy; ErrNotFound if the entity or
	// the policy does not exist.
	DeleteInlinePolicy(ctx context.Context, e EntityRef, name string) error
	// ListInlinePolicies lists the entity's policy names in byte order;
	// ErrNotFound if the entity does not exist.
	ListInlinePolicies(ctx context.Context, e EntityRef, after string, limit int) ([]string, error)
}

// ManagedPolicies stores managed policies. Every method takes the calling
// account: a policy is visible to its own account and, if AWS-managed, to
// every account; only its own account (AWSAccount for AWS-managed ones) may
// change or delete it. A policy that is not visible, or not the caller's to
// change, is ErrNotFound.
type ManagedPolicies interface {
	// CreatePolicy stores p with its first version, v1, holding document,
	// as the default, created at p.CreatedAt. ErrExists if p.Account has a
	// policy of that name in any case, or the ID or ARN is taken;
	// ErrNotFound if p.Account is neither AWSAccount nor an existing
	// account.
	CreatePolicy(ctx context.Context, p Policy, document string) error
	// GetPolicy returns the policy, or ErrNotFound.
	GetPolicy(ctx context.Context, account, arn string) (Policy, error)
	// DeletePolicy removes the policy and its default version. ErrNotFound
	// if absent; ErrDeleteConflict while it is attached to any entity (of
	// any account) or has other versions.
	DeletePolicy(ctx context.Context, account, arn string) error
	// ListPolicies lists the policies visible to account that pass f,
	// ordered by ARN.
	ListPolicies(ctx context.Context, account string, f PolicyFilter, after string, limit int) ([]Policy, error)
}

// PolicyVersions stores the versions of managed policies, with
// ManagedPolicies' rules of visibility.
type PolicyVersions interface {
	// CreatePolicyVersion adds a version holding document, created at, and
	// makes it the default if setDefault; the policy's UpdatedAt becomes
	// at. It returns the new version. ErrNotFound if no such policy;
	// ErrLimit if it has MaxPolicyVersions versions already.
	CreatePolicyVersion(ctx context.Context, account, arn, document string, setDefault bool, at time.Time) (PolicyVersion, error)
	// GetPolicyVersion returns the version, or ErrNotFound if the policy or
	// the version does not exist.
	GetPolicyVersion(ctx context.Context, account, arn, versionID string) (PolicyVersion, error)
	// ListPolicyVersions returns every version of the policy, newest first
	// (as IAM lists them); ErrNotFound if no such policy.
	ListPolicyVersions(ctx context.Context, account, arn string) ([]PolicyVersion, error)
	// DeletePolicyVersion removes a version. ErrNotFound if the policy or
	// the version does not exist; ErrDeleteConflict for the default
	// version.
	DeletePolicyVersion(ctx context.Context, account, arn, versionID string) error
	// SetDefaultPolicyVersion makes the version the default. ErrNotFound if
	// the policy or the version does not exist. Setting the default version
	// again succeeds.
	SetDefaultPolicyVersion(ctx context.Context, account, arn, versionID string) error
}

// PolicyAttachments stores which managed policies are attached to which
// entities. An entity may have policies of its own account and AWS-managed
// ones attached.
type PolicyAttachments interface {
	// AttachPolicy attaches the policy to the entity; attaching it again
	// succeeds and changes nothing. ErrNotFound if the entity does not
	// exist or the policy is not visible to its account; ErrLimit if the
	// entity has MaxAttachedPolicies other policies attached.
	AttachPolicy(ctx context.Context, e EntityRef, policyARN string) error
	// DetachPolicy detaches it; ErrNotFound if the entity or the policy
	// does not exist or the policy is not attached to the entity.
	DetachPolicy(ctx context.Context, e EntityRef, policyARN string) error
	// ListAttachedPolicies lists the policies attached to the entity under
	// pathPrefix (the policy's path), ordered by ARN; ErrNotFound if the
	// entity does not exist.
	ListAttachedPolicies(ctx context.Context, e EntityRef, pathPrefix, after string, limit int) ([]Policy, error)
	// ListEntitiesForPolicy lists account's entities the policy is attached
	// to, of the given kind ("" for every kind) and under pathPrefix (the
	// entity's path), ordered by the entity's ARN. ErrNotFound if the
	// policy is not visible to account.
	ListEntitiesForPolicy(ctx context.Context, account, policyARN string, kind EntityKind, pathPrefix, after string, limit int) ([]Entity, error)
}

// UserAccessKeys completes AccessKeys for IAM's access-key operations.
// Access keys are identified by their ID alone: the service checks that a
// key belongs to the caller's account and user before changing it.
type UserAccessKeys interface {
	// ListAccessKeysForUser lists the user's access keys ordered by ID;
	// user "" lists the account root's. ErrNotFound if the named user does
	// not exist.
	ListAccessKeysForUser(ctx context.Context, account, user string) ([]AccessKey, error)
	// SetAccessKeyActive activates or deactivates the key (setting the
	// state it has succeeds); ErrNotFound if absent.
	SetAccessKeyActive(ctx context.Context, id string, active bool) error
	// DeleteAccessKey removes the key; ErrNotFound if absent.
	DeleteAccessKey(ctx context.Context, id string) error
	// UpdateAccessKeyLastUsed records a batch of uses in one transaction.
	// For each key it keeps the latest use: a use older than the one
	// stored, or of a key that no longer exists, is skipped without error.
	// It does not move the authorization generation.
	UpdateAccessKeyLastUsed(ctx context.Context, uses []AccessKeyUse) error
}

// AuthzCounter reports the authorization generation: a number that grows
// in the same transaction as every change to accounts, users, groups,
// roles, their tags, membership, inline and managed policies and their
// versions and attachments, access keys (but not their last use) and
// grants, including grants deleted with their key. A call that changes
// nothing (an idempotent repeat) may leave it as it is. Caches of identities
// and decisions compare it for inequality; its value means nothing else.
type AuthzCounter interface {
	// AuthzGeneration returns the current generation (0 in a new store).
	AuthzGeneration(ctx context.Context) (int64, error)
}

// Identities is everything the IAM side of Trent stores.
type Identities interface {
	Accounts
	Users
	Groups
	GroupMembers
	Roles
	InlinePolicies
	ManagedPolicies
	PolicyVersions
	PolicyAttachments
	UserAccessKeys
	AuthzCounter
}

// Grant is a KMS grant on a key.
type Grant struct {
	KeyID   string
	GrantID string // 64 lowercase hex, unique in the store
	Name    string // "" if none was given
	// Account and Region are the key's.
	Account           string
	Region            string
	GranteePrincipal  string
	RetiringPrincipal string // "" if none
	IssuingAccount    string // as an ARN, arn:aws:iam::<account>:root
	Operations        []string
	// The grant constraints. nil means no such constraint; an empty non-nil
	// map is a constraint that the context be empty (Equals) and reads back
	// as such.
	ConstraintsEncryptionContextEquals map[string]string
	ConstraintsEncryptionContextSubset map[string]string
	CreatedAt                          time.Time
}

// GrantFilter narrows ListGrants; an empty field does not filter.
type GrantFilter struct {
	GrantID          string
	GranteePrincipal string
}

// Grants stores KMS grants. A grant lives as long as its key: deleting the
// key deletes its grants.
type Grants interface {
	// CreateGrant stores g and returns it as stored, in one transaction
	// that first looks for a retry and then counts the key's grants:
	//
	//   - If g.Name is not "" and the key has a grant of that Name whose
	//     GranteePrincipal, RetiringPrincipal, IssuingAccount, Operations
	//     (as a set: order and repeats aside) and both constraints (nil
	//     and empty differ) equal g's, nothing is stored and that grant is
	//     returned with ErrExists: the caller answers with its GrantId.
	//     Grants of one Name with other parameters are distinct grants.
	//   - Otherwise, if the key has maxPerKey grants already (maxPerKey
	//     must be positive): ErrLimit.
	//   - ErrNotFound if no key g.KeyID exists in g.Account and g.Region.
	//   - ErrExists with a zero Grant if g.GrantID is taken.
	CreateGrant(ctx context.Context, g Grant, maxPerKey int) (Grant, error)
	// GetGrant returns the key's grant, or ErrNotFound.
	GetGrant(ctx context.Context, keyID, grantID string) (Grant, error)
	// ListGrants lists the key's grants that pass f, ordered by GrantID
	// (an empty slice for a key that does not exist).
	ListGrants(ctx context.Context, keyID string, f GrantFilter, after string, limit int) ([]Grant, error)
	// ListGrantsByRetiringPrincipal lists the grants, on any key, with that
	// RetiringPrincipal, ordered by GrantID.
	ListGrantsByRetiringPrincipal(ctx context.Context, principal, after string, limit int) ([]Grant, error)
	// DeleteGrant removes the key's grant; ErrNotFound if absent.
	DeleteGrant(ctx context.Context, keyID, grantID string) error
}

// Status is the access key's status as IAM reports it: Active or Inactive.
func (k AccessKey) Status() string {
	if k.Active {
		return "Active"
	}
	return "Inactive"
}
