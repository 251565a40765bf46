package awsproto

// MultiRegionConfiguration is KeyMetadata's description of a multi-Region
// key: what this key is and where its primary and replicas are.
type MultiRegionConfiguration struct {
	MultiRegionKeyType string           `json:"MultiRegionKeyType"`
	PrimaryKey         *MultiRegionKey  `json:"PrimaryKey"`
	ReplicaKeys        []MultiRegionKey `json:"ReplicaKeys"`
}

// MultiRegionKey names one member of a multi-Region key.
type MultiRegionKey struct {
	Arn    string `json:"Arn"`
	Region string `json:"Region"`
}

type ReplicateKeyInput struct {
	KeyId                          *string `json:"KeyId"`
	ReplicaRegion                  *string `json:"ReplicaRegion"`
	Policy                         *string `json:"Policy"`
	BypassPolicyLockoutSafetyCheck bool    `json:"BypassPolicyLockoutSafetyCheck"`
	Description                    *string `json:"Description"`
	Tags                           []Tag   `json:"Tags"`
}

type ReplicateKeyOutput struct {
	ReplicaKeyMetadata *KeyMetadata `json:"ReplicaKeyMetadata"`
	ReplicaPolicy      string       `json:"ReplicaPolicy,omitempty"`
	ReplicaTags        []Tag        `json:"ReplicaTags,omitempty"`
}

type UpdatePrimaryRegionInput struct {
	KeyId         *string `json:"KeyId"`
	PrimaryRegion *string `json:"PrimaryRegion"`
}
