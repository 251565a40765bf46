package awsquery

import "time"

// IAM is the IAM API (version 2010-05-08) as Trent serves it.
var IAM = newService("iam", "2010-05-08", "https://iam.amazonaws.com/doc/2010-05-08/", ServiceFailure,
	// Users.
	row[CreateUserInput, UserOutput]("CreateUser"),
	row[GetUserInput, UserOutput]("GetUser"),
	row[ListUsersInput, ListUsersOutput]("ListUsers"),
	rowNoResult[UpdateUserInput]("UpdateUser"),
	rowNoResult[DeleteUserInput]("DeleteUser"),
	rowNoResult[TagUserInput]("TagUser"),
	rowNoResult[UntagUserInput]("UntagUser"),
	row[ListUserTagsInput, ListTagsOutput]("ListUserTags"),

	// Access keys.
	row[CreateAccessKeyInput, CreateAccessKeyOutput]("CreateAccessKey"),
	row[ListAccessKeysInput, ListAccessKeysOutput]("ListAccessKeys"),
	rowNoResult[UpdateAccessKeyInput]("UpdateAccessKey"),
	rowNoResult[DeleteAccessKeyInput]("DeleteAccessKey"),
	row[GetAccessKeyLastUsedInput, GetAccessKeyLastUsedOutput]("GetAccessKeyLastUsed"),

	// Inline user policies.
	rowNoResult[PutUserPolicyInput]("PutUserPolicy"),
	row[GetUserPolicyInput, GetUserPolicyOutput]("GetUserPolicy"),
	rowNoResult[DeleteUserPolicyInput]("DeleteUserPolicy"),
	row[ListUserPoliciesInput, ListPolicyNamesOutput]("ListUserPolicies"),

	// Groups.
	row[CreateGroupInput, GroupOutput]("CreateGroup"),
	row[GetGroupInput, GetGroupOutput]("GetGroup"),
	row[ListGroupsInput, ListGroupsOutput]("ListGroups"),
	rowNoResult[DeleteGroupInput]("DeleteGroup"),
	rowNoResult[AddUserToGroupInput]("AddUserToGroup"),
	rowNoResult[RemoveUserFromGroupInput]("RemoveUserFromGroup"),
	row[ListGroupsForUserInput, ListGroupsOutput]("ListGroupsForUser"),
	rowNoResult[PutGroupPolicyInput]("PutGroupPolicy"),
	row[GetGroupPolicyInput, GetGroupPolicyOutput]("GetGroupPolicy"),
	rowNoResult[DeleteGroupPolicyInput]("DeleteGroupPolicy"),
	row[ListGroupPoliciesInput, ListPolicyNamesOutput]("ListGroupPolicies"),

	// Roles.
	row[CreateRoleInput, RoleOutput]("CreateRole"),
	row[GetRoleInput, RoleOutput]("GetRole"),
	row[ListRolesInput, ListRolesOutput]("ListRoles"),
	rowNoResult[DeleteRoleInput]("DeleteRole"),
	rowNoResult[UpdateAssumeRolePolicyInput]("UpdateAssumeRolePolicy"),
	rowNoResult[TagRoleInput]("TagRole"),
	rowNoResult[UntagRoleInput]("UntagRole"),
	row[ListRoleTagsInput, ListTagsOutput]("ListRoleTags"),
	rowNoResult[PutRolePolicyInput]("PutRolePolicy"),
	row[GetRolePolicyInput, GetRolePolicyOutput]("GetRolePolicy"),
	rowNoResult[DeleteRolePolicyInput]("DeleteRolePolicy"),
	row[ListRolePoliciesInput, ListPolicyNamesOutput]("ListRolePolicies"),

	// Managed policies.
	row[CreatePolicyInput, PolicyOutput]("CreatePolicy"),
	row[GetPolicyInput, PolicyOutput]("GetPolicy"),
	rowNoResult[DeletePolicyInput]("DeletePolicy"),
	row[ListPoliciesInput, ListPoliciesOutput]("ListPolicies"),
	row[CreatePolicyVersionInput, PolicyVersionOutput]("CreatePolicyVersion"),
	row[GetPolicyVersionInput, PolicyVersionOutput]("GetPolicyVersion"),
	row[ListPolicyVersionsInput, ListPolicyVersionsOutput]("ListPolicyVersions"),
	rowNoResult[DeletePolicyVersionInput]("DeletePolicyVersion"),
	rowNoResult[SetDefaultPolicyVersionInput]("SetDefaultPolicyVersion"),
	row[ListEntitiesForPolicyInput, ListEntitiesForPolicyOutput]("ListEntitiesForPolicy"),
	rowNoResult[AttachUserPolicyInput]("AttachUserPolicy"),
	rowNoResult[DetachUserPolicyInput]("DetachUserPolicy"),
	row[ListAttachedUserPoliciesInput, ListAttachedPoliciesOutput]("ListAttachedUserPolicies"),
	rowNoResult[AttachGroupPolicyInput]("AttachGroupPolicy"),
	rowNoResult[DetachGroupPolicyInput]("DetachGroupPolicy"),
	row[ListAttachedGroupPoliciesInput, ListAttachedPoliciesOutput]("ListAttachedGroupPolicies"),
	rowNoResult[AttachRolePolicyInput]("AttachRolePolicy"),
	rowNoResult[DetachRolePolicyInput]("DetachRolePolicy"),
	row[ListAttachedRolePoliciesInput, ListAttachedPoliciesOutput]("ListAttachedRolePolicies"),

	// Permissions boundaries.
	rowNoResult[PutUserPermissionsBoundaryInput]("PutUserPermissionsBoundary"),
	rowNoResult[DeleteUserPermissionsBoundaryInput]("DeleteUserPermissionsBoundary"),
	rowNoResult[PutRolePermissionsBoundaryInput]("PutRolePermissionsBoundary"),
	rowNoResult[DeleteRolePermissionsBoundaryInput]("DeleteRolePermissionsBoundary"),

	// The policy simulator.
	row[SimulatePrincipalPolicyInput, SimulatePolicyOutput]("SimulatePrincipalPolicy"),
	row[SimulateCustomPolicyInput, SimulatePolicyOutput]("SimulateCustomPolicy"),
)

