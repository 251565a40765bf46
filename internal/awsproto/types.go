package awsproto

// Request and response shapes of the KMS operations, tagged with AWS's member
// names. Optional numbers are pointers so that "absent" and "0" differ, as
// AWS's validation needs. Blobs are []byte, read and written as standard
// base64 with padding, which is AWS's blob encoding. Output members that
// hold plaintext are tagged awsproto:"sensitive" (see Encode).

type Tag struct {
	TagKey   *string `json:"TagKey"`
	TagValue *string `json:"TagValue"`
}

type OutTag struct {
	TagKey   string `json:"TagKey"`
	TagValue string `json:"TagValue"`
}

type KeyMetadata struct {
	AWSAccountId                string     `json:"AWSAccountId"`
	KeyId                       string     `json:"KeyId"`
	Arn                         string     `json:"Arn"`
	CreationDate                *Timestamp `json:"CreationDate,omitempty"`
	Enabled                     bool       `json:"Enabled"`
	Description                 string     `json:"Description"`
	KeyUsage                    string     `json:"KeyUsage"`
	KeyState                    string     `json:"KeyState"`
	DeletionDate                *Timestamp `json:"DeletionDate,omitempty"`
	Origin                      string     `json:"Origin"`
	KeyManager                  string     `json:"KeyManager"`
	CustomerMasterKeySpec       string     `json:"CustomerMasterKeySpec"`
	KeySpec                     string     `json:"KeySpec"`
	EncryptionAlgorithms        []string   `json:"EncryptionAlgorithms,omitempty"`
	SigningAlgorithms           []string   `json:"SigningAlgorithms,omitempty"`
	MacAlgorithms               []string   `json:"MacAlgorithms,omitempty"`
	KeyAgreementAlgorithms      []string   `json:"KeyAgreementAlgorithms,omitempty"`
	EncapsulationAlgorithms     []string   `json:"EncapsulationAlgorithms,omitempty"`
	MultiRegion                 bool       `json:"MultiRegion"`
	PendingDeletionWindowInDays *int32     `json:"PendingDeletionWindowInDays,omitempty"`
	CurrentKeyMaterialId        string     `json:"CurrentKeyMaterialId,omitempty"`
	// Multi-Region keys only (multiregion.go).
	MultiRegionConfiguration *MultiRegionConfiguration `json:"MultiRegionConfiguration,omitempty"`
	// Imported key material (Origin EXTERNAL): whether and when the current
	// material expires.
	ExpirationModel string     `json:"ExpirationModel,omitempty"`
	ValidTo         *Timestamp `json:"ValidTo,omitempty"`
}

type CreateKeyInput struct {
	Policy                         *string `json:"Policy"`
	Description                    *string `json:"Description"`
	KeyUsage                       *string `json:"KeyUsage"`
	CustomerMasterKeySpec          *string `json:"CustomerMasterKeySpec"`
	KeySpec                        *string `json:"KeySpec"`
	Origin                         *string `json:"Origin"`
	CustomKeyStoreId               *string `json:"CustomKeyStoreId"`
	BypassPolicyLockoutSafetyCheck bool    `json:"BypassPolicyLockoutSafetyCheck"`
	Tags                           []Tag   `json:"Tags"`
	MultiRegion                    bool    `json:"MultiRegion"`
	XksKeyId                       *string `json:"XksKeyId"`
}

type KeyMetadataOutput struct {
	KeyMetadata *KeyMetadata `json:"KeyMetadata"`
}

type KeyIdInput struct {
	KeyId *string `json:"KeyId"`
}

type DescribeKeyInput struct {
	KeyId       *string  `json:"KeyId"`
	GrantTokens []string `json:"GrantTokens"`
}

type ListInput struct {
	Limit  *int32  `json:"Limit"`
	Marker *string `json:"Marker"`
}

type KeyListEntry struct {
	KeyId  string `json:"KeyId"`
	KeyArn string `json:"KeyArn"`
}

