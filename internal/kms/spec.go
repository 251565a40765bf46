package kms

import (
	"fmt"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/keys"
)

// Enumerations of the KMS API model, in the model's order.
var (
	keySpecs = []string{
		"RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
		"ECC_SECG_P256K1", "SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512",
		"SM2", "ML_DSA_44", "ML_DSA_65", "ML_DSA_87", "ECC_NIST_EDWARDS25519",
		"ML_KEM_512", "ML_KEM_768", "ML_KEM_1024",
	}
	keyUsages            = []string{"SIGN_VERIFY", "ENCRYPT_DECRYPT", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT", "ENCAPSULATE_DECAPSULATE"}
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
	messageTypes = []string{"RAW", "DIGEST", "EXTERNAL_MU"}
	// In the order AWS lists them in a ValidationException's enum set
	// (recorded answers to GenerateMac and VerifyMac).
	macAlgorithms          = []string{"HMAC_SHA_384", "HMAC_SHA_256", "HMAC_SHA_224", "HMAC_SHA_512"}
	keyAgreementAlgorithms = []string{"ECDH"}
	dataKeyPairSpecs       = []string{
		"RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
		"ECC_SECG_P256K1", "SM2", "ECC_NIST_EDWARDS25519",
		"ML_KEM_512", "ML_KEM_768", "ML_KEM_1024",
	}
)

const specSM2 = "SM2"

// algorithms lists what KeyMetadata reports for a key of the given spec
// and usage.
type algorithms struct {
	encryption, signing, mac, keyAgreement []string
	encapsulation                          []string
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
	case usage == UsageEncapsulateDecapsulate:
		return algorithms{encapsulation: keys.EncapsulationAlgorithms(spec)}
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

// fipsUnavailable says why the algorithms of a key spec are outside Go's
// FIPS 140-3 module, or returns "" when the module provides them. RSA,
// ECDSA and ECDH on the NIST curves, Ed25519 (pure and prehashed),
// HMAC-SHA-2, AES-GCM, HKDF and ML-KEM-768/1024 all come from the module (crypto/...);
// secp256k1, ML-DSA and ML-KEM-512 come from third-party code, which FIPS mode cannot
// vouch for, so a FIPS-mode Trent must not use them at all. SM2 is refused
// in every mode (unsupportedSpecMessage).
func fipsUnavailable(spec string) string {
	switch spec {
	case "ECC_SECG_P256K1":
		return "Go's FIPS module does not provide secp256k1."
	case "ML_DSA_44", "ML_DSA_65", "ML_DSA_87":
		// Go 1.26's module implements ML-DSA internally but exports no
		// crypto/mldsa; Trent's ML-DSA therefore comes from circl.
		return "Go 1.26's FIPS module exposes no ML-DSA (there is no crypto/mldsa), and Trent's ML-DSA comes from circl, outside the module."
	case "ML_KEM_512":
		// ML_KEM_768 and ML_KEM_1024 come from crypto/mlkem, in the module.
		return "Go's FIPS module provides ML-KEM-768 and ML-KEM-1024 only; Trent's ML-KEM-512 comes from circl, outside the module."
	}
	return ""
}

// fipsRefusal is the reason a spec is refused in FIPS mode, as a sentence
// naming the request field what ("KeySpec", "KeyPairSpec"), or "" when
// the service is not in FIPS mode or the module provides the spec.
func (s *Service) fipsRefusal(what, spec string) string {
	if !s.fips140 {
		return ""
	}
	if why := fipsUnavailable(spec); why != "" {
		return fmt.Sprintf("%s %s is not available in FIPS 140-3 mode: %s", what, spec, why)
	}
	return ""
}

// checkFIPS refuses a new key or data key pair of a spec whose algorithms
// Go's FIPS 140-3 module does not provide, while in FIPS mode.
func (s *Service) checkFIPS(what, spec string) error {
	if msg := s.fipsRefusal(what, spec); msg != "" {
		return apierr.New(apierr.UnsupportedOperation, "%s", msg)
	}
	return nil
}

// checkFIPSKey refuses to use an existing key whose spec FIPS mode
// refuses: keys made before the switch to FIPS mode would otherwise keep
// running cryptography outside the module. Metadata and the public key
// stay readable, so an operator can plan the move to an approved spec.
func (s *Service) checkFIPSKey(e *keyEntry) error {
	if msg := s.fipsRefusal("KeySpec", e.meta.KeySpec); msg != "" {
		return apierr.New(apierr.UnsupportedOperation, "Key %s cannot be used: %s", e.arn, msg)
	}
	return nil
}