// Request and response shapes of the IAM operations, tagged with AWS's
// member names. In inputs every member is a pointer or a list, so that
// "absent" and "empty" differ, as AWS's validation needs; "required"
// marks the members the IAM model requires (the SDK's validators agree).
// In outputs a value member is always sent, and omitempty marks the ones
// AWS leaves out when they have nothing to say (a user's tags, a role's
// description). Where two operations take the same members, the second
// input is declared from the first (type DetachUserPolicyInput
// AttachUserPolicyInput): it keeps its own name, which the SDK shape
// tests look up, and the members are written once.

// Tag is a tag in a request (IAM Tag, STS Tag).
type Tag struct {
	Key   *string `query:"Key,required"`
	Value *string `query:"Value,required"`
}

// OutTag is a tag in a response.
type OutTag struct {
	Key   string `query:"Key"`
	Value string `query:"Value"`
}

// AttachedPermissionsBoundary is the boundary of a user or role.
// PermissionsBoundaryType is always "Policy".
type AttachedPermissionsBoundary struct {
	PermissionsBoundaryType string `query:"PermissionsBoundaryType"`
	PermissionsBoundaryArn  string `query:"PermissionsBoundaryArn"`
}

// User is an IAM user. GetUser for the account root describes the root
// as AWS does: no Path and no UserName, the account id as UserId.
type User struct {
	Path                string                       `query:"Path,omitempty"`
	UserName            string                       `query:"UserName,omitempty"`
	UserId              string                       `query:"UserId"`
	Arn                 string                       `query:"Arn"`
	CreateDate          time.Time                    `query:"CreateDate"`
	PasswordLastUsed    *time.Time                   `query:"PasswordLastUsed"`
	PermissionsBoundary *AttachedPermissionsBoundary `query:"PermissionsBoundary"`
	Tags                []OutTag                     `query:"Tags,omitempty"`
}

