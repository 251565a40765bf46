package awsproto

// The import operations (BYOK): GetParametersForImport, ImportKeyMaterial,
// DeleteImportedKeyMaterial.

type GetParametersForImportInput struct {
	KeyId             *string `json:"KeyId"`
	WrappingAlgorithm *string `json:"WrappingAlgorithm"`
	WrappingKeySpec   *string `json:"WrappingKeySpec"`
}

type GetParametersForImportOutput struct {
	KeyId             string     `json:"KeyId"`
	ImportToken       []byte     `json:"ImportToken"`
	PublicKey         []byte     `json:"PublicKey"`
	ParametersValidTo *Timestamp `json:"ParametersValidTo"`
}

type ImportKeyMaterialInput struct {
	KeyId                *string `json:"KeyId"`
	ImportToken          []byte  `json:"ImportToken"`
	EncryptedKeyMaterial []byte  `json:"EncryptedKeyMaterial"`
	// ValidTo is a timestamp: epoch seconds, as the JSON protocol sends it.
	ValidTo                *float64 `json:"ValidTo"`
	ExpirationModel        *string  `json:"ExpirationModel"`
	ImportType             *string  `json:"ImportType"`
	KeyMaterialDescription *string  `json:"KeyMaterialDescription"`
	KeyMaterialId          *string  `json:"KeyMaterialId"`
}

type ImportKeyMaterialOutput struct {
	KeyId         string `json:"KeyId"`
	KeyMaterialId string `json:"KeyMaterialId,omitempty"`
}

type DeleteImportedKeyMaterialInput struct {
	KeyId         *string `json:"KeyId"`
	KeyMaterialId *string `json:"KeyMaterialId"`
}

type DeleteImportedKeyMaterialOutput struct {
	KeyId         string `json:"KeyId"`
	KeyMaterialId string `json:"KeyMaterialId,omitempty"`
}