type ListKeysOutput struct {
	Keys       []KeyListEntry `json:"Keys"`
	NextMarker string         `json:"NextMarker,omitempty"`
	Truncated  bool           `json:"Truncated"`
}

type UpdateKeyDescriptionInput struct {
	KeyId       *string `json:"KeyId"`
	Description *string `json:"Description"`
}

type ScheduleKeyDeletionInput struct {
	KeyId               *string `json:"KeyId"`
	PendingWindowInDays *int32  `json:"PendingWindowInDays"`
}

type ScheduleKeyDeletionOutput struct {
	KeyId               string     `json:"KeyId"`
	DeletionDate        *Timestamp `json:"DeletionDate,omitempty"`
	KeyState            string     `json:"KeyState"`
	PendingWindowInDays int32      `json:"PendingWindowInDays"`
}

type KeyIdOutput struct {
	KeyId string `json:"KeyId"`
}

type EncryptInput struct {
	KeyId               *string           `json:"KeyId"`
	Plaintext           []byte            `json:"Plaintext"`
	EncryptionContext   map[string]string `json:"EncryptionContext"`
	GrantTokens         []string          `json:"GrantTokens"`
	EncryptionAlgorithm *string           `json:"EncryptionAlgorithm"`
	DryRun              bool              `json:"DryRun,omitempty"`
}

type EncryptOutput struct {
	CiphertextBlob      []byte `json:"CiphertextBlob"`
	KeyId               string `json:"KeyId"`
	EncryptionAlgorithm string `json:"EncryptionAlgorithm"`
}

type DecryptInput struct {
	CiphertextBlob      []byte            `json:"CiphertextBlob"`
	EncryptionContext   map[string]string `json:"EncryptionContext"`
	GrantTokens         []string          `json:"GrantTokens"`
	KeyId               *string           `json:"KeyId"`
	EncryptionAlgorithm *string           `json:"EncryptionAlgorithm"`
	Recipient           *struct{}         `json:"Recipient"`
	DryRun              bool              `json:"DryRun,omitempty"`
	DryRunModifiers     []string          `json:"DryRunModifiers"`
}

type DecryptOutput struct {
	KeyId               string `json:"KeyId"`
	Plaintext           []byte `json:"Plaintext,omitempty" awsproto:"sensitive"`
	EncryptionAlgorithm string `json:"EncryptionAlgorithm"`
	KeyMaterialId       string `json:"KeyMaterialId,omitempty"`
}

type ReEncryptInput struct {
	CiphertextBlob                 []byte            `json:"CiphertextBlob"`
	SourceEncryptionContext        map[string]string `json:"SourceEncryptionContext"`
	SourceKeyId                    *string           `json:"SourceKeyId"`
	DestinationKeyId               *string           `json:"DestinationKeyId"`
	DestinationEncryptionContext   map[string]string `json:"DestinationEncryptionContext"`
	SourceEncryptionAlgorithm      *string           `json:"SourceEncryptionAlgorithm"`
	DestinationEncryptionAlgorithm *string           `json:"DestinationEncryptionAlgorithm"`
	GrantTokens                    []string          `json:"GrantTokens"`
	DryRun                         bool              `json:"DryRun,omitempty"`
	DryRunModifiers                []string          `json:"DryRunModifiers"`
}

type ReEncryptOutput struct {
	CiphertextBlob                 []byte `json:"CiphertextBlob"`
	SourceKeyId                    string `json:"SourceKeyId"`
	KeyId                          string `json:"KeyId"`
	SourceEncryptionAlgorithm      string `json:"SourceEncryptionAlgorithm"`
	DestinationEncryptionAlgorithm string `json:"DestinationEncryptionAlgorithm"`
	SourceKeyMaterialId            string `json:"SourceKeyMaterialId,omitempty"`
	DestinationKeyMaterialId       string `json:"DestinationKeyMaterialId,omitempty"`
}