type Group struct {
	Path       string    `query:"Path"`
	GroupName  string    `query:"GroupName"`
	GroupId    string    `query:"GroupId"`
	Arn        string    `query:"Arn"`
	CreateDate time.Time `query:"CreateDate"`
}

type RoleLastUsed struct {
	LastUsedDate *time.Time `query:"LastUsedDate"`
	Region       string     `query:"Region,omitempty"`
}

// Role is a role. GetRole sends all of it; ListRoles leaves out the
// boundary, the tags and RoleLastUsed, which its handler leaves nil.
type Role struct {
	Path                     string                       `query:"Path"`
	RoleName                 string                       `query:"RoleName"`
	RoleId                   string                       `query:"RoleId"`
	Arn                      string                       `query:"Arn"`
	CreateDate               time.Time                    `query:"CreateDate"`
	AssumeRolePolicyDocument PolicyDocument               `query:"AssumeRolePolicyDocument,omitempty"`
	Description              string                       `query:"Description,omitempty"`
	MaxSessionDuration       *int32                       `query:"MaxSessionDuration"`
	PermissionsBoundary      *AttachedPermissionsBoundary `query:"PermissionsBoundary"`
	Tags                     []OutTag                     `query:"Tags,omitempty"`
	RoleLastUsed             *RoleLastUsed                `query:"RoleLastUsed"`
}

type Policy struct {
	PolicyName                    string    `query:"PolicyName"`
	PolicyId                      string    `query:"PolicyId"`
	Arn                           string    `query:"Arn"`
	Path                          string    `query:"Path"`
	DefaultVersionId              string    `query:"DefaultVersionId"`
	AttachmentCount               *int32    `query:"AttachmentCount"`
	PermissionsBoundaryUsageCount *int32    `query:"PermissionsBoundaryUsageCount"`
	IsAttachable                  bool      `query:"IsAttachable"`
	Description                   string    `query:"Description,omitempty"`
	CreateDate                    time.Time `query:"CreateDate"`
	UpdateDate                    time.Time `query:"UpdateDate"`
	Tags                          []OutTag  `query:"Tags,omitempty"`
}

// PolicyVersion is a version of a managed policy. AWS sends Document from
// GetPolicyVersion only; CreatePolicyVersion and ListPolicyVersions leave
// it empty.
type PolicyVersion struct {
	Document         PolicyDocument `query:"Document,omitempty"`
	VersionId        string         `query:"VersionId"`
	IsDefaultVersion bool           `query:"IsDefaultVersion"`
	CreateDate       time.Time      `query:"CreateDate"`
}

type AccessKey struct {
	UserName        string     `query:"UserName"`
	AccessKeyId     string     `query:"AccessKeyId"`
	Status          string     `query:"Status"`
	SecretAccessKey string     `query:"SecretAccessKey"`
	CreateDate      *time.Time `query:"CreateDate"`
}

type AccessKeyMetadata struct {
	UserName    string     `query:"UserName"`
	AccessKeyId string     `query:"AccessKeyId"`
	Status      string     `query:"Status"`
	CreateDate  *time.Time `query:"CreateDate"`
}

// AccessKeyLastUsed: for a key never used AWS sends no LastUsedDate and
// "N/A" as ServiceName and Region.
type AccessKeyLastUsed struct {
	LastUsedDate *time.Time `query:"LastUsedDate"`
	ServiceName  string     `query:"ServiceName"`
	Region       string     `query:"Region"`
}

type AttachedPolicy struct {
	PolicyName string `query:"PolicyName"`
	PolicyArn  string `query:"PolicyArn"`
}

type PolicyGroup struct {
	GroupName string `query:"GroupName"`
	GroupId   string `query:"GroupId"`
}

type PolicyUser struct {
	UserName string `query:"UserName"`
	UserId   string `query:"UserId"`
}

type PolicyRole struct {
	RoleName string `query:"RoleName"`
	RoleId   string `query:"RoleId"`
}

// --- Users.

