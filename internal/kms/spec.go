package kms

// Enumerations of the KMS API model, in the model's order.
var (
	keySpecs = []string{
		"RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
		"ECC_SECG_P256K1", "SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512",
		"SM2", "ML_DSA_44", "ML_DSA_65", "ML_DSA_87", "ECC_NIST_EDWARDS25519",
	}
	keyUsages            = []string{"SIGN_VERIFY", "ENCRYPT_DECRYPT", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT"}
	origins              = []string{"AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"}
	encryptionAlgorithms = []string{"SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE"}
	dataKeySpecs         = []string{"AES_256", "AES_128"}
	includeKeyMaterial   = []string{"ALL_KEY_MATERIAL", "ROTATIONS_ONLY"}
	dryRunModifiers      = []string{"IGNORE_CIPHERTEXT"}
)

// algorithms lists what KeyMetadata reports for a key of the given spec.
type algorithms struct {
	encryption, signing, mac, keyAgreement []string
}

func algorithmsFor(spec, usage string) algorithms {
	if spec == SpecSymmetric {
		return algorithms{encryption: []string{AlgSymmetric}}
	}
	return algorithms{}
}