// GenerateDataKeyWithoutPlaintextInput is GenerateDataKey's input less
// Recipient, which that operation does not have.
type GenerateDataKeyWithoutPlaintextInput struct {
	KeyId             *string           `json:"KeyId"`
	EncryptionContext map[string]string `json:"EncryptionContext"`
	NumberOfBytes     *int32            `json:"NumberOfBytes"`
	KeySpec           *string           `json:"KeySpec"`
	GrantTokens       []string          `json:"GrantTokens"`
	DryRun            bool              `json:"DryRun,omitempty"`
}

type GenerateDataKeyInput struct {
	GenerateDataKeyWithoutPlaintextInput
	Recipient *struct{} `json:"Recipient"`
}

type GenerateDataKeyOutput struct {
	CiphertextBlob []byte `json:"CiphertextBlob"`
	Plaintext      []byte `json:"Plaintext,omitempty" awsproto:"sensitive"`
	KeyId          string `json:"KeyId"`
	KeyMaterialId  string `json:"KeyMaterialId,omitempty"`
}

type GenerateRandomInput struct {
	NumberOfBytes    *int32    `json:"NumberOfBytes"`
	CustomKeyStoreId *string   `json:"CustomKeyStoreId"`
	Recipient        *struct{} `json:"Recipient"`
}

type GenerateRandomOutput struct {
	Plaintext []byte `json:"Plaintext" awsproto:"sensitive"`
}

type AliasInput struct {
	AliasName   *string `json:"AliasName"`
	TargetKeyId *string `json:"TargetKeyId"`
}

type ListAliasesInput struct {
	KeyId  *string `json:"KeyId"`
	Limit  *int32  `json:"Limit"`
	Marker *string `json:"Marker"`
}

type AliasListEntry struct {
	AliasName       string     `json:"AliasName"`
	AliasArn        string     `json:"AliasArn"`
	TargetKeyId     string     `json:"TargetKeyId,omitempty"`
	CreationDate    *Timestamp `json:"CreationDate,omitempty"`
	LastUpdatedDate *Timestamp `json:"LastUpdatedDate,omitempty"`
}

type ListAliasesOutput struct {
	Aliases    []AliasListEntry `json:"Aliases"`
	NextMarker string           `json:"NextMarker,omitempty"`
	Truncated  bool             `json:"Truncated"`
}

type TagResourceInput struct {
	KeyId *string `json:"KeyId"`
	Tags  []Tag   `json:"Tags"`
}

type UntagResourceInput struct {
	KeyId   *string  `json:"KeyId"`
	TagKeys []string `json:"TagKeys"`
}

type ListResourceTagsInput struct {
	KeyId  *string `json:"KeyId"`
	Limit  *int32  `json:"Limit"`
	Marker *string `json:"Marker"`
}

type ListResourceTagsOutput struct {
	Tags       []OutTag `json:"Tags"`
	NextMarker string   `json:"NextMarker,omitempty"`
	Truncated  bool     `json:"Truncated"`
}

type GetKeyPolicyInput struct {
	KeyId      *string `json:"KeyId"`
	PolicyName *string `json:"PolicyName"`
}

type GetKeyPolicyOutput struct {
	Policy     string `json:"Policy"`
	PolicyName string `json:"PolicyName"`
}

type PutKeyPolicyInput struct {
	KeyId                          *string `json:"KeyId"`
	PolicyName                     *string `json:"PolicyName"`
	Policy                         *string `json:"Policy"`
	BypassPolicyLockoutSafetyCheck bool    `json:"BypassPolicyLockoutSafetyCheck"`
}

type ListKeyPoliciesInput struct {
	KeyId  *string `json:"KeyId"`
	Limit  *int32  `json:"Limit"`
	Marker *string `json:"Marker"`
}

type ListKeyPoliciesOutput struct {
	PolicyNames []string `json:"PolicyNames"`
	NextMarker  string   `json:"NextMarker,omitempty"`
	Truncated   bool     `json:"Truncated"`
}