type CreateUserInput struct {
	Path                *string `query:"Path"`
	UserName            *string `query:"UserName,required"`
	PermissionsBoundary *string `query:"PermissionsBoundary"`
	Tags                []Tag   `query:"Tags"`
}

// UserOutput is the result of CreateUser and GetUser.
type UserOutput struct {
	User User `query:"User"`
}

// GetUserInput: without UserName, GetUser describes the caller.
type GetUserInput struct {
	UserName *string `query:"UserName"`
}

// Paging members shared by the List operations: Marker is the opaque
// token of the previous page, MaxItems the page size (1 to 1000, default
// 100).

type ListUsersInput struct {
	PathPrefix *string `query:"PathPrefix"`
	Marker     *string `query:"Marker"`
	MaxItems   *int32  `query:"MaxItems"`
}

type ListUsersOutput struct {
	Users       []User `query:"Users"`
	IsTruncated bool   `query:"IsTruncated"`
	Marker      string `query:"Marker,omitempty"`
}

type UpdateUserInput struct {
	UserName    *string `query:"UserName,required"`
	NewPath     *string `query:"NewPath"`
	NewUserName *string `query:"NewUserName"`
}

type DeleteUserInput struct {
	UserName *string `query:"UserName,required"`
}

type TagUserInput struct {
	UserName *string `query:"UserName,required"`
	Tags     []Tag   `query:"Tags,required"`
}

type UntagUserInput struct {
	UserName *string  `query:"UserName,required"`
	TagKeys  []string `query:"TagKeys,required"`
}

type ListUserTagsInput struct {
	UserName *string `query:"UserName,required"`
	Marker   *string `query:"Marker"`
	MaxItems *int32  `query:"MaxItems"`
}

// ListTagsOutput is the result of ListUserTags and ListRoleTags.
type ListTagsOutput struct {
	Tags        []OutTag `query:"Tags"`
	IsTruncated bool     `query:"IsTruncated"`
	Marker      string   `query:"Marker,omitempty"`
}

// --- Access keys.

// CreateAccessKeyInput: without UserName, the key is the caller's.
type CreateAccessKeyInput struct {
	UserName *string `query:"UserName"`
}

type CreateAccessKeyOutput struct {
	AccessKey AccessKey `query:"AccessKey"`
}

type ListAccessKeysInput struct {
	UserName *string `query:"UserName"`
	Marker   *string `query:"Marker"`
	MaxItems *int32  `query:"MaxItems"`
}

type ListAccessKeysOutput struct {
	AccessKeyMetadata []AccessKeyMetadata `query:"AccessKeyMetadata"`
	IsTruncated       bool                `query:"IsTruncated"`
	Marker            string              `query:"Marker,omitempty"`
}

type UpdateAccessKeyInput struct {
	UserName    *string `query:"UserName"`
	AccessKeyId *string `query:"AccessKeyId,required"`
	Status      *string `query:"Status,required"`
}

type DeleteAccessKeyInput struct {
	UserName    *string `query:"UserName"`
	AccessKeyId *string `query:"AccessKeyId,required"`
}

type GetAccessKeyLastUsedInput struct {
	AccessKeyId *string `query:"AccessKeyId,required"`
}

type GetAccessKeyLastUsedOutput struct {
	UserName          string            `query:"UserName,omitempty"`
	AccessKeyLastUsed AccessKeyLastUsed `query:"AccessKeyLastUsed"`
}

// --- Inline policies of users, groups and roles.

type PutUserPolicyInput struct {
	UserName       *string `query:"UserName,required"`
	PolicyName     *string `query:"PolicyName,required"`
	PolicyDocument *string `query:"PolicyDocument,required"`
}

type GetUserPolicyInput struct {
	UserName   *string `query:"UserName,required"`
	PolicyName *string `query:"PolicyName,required"`
}

type GetUserPolicyOutput struct {
	UserName       string         `query:"UserName"`
	PolicyName     string         `query:"PolicyName"`
	PolicyDocument PolicyDocument `query:"PolicyDocument"`
}

type DeleteUserPolicyInput GetUserPolicyInput

type ListUserPoliciesInput struct {
	UserName *string `query:"UserName,required"`
	Marker   *string `query:"Marker"`
	MaxItems *int32  `query:"MaxItems"`
}

