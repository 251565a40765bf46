package awsproto

// Request and response shapes of the grant operations (CreateGrant,
// ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant), tagged with
// AWS's member names.

// GrantConstraints limits a grant to requests with a given encryption
// context. A constraint present with no pairs ({}) differs from an absent
// one, so the maps are kept as decoded: nil only when the member is absent.
type GrantConstraints struct {
	EncryptionContextSubset map[string]string `json:"EncryptionContextSubset,omitempty"`
	EncryptionContextEquals map[string]string `json:"EncryptionContextEquals,omitempty"`
}

type CreateGrantInput struct {
	KeyId             *string           `json:"KeyId"`
	GranteePrincipal  *string           `json:"GranteePrincipal"`
	RetiringPrincipal *string           `json:"RetiringPrincipal"`
	Operations        []string          `json:"Operations"`
	Constraints       *GrantConstraints `json:"Constraints"`
	GrantTokens       []string          `json:"GrantTokens"`
	Name              *string           `json:"Name"`
	DryRun            bool              `json:"DryRun,omitempty"`
}

type CreateGrantOutput struct {
	GrantToken string `json:"GrantToken"`
	GrantId    string `json:"GrantId"`
}

type ListGrantsInput struct {
	KeyId            *string `json:"KeyId"`
	GrantId          *string `json:"GrantId"`
	GranteePrincipal *string `json:"GranteePrincipal"`
	Limit            *int32  `json:"Limit"`
	Marker           *string `json:"Marker"`
}

type ListRetirableGrantsInput struct {
	RetiringPrincipal *string `json:"RetiringPrincipal"`
	Limit             *int32  `json:"Limit"`
	Marker            *string `json:"Marker"`
}

// GrantListEntry is one grant as ListGrants and ListRetirableGrants report
// it. KeyId is the key ARN; IssuingAccount is an account root ARN.
type GrantListEntry struct {
	KeyId             string            `json:"KeyId"`
	GrantId           string            `json:"GrantId"`
	Name              string            `json:"Name,omitempty"`
	CreationDate      *Timestamp        `json:"CreationDate,omitempty"`
	GranteePrincipal  string            `json:"GranteePrincipal"`
	RetiringPrincipal string            `json:"RetiringPrincipal,omitempty"`
	IssuingAccount    string            `json:"IssuingAccount"`
	Operations        []string          `json:"Operations"`
	Constraints       *GrantConstraints `json:"Constraints,omitempty"`
}

type ListGrantsOutput struct {
	Grants     []GrantListEntry `json:"Grants"`
	NextMarker string           `json:"NextMarker,omitempty"`
	Truncated  bool             `json:"Truncated"`
}

type RetireGrantInput struct {
	GrantToken *string `json:"GrantToken"`
	KeyId      *string `json:"KeyId"`
	GrantId    *string `json:"GrantId"`
	DryRun     bool    `json:"DryRun,omitempty"`
}

type RevokeGrantInput struct {
	KeyId   *string `json:"KeyId"`
	GrantId *string `json:"GrantId"`
	DryRun  bool    `json:"DryRun,omitempty"`
}
