package awsquery

import "time"

// STS is the STS API (version 2011-06-15) as Trent serves it.
var STS = newService("sts", "2011-06-15", "https://sts.amazonaws.com/doc/2011-06-15/", InternalFailure,
	row[GetCallerIdentityInput, GetCallerIdentityOutput]("GetCallerIdentity"),
	row[AssumeRoleInput, AssumeRoleOutput]("AssumeRole"),
	row[GetSessionTokenInput, GetSessionTokenOutput]("GetSessionToken"),
	row[GetAccessKeyInfoInput, GetAccessKeyInfoOutput]("GetAccessKeyInfo"),
)

// Request and response shapes of the STS operations; the conventions are
// IAM's (see iam.go).

type GetCallerIdentityInput struct{}

type GetCallerIdentityOutput struct {
	UserId  string `query:"UserId"`
	Account string `query:"Account"`
	Arn     string `query:"Arn"`
}

// PolicyDescriptorType names a managed policy to use as a session policy.
// Its one member is spelled "arn", in lower case, on the wire.
type PolicyDescriptorType struct {
	Arn *string `query:"arn"`
}

// ProvidedContext is a context assertion from a trusted context provider.
type ProvidedContext struct {
	ProviderArn      *string `query:"ProviderArn"`
	ContextAssertion *string `query:"ContextAssertion"`
}

type AssumeRoleInput struct {
	RoleArn           *string                `query:"RoleArn,required"`
	RoleSessionName   *string                `query:"RoleSessionName,required"`
	PolicyArns        []PolicyDescriptorType `query:"PolicyArns"`
	Policy            *string                `query:"Policy"`
	DurationSeconds   *int32                 `query:"DurationSeconds"`
	Tags              []Tag                  `query:"Tags"`
	TransitiveTagKeys []string               `query:"TransitiveTagKeys"`
	ExternalId        *string                `query:"ExternalId"`
	SerialNumber      *string                `query:"SerialNumber"`
	TokenCode         *string                `query:"TokenCode"`
	SourceIdentity    *string                `query:"SourceIdentity"`
	ProvidedContexts  []ProvidedContext      `query:"ProvidedContexts"`
}

// Credentials are temporary security credentials. The secret and the
// token are sent to the caller once and must never be logged.
type Credentials struct {
	AccessKeyId     string    `query:"AccessKeyId"`
	SecretAccessKey string    `query:"SecretAccessKey"`
	SessionToken    string    `query:"SessionToken"`
	Expiration      time.Time `query:"Expiration"`
}

type AssumedRoleUser struct {
	AssumedRoleId string `query:"AssumedRoleId"`
	Arn           string `query:"Arn"`
}

// AssumeRoleOutput. SessionTokenSize is the size of the session token in
// bytes and SessionTokenUtilization the percentage (0-100) of the largest
// allowed token it uses; PackedPolicySize is the older name of the
// latter, which the model now marks deprecated but clients built before
// 2025 still read. Handlers set all three or none.
type AssumeRoleOutput struct {
	Credentials             Credentials     `query:"Credentials"`
	AssumedRoleUser         AssumedRoleUser `query:"AssumedRoleUser"`
	PackedPolicySize        *int32          `query:"PackedPolicySize"`
	SessionTokenSize        *int32          `query:"SessionTokenSize"`
	SessionTokenUtilization *int32          `query:"SessionTokenUtilization"`
	SourceIdentity          string          `query:"SourceIdentity,omitempty"`
}

type GetSessionTokenInput struct {
	DurationSeconds *int32  `query:"DurationSeconds"`
	SerialNumber    *string `query:"SerialNumber"`
	TokenCode       *string `query:"TokenCode"`
}

type GetSessionTokenOutput struct {
	Credentials             Credentials `query:"Credentials"`
	SessionTokenSize        *int32      `query:"SessionTokenSize"`
	SessionTokenUtilization *int32      `query:"SessionTokenUtilization"`
}

type GetAccessKeyInfoInput struct {
	AccessKeyId *string `query:"AccessKeyId,required"`
}

type GetAccessKeyInfoOutput struct {
	Account string `query:"Account"`
}