// ListPolicyNamesOutput is the result of List{User,Group,Role}Policies.
type ListPolicyNamesOutput struct {
	PolicyNames []string `query:"PolicyNames"`
	IsTruncated bool     `query:"IsTruncated"`
	Marker      string   `query:"Marker,omitempty"`
}

type PutGroupPolicyInput struct {
	GroupName      *string `query:"GroupName,required"`
	PolicyName     *string `query:"PolicyName,required"`
	PolicyDocument *string `query:"PolicyDocument,required"`
}

type GetGroupPolicyInput struct {
	GroupName  *string `query:"GroupName,required"`
	PolicyName *string `query:"PolicyName,required"`
}

type GetGroupPolicyOutput struct {
	GroupName      string         `query:"GroupName"`
	PolicyName     string         `query:"PolicyName"`
	PolicyDocument PolicyDocument `query:"PolicyDocument"`
}

type DeleteGroupPolicyInput GetGroupPolicyInput

type ListGroupPoliciesInput struct {
	GroupName *string `query:"GroupName,required"`
	Marker    *string `query:"Marker"`
	MaxItems  *int32  `query:"MaxItems"`
}

type PutRolePolicyInput struct {
	RoleName       *string `query:"RoleName,required"`
	PolicyName     *string `query:"PolicyName,required"`
	PolicyDocument *string `query:"PolicyDocument,required"`
}

type GetRolePolicyInput struct {
	RoleName   *string `query:"RoleName,required"`
	PolicyName *string `query:"PolicyName,required"`
}

type GetRolePolicyOutput struct {
	RoleName       string         `query:"RoleName"`
	PolicyName     string         `query:"PolicyName"`
	PolicyDocument PolicyDocument `query:"PolicyDocument"`
}

type DeleteRolePolicyInput GetRolePolicyInput

type ListRolePoliciesInput struct {
	RoleName *string `query:"RoleName,required"`
	Marker   *string `query:"Marker"`
	MaxItems *int32  `query:"MaxItems"`
}

// --- Groups.

type CreateGroupInput struct {
	Path      *string `query:"Path"`
	GroupName *string `query:"GroupName,required"`
}

// GroupOutput is the result of CreateGroup.
type GroupOutput struct {
	Group Group `query:"Group"`
}

type GetGroupInput struct {
	GroupName *string `query:"GroupName,required"`
	Marker    *string `query:"Marker"`
	MaxItems  *int32  `query:"MaxItems"`
}

// GetGroupOutput is a group and a page of its users.
type GetGroupOutput struct {
	Group       Group  `query:"Group"`
	Users       []User `query:"Users"`
	IsTruncated bool   `query:"IsTruncated"`
	Marker      string `query:"Marker,omitempty"`
}

type ListGroupsInput ListUsersInput

// ListGroupsOutput is the result of ListGroups and ListGroupsForUser.
type ListGroupsOutput struct {
	Groups      []Group `query:"Groups"`
	IsTruncated bool    `query:"IsTruncated"`
	Marker      string  `query:"Marker,omitempty"`
}

type DeleteGroupInput struct {
	GroupName *string `query:"GroupName,required"`
}

type AddUserToGroupInput struct {
	GroupName *string `query:"GroupName,required"`
	UserName  *string `query:"UserName,required"`
}

type RemoveUserFromGroupInput AddUserToGroupInput

type ListGroupsForUserInput struct {
	UserName *string `query:"UserName,required"`
	Marker   *string `query:"Marker"`
	MaxItems *int32  `query:"MaxItems"`
}

// --- Roles.

type CreateRoleInput struct {
	Path                     *string `query:"Path"`
	RoleName                 *string `query:"RoleName,required"`
	AssumeRolePolicyDocument *string `query:"AssumeRolePolicyDocument,required"`
	Description              *string `query:"Description"`
	MaxSessionDuration       *int32  `query:"MaxSessionDuration"`
	PermissionsBoundary      *string `query:"PermissionsBoundary"`
	Tags                     []Tag   `query:"Tags"`
}