type EnableKeyRotationInput struct {
	KeyId                *string `json:"KeyId"`
	RotationPeriodInDays *int32  `json:"RotationPeriodInDays"`
}

type GetKeyRotationStatusOutput struct {
	KeyRotationEnabled        bool       `json:"KeyRotationEnabled"`
	KeyId                     string     `json:"KeyId"`
	RotationPeriodInDays      *int32     `json:"RotationPeriodInDays,omitempty"`
	NextRotationDate          *Timestamp `json:"NextRotationDate,omitempty"`
	OnDemandRotationStartDate *Timestamp `json:"OnDemandRotationStartDate,omitempty"`
}

type ListKeyRotationsInput struct {
	KeyId              *string `json:"KeyId"`
	IncludeKeyMaterial *string `json:"IncludeKeyMaterial"`
	Limit              *int32  `json:"Limit"`
	Marker             *string `json:"Marker"`
}

type RotationsListEntry struct {
	KeyId            string     `json:"KeyId"`
	KeyMaterialId    string     `json:"KeyMaterialId,omitempty"`
	KeyMaterialState string     `json:"KeyMaterialState,omitempty"`
	ExpirationModel  string     `json:"ExpirationModel,omitempty"`
	RotationDate     *Timestamp `json:"RotationDate,omitempty"`
	RotationType     string     `json:"RotationType,omitempty"`
	// Imported key material (Origin EXTERNAL).
	KeyMaterialDescription string     `json:"KeyMaterialDescription,omitempty"`
	ImportState            string     `json:"ImportState,omitempty"`
	ValidTo                *Timestamp `json:"ValidTo,omitempty"`
}

type ListKeyRotationsOutput struct {
	Rotations  []RotationsListEntry `json:"Rotations"`
	NextMarker string               `json:"NextMarker,omitempty"`
	Truncated  bool                 `json:"Truncated"`
}

type SignInput struct {
	KeyId            *string  `json:"KeyId"`
	Message          []byte   `json:"Message"`
	MessageType      *string  `json:"MessageType"`
	GrantTokens      []string `json:"GrantTokens"`
	SigningAlgorithm *string  `json:"SigningAlgorithm"`
	DryRun           bool     `json:"DryRun,omitempty"`
}

type SignOutput struct {
	KeyId            string `json:"KeyId"`
	Signature        []byte `json:"Signature"`
	SigningAlgorithm string `json:"SigningAlgorithm"`
}

type VerifyInput struct {
	KeyId            *string  `json:"KeyId"`
	Message          []byte   `json:"Message"`
	MessageType      *string  `json:"MessageType"`
	Signature        []byte   `json:"Signature"`
	SigningAlgorithm *string  `json:"SigningAlgorithm"`
	GrantTokens      []string `json:"GrantTokens"`
	DryRun           bool     `json:"DryRun,omitempty"`
}

type VerifyOutput struct {
	KeyId            string `json:"KeyId"`
	SignatureValid   bool   `json:"SignatureValid"`
	SigningAlgorithm string `json:"SigningAlgorithm"`
}

type GetPublicKeyOutput struct {
	KeyId                  string   `json:"KeyId"`
	PublicKey              []byte   `json:"PublicKey"`
	CustomerMasterKeySpec  string   `json:"CustomerMasterKeySpec"`
	KeySpec                string   `json:"KeySpec"`
	KeyUsage               string   `json:"KeyUsage"`
	EncryptionAlgorithms   []string `json:"EncryptionAlgorithms,omitempty"`
	SigningAlgorithms      []string `json:"SigningAlgorithms,omitempty"`
	KeyAgreementAlgorithms []string `json:"KeyAgreementAlgorithms,omitempty"`

	// ML-KEM keys only.
	EncapsulationAlgorithms []string `json:"EncapsulationAlgorithms,omitempty"`
}

