package kms

import "github.com/trent-kms/trent/internal/keys"

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
	signingAlgorithms    = []string{
		"RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
		"RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
		"ECDSA_SHA_256", "ECDSA_SHA_384", "ECDSA_SHA_512", "SM2DSA", "ML_DSA_SHAKE_256",
		"ED25519_SHA_512", "ED25519_PH_SHA_512",
	}
	messageTypes           = []string{"RAW", "DIGEST", "EXTERNAL_MU"}
	macAlgorithms          = []string{"HMAC_SHA_224", "HMAC_SHA_256", "HMAC_SHA_384", "HMAC_SHA_512"}
	keyAgreementAlgorithms = []string{"ECDH"}
	dataKeyPairSpecs       = []string{
		"RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
		"ECC_SECG_P256K1", "SM2", "ECC_NIST_EDWARDS25519",
	}
)

const specSM2 = "SM2"

// algorithms lists what KeyMetadata reports for a key of the given spec
// and usage.
type algorithms struct {
	encryption, signing, mac, keyAgreement []string
}

func algorithmsFor(spec, usage string) algorithms {
	switch {
	case spec == SpecSymmetric:
		return algorithms{encryption: []string{AlgSymmetric}}
	case usage == UsageEncryptDecrypt:
		return algorithms{encryption: keys.EncryptionAlgorithms(spec)}
	case usage == UsageSignVerify:
		return algorithms{signing: keys.SigningAlgorithms(spec)}
	case usage == UsageGenerateVerifyMac:
		return algorithms{mac: keys.MacAlgorithms(spec)}
	case usage == UsageKeyAgreement:
		return algorithms{keyAgreement: keys.KeyAgreementAlgorithms(spec)}
	}
	return algorithms{}
}

// keyUsagesFor lists the KeyUsage values AWS allows for a KeySpec.
func keyUsagesFor(spec string) []string {
	if spec == SpecSymmetric {
		return []string{UsageEncryptDecrypt}
	}
	return keys.KeyUsages(spec)
}

// newMaterial makes the backing key material of a new key version.
func newMaterial(spec string) ([]byte, error) {
	if spec == SpecSymmetric {
		return keys.NewSymmetricMaterial()
	}
	return keys.GeneratePrivate(spec)
}