// RoleOutput is the result of CreateRole and GetRole.
type RoleOutput struct {
	Role Role `query:"Role"`
}

type GetRoleInput struct {
	RoleName *string `query:"RoleName,required"`
}

type ListRolesInput ListUsersInput

type ListRolesOutput struct {
	Roles       []Role `query:"Roles"`
	IsTruncated bool   `query:"IsTruncated"`
	Marker      string `query:"Marker,omitempty"`
}

type DeleteRoleInput GetRoleInput

type UpdateAssumeRolePolicyInput struct {
	RoleName       *string `query:"RoleName,required"`
	PolicyDocument *string `query:"PolicyDocument,required"`
}

type TagRoleInput struct {
	RoleName *string `query:"RoleName,required"`
	Tags     []Tag   `query:"Tags,required"`
}

type UntagRoleInput struct {
	RoleName *string  `query:"RoleName,required"`
	TagKeys  []string `query:"TagKeys,required"`
}

type ListRoleTagsInput struct {
	RoleName *string `query:"RoleName,required"`
	Marker   *string `query:"Marker"`
	MaxItems *int32  `query:"MaxItems"`
}

// --- Managed policies.

type CreatePolicyInput struct {
	PolicyName     *string `query:"PolicyName,required"`
	Path           *string `query:"Path"`
	PolicyDocument *string `query:"PolicyDocument,required"`
	Description    *string `query:"Description"`
	Tags           []Tag   `query:"Tags"`
}

// PolicyOutput is the result of CreatePolicy and GetPolicy.
type PolicyOutput struct {
	Policy Policy `query:"Policy"`
}

type GetPolicyInput struct {
	PolicyArn *string `query:"PolicyArn,required"`
}

type DeletePolicyInput GetPolicyInput

// ListPoliciesInput: Scope is All, AWS or Local; PolicyUsageFilter is
// PermissionsPolicy or PermissionsBoundary.
type ListPoliciesInput struct {
	Scope             *string `query:"Scope"`
	OnlyAttached      *bool   `query:"OnlyAttached"`
	PathPrefix        *string `query:"PathPrefix"`
	PolicyUsageFilter *string `query:"PolicyUsageFilter"`
	Marker            *string `query:"Marker"`
	MaxItems          *int32  `query:"MaxItems"`
}

type ListPoliciesOutput struct {
	Policies    []Policy `query:"Policies"`
	IsTruncated bool     `query:"IsTruncated"`
	Marker      string   `query:"Marker,omitempty"`
}

type CreatePolicyVersionInput struct {
	PolicyArn      *string `query:"PolicyArn,required"`
	PolicyDocument *string `query:"PolicyDocument,required"`
	SetAsDefault   *bool   `query:"SetAsDefault"`
}

// PolicyVersionOutput is the result of CreatePolicyVersion and
// GetPolicyVersion.
type PolicyVersionOutput struct {
	PolicyVersion PolicyVersion `query:"PolicyVersion"`
}

type GetPolicyVersionInput struct {
	PolicyArn *string `query:"PolicyArn,required"`
	VersionId *string `query:"VersionId,required"`
}

type ListPolicyVersionsInput struct {
	PolicyArn *string `query:"PolicyArn,required"`
	Marker    *string `query:"Marker"`
	MaxItems  *int32  `query:"MaxItems"`
}

type ListPolicyVersionsOutput struct {
	Versions    []PolicyVersion `query:"Versions"`
	IsTruncated bool            `query:"IsTruncated"`
	Marker      string          `query:"Marker,omitempty"`
}

type DeletePolicyVersionInput GetPolicyVersionInput

type SetDefaultPolicyVersionInput GetPolicyVersionInput

// ListEntitiesForPolicyInput: EntityFilter is User, Role, Group,
// LocalManagedPolicy or AWSManagedPolicy.
type ListEntitiesForPolicyInput struct {
	PolicyArn         *string `query:"PolicyArn,required"`
	EntityFilter      *string `query:"EntityFilter"`
	PathPrefix        *string `query:"PathPrefix"`
	PolicyUsageFilter *string `query:"PolicyUsageFilter"`
	Marker            *string `query:"Marker"`
	MaxItems          *int32  `query:"MaxItems"`
}