type GenerateMacInput struct {
	Message      []byte   `json:"Message"`
	KeyId        *string  `json:"KeyId"`
	MacAlgorithm *string  `json:"MacAlgorithm"`
	GrantTokens  []string `json:"GrantTokens"`
	DryRun       bool     `json:"DryRun,omitempty"`
}

type GenerateMacOutput struct {
	Mac          []byte `json:"Mac"`
	MacAlgorithm string `json:"MacAlgorithm"`
	KeyId        string `json:"KeyId"`
}

type VerifyMacInput struct {
	Message      []byte   `json:"Message"`
	KeyId        *string  `json:"KeyId"`
	MacAlgorithm *string  `json:"MacAlgorithm"`
	Mac          []byte   `json:"Mac"`
	GrantTokens  []string `json:"GrantTokens"`
	DryRun       bool     `json:"DryRun,omitempty"`
}

type VerifyMacOutput struct {
	KeyId        string `json:"KeyId"`
	MacValid     bool   `json:"MacValid"`
	MacAlgorithm string `json:"MacAlgorithm"`
}

type DeriveSharedSecretInput struct {
	KeyId                 *string   `json:"KeyId"`
	KeyAgreementAlgorithm *string   `json:"KeyAgreementAlgorithm"`
	PublicKey             []byte    `json:"PublicKey"`
	GrantTokens           []string  `json:"GrantTokens"`
	DryRun                bool      `json:"DryRun,omitempty"`
	Recipient             *struct{} `json:"Recipient"`
}

type DeriveSharedSecretOutput struct {
	KeyId                 string `json:"KeyId"`
	SharedSecret          []byte `json:"SharedSecret" awsproto:"sensitive"`
	KeyAgreementAlgorithm string `json:"KeyAgreementAlgorithm"`
	KeyOrigin             string `json:"KeyOrigin"`
}

// GenerateDataKeyPairWithoutPlaintextInput is GenerateDataKeyPair's input
// less Recipient, which that operation does not have.
type GenerateDataKeyPairWithoutPlaintextInput struct {
	EncryptionContext map[string]string `json:"EncryptionContext"`
	KeyId             *string           `json:"KeyId"`
	KeyPairSpec       *string           `json:"KeyPairSpec"`
	GrantTokens       []string          `json:"GrantTokens"`
	DryRun            bool              `json:"DryRun,omitempty"`
}

type GenerateDataKeyPairInput struct {
	GenerateDataKeyPairWithoutPlaintextInput
	Recipient *struct{} `json:"Recipient"`
}

type GenerateDataKeyPairOutput struct {
	PrivateKeyCiphertextBlob []byte `json:"PrivateKeyCiphertextBlob"`
	PrivateKeyPlaintext      []byte `json:"PrivateKeyPlaintext,omitempty" awsproto:"sensitive"`
	PublicKey                []byte `json:"PublicKey"`
	KeyId                    string `json:"KeyId"`
	KeyPairSpec              string `json:"KeyPairSpec"`
	KeyMaterialId            string `json:"KeyMaterialId,omitempty"`
}

// GetKeyLastUsageOutput is GetKeyLastUsage's answer. KeyLastUsage is an
// empty object, not absent, for a key not used since tracking began, as
// the API model says.
type GetKeyLastUsageOutput struct {
	KeyId             string            `json:"KeyId"`
	KeyLastUsage      *KeyLastUsageData `json:"KeyLastUsage"`
	TrackingStartDate *Timestamp        `json:"TrackingStartDate,omitempty"`
	KeyCreationDate   *Timestamp        `json:"KeyCreationDate,omitempty"`
}

type KeyLastUsageData struct {
	Operation         string     `json:"Operation,omitempty"`
	Timestamp         *Timestamp `json:"Timestamp,omitempty"`
	CloudTrailEventId string     `json:"CloudTrailEventId,omitempty"`
	KmsRequestId      string     `json:"KmsRequestId,omitempty"`
}
