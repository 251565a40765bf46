package awsproto

// Encapsulate and Decapsulate (ML-KEM keys, KeyUsage
// ENCAPSULATE_DECAPSULATE).

type EncapsulateInput struct {
	KeyId                  *string  `json:"KeyId"`
	EncapsulationAlgorithm *string  `json:"EncapsulationAlgorithm"`
	GrantTokens            []string `json:"GrantTokens"`
	DryRun                 bool     `json:"DryRun,omitempty"`
}

type EncapsulateOutput struct {
	KeyId                      string `json:"KeyId"`
	SharedSecret               []byte `json:"SharedSecret" awsproto:"sensitive"`
	SharedSecretCiphertextBlob []byte `json:"SharedSecretCiphertextBlob"`
	EncapsulationAlgorithm     string `json:"EncapsulationAlgorithm"`
}

type DecapsulateInput struct {
	KeyId                      *string  `json:"KeyId"`
	SharedSecretCiphertextBlob []byte   `json:"SharedSecretCiphertextBlob"`
	EncapsulationAlgorithm     *string  `json:"EncapsulationAlgorithm"`
	GrantTokens                []string `json:"GrantTokens"`
	DryRun                     bool     `json:"DryRun,omitempty"`
}

type DecapsulateOutput struct {
	KeyId                  string `json:"KeyId"`
	SharedSecret           []byte `json:"SharedSecret" awsproto:"sensitive"`
	EncapsulationAlgorithm string `json:"EncapsulationAlgorithm"`
}