type ListEntitiesForPolicyOutput struct {
	PolicyGroups []PolicyGroup `query:"PolicyGroups"`
	PolicyUsers  []PolicyUser  `query:"PolicyUsers"`
	PolicyRoles  []PolicyRole  `query:"PolicyRoles"`
	IsTruncated  bool          `query:"IsTruncated"`
	Marker       string        `query:"Marker,omitempty"`
}

type AttachUserPolicyInput struct {
	UserName  *string `query:"UserName,required"`
	PolicyArn *string `query:"PolicyArn,required"`
}

type DetachUserPolicyInput AttachUserPolicyInput

type ListAttachedUserPoliciesInput struct {
	UserName   *string `query:"UserName,required"`
	PathPrefix *string `query:"PathPrefix"`
	Marker     *string `query:"Marker"`
	MaxItems   *int32  `query:"MaxItems"`
}

// ListAttachedPoliciesOutput is the result of
// ListAttached{User,Group,Role}Policies.
type ListAttachedPoliciesOutput struct {
	AttachedPolicies []AttachedPolicy `query:"AttachedPolicies"`
	IsTruncated      bool             `query:"IsTruncated"`
	Marker           string           `query:"Marker,omitempty"`
}

type AttachGroupPolicyInput struct {
	GroupName *string `query:"GroupName,required"`
	PolicyArn *string `query:"PolicyArn,required"`
}

type DetachGroupPolicyInput AttachGroupPolicyInput

type ListAttachedGroupPoliciesInput struct {
	GroupName  *string `query:"GroupName,required"`
	PathPrefix *string `query:"PathPrefix"`
	Marker     *string `query:"Marker"`
	MaxItems   *int32  `query:"MaxItems"`
}

type AttachRolePolicyInput struct {
	RoleName  *string `query:"RoleName,required"`
	PolicyArn *string `query:"PolicyArn,required"`
}

type DetachRolePolicyInput AttachRolePolicyInput

type ListAttachedRolePoliciesInput struct {
	RoleName   *string `query:"RoleName,required"`
	PathPrefix *string `query:"PathPrefix"`
	Marker     *string `query:"Marker"`
	MaxItems   *int32  `query:"MaxItems"`
}

// --- Permissions boundaries.

type PutUserPermissionsBoundaryInput struct {
	UserName            *string `query:"UserName,required"`
	PermissionsBoundary *string `query:"PermissionsBoundary,required"`
}

type DeleteUserPermissionsBoundaryInput DeleteUserInput

type PutRolePermissionsBoundaryInput struct {
	RoleName            *string `query:"RoleName,required"`
	PermissionsBoundary *string `query:"PermissionsBoundary,required"`
}

type DeleteRolePermissionsBoundaryInput GetRoleInput

// --- The policy simulator.

// ContextEntry is a condition key and its values for a simulation.
// ContextKeyType is string, stringList, numeric, numericList, boolean,
// booleanList, ip, ipList, binary, binaryList, date or dateList.
type ContextEntry struct {
	ContextKeyName   *string  `query:"ContextKeyName"`
	ContextKeyValues []string `query:"ContextKeyValues"`
	ContextKeyType   *string  `query:"ContextKeyType"`
}

// SimulatePrincipalPolicyInput. PolicyExclusionList, added to the model in
// 2025, is not decoded: a request naming it is simulated as if it had
// excluded nothing.
type SimulatePrincipalPolicyInput struct {
	PolicySourceArn                    *string        `query:"PolicySourceArn,required"`
	PolicyInputList                    []string       `query:"PolicyInputList"`
	PermissionsBoundaryPolicyInputList []string       `query:"PermissionsBoundaryPolicyInputList"`
	ActionNames                        []string       `query:"ActionNames,required"`
	ResourceArns                       []string       `query:"ResourceArns"`
	ResourcePolicy                     *string        `query:"ResourcePolicy"`
	ResourceOwner                      *string        `query:"ResourceOwner"`
	CallerArn                          *string        `query:"CallerArn"`
	ContextEntries                     []ContextEntry `query:"ContextEntries"`
	ResourceHandlingOption             *string        `query:"ResourceHandlingOption"`
	MaxItems                           *int32         `query:"MaxItems"`
	Marker                             *string        `query:"Marker"`
}

type SimulateCustomPolicyInput struct {
	PolicyInputList                    []string       `query:"PolicyInputList,required"`
	PermissionsBoundaryPolicyInputList []string       `query:"PermissionsBoundaryPolicyInputList"`
	ActionNames                        []string       `query:"ActionNames,required"`
	ResourceArns                       []string       `query:"ResourceArns"`
	ResourcePolicy                     *string        `query:"ResourcePolicy"`
	ResourceOwner                      *string        `query:"ResourceOwner"`
	CallerArn                          *string        `query:"CallerArn"`
	ContextEntries                     []ContextEntry `query:"ContextEntries"`
	ResourceHandlingOption             *string        `query:"ResourceHandlingOption"`
	MaxItems                           *int32         `query:"MaxItems"`
	Marker                             *string        `query:"Marker"`
}

// Position is a place in a policy document, counted from 1.
type Position struct {
	Line   int32 `query:"Line"`
	Column int32 `query:"Column"`
}

// Statement is a policy statement that contributed to a decision.
// SourcePolicyType is user, group, role, aws-managed, user-managed,
// resource or none.
type Statement struct {
	SourcePolicyId   string    `query:"SourcePolicyId,omitempty"`
	SourcePolicyType string    `query:"SourcePolicyType,omitempty"`
	StartPosition    *Position `query:"StartPosition"`
	EndPosition      *Position `query:"EndPosition"`
}

type OrganizationsDecisionDetail struct {
	AllowedByOrganizations bool `query:"AllowedByOrganizations"`
}

type PermissionsBoundaryDecisionDetail struct {
	AllowedByPermissionsBoundary bool `query:"AllowedByPermissionsBoundary"`
}

// ResourceSpecificResult is the decision for one resource of an
// EvaluationResult.
type ResourceSpecificResult struct {
	EvalResourceName                  string                             `query:"EvalResourceName"`
	EvalResourceDecision              string                             `query:"EvalResourceDecision"`
	MatchedStatements                 []Statement                        `query:"MatchedStatements"`
	MissingContextValues              []string                           `query:"MissingContextValues"`
	EvalDecisionDetails               map[string]string                  `query:"EvalDecisionDetails,omitempty"`
	PermissionsBoundaryDecisionDetail *PermissionsBoundaryDecisionDetail `query:"PermissionsBoundaryDecisionDetail"`
}

// EvaluationResult is the decision for one action. EvalDecision is
// allowed, explicitDeny or implicitDeny.
type EvaluationResult struct {
	EvalActionName                    string                             `query:"EvalActionName"`
	EvalResourceName                  string                             `query:"EvalResourceName,omitempty"`
	EvalDecision                      string                             `query:"EvalDecision"`
	MatchedStatements                 []Statement                        `query:"MatchedStatements"`
	MissingContextValues              []string                           `query:"MissingContextValues"`
	OrganizationsDecisionDetail       *OrganizationsDecisionDetail       `query:"OrganizationsDecisionDetail"`
	PermissionsBoundaryDecisionDetail *PermissionsBoundaryDecisionDetail `query:"PermissionsBoundaryDecisionDetail"`
	EvalDecisionDetails               map[string]string                  `query:"EvalDecisionDetails,omitempty"`
	ResourceSpecificResults           []ResourceSpecificResult           `query:"ResourceSpecificResults,omitempty"`
}

// SimulatePolicyOutput is the result of SimulatePrincipalPolicy and
// SimulateCustomPolicy.
type SimulatePolicyOutput struct {
	EvaluationResults []EvaluationResult `query:"EvaluationResults"`
	IsTruncated       bool               `query:"IsTruncated"`
	Marker            string             `query:"Marker,omitempty"`
}
