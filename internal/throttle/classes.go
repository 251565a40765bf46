package throttle

import "strings"

// Class is one of AWS KMS's request quotas. Each (account, region) has a
// bucket per class; classes are independent, as AWS's quotas are.
type Class uint8

// The cryptographic classes. Which one a request of Encrypt, Decrypt,
// ReEncrypt, Sign, Verify or DeriveSharedSecret counts against depends on
// its key's spec (ForKeySpec); the other cryptographic operations have one
// class each (ForOperation, ForKeyPairSpec).
const (
	// Symmetric is "Cryptographic operations (symmetric) request rate":
	// Decrypt, Encrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext,
	// GenerateMac, GenerateRandom, ReEncrypt, VerifyMac.
	Symmetric Class = iota
	// RSA is "Cryptographic operations (RSA) request rate": Decrypt,
	// Encrypt, ReEncrypt, Sign, Verify with RSA keys.
	RSA
	// ECC is "Cryptographic operations (ECC) request rate": Sign, Verify,
	// DeriveSharedSecret with elliptic-curve keys (SM2 too).
	ECC
	// MLDSA is "Cryptographic operations (ML-DSA) request rate": Sign and
	// Verify with ML-DSA keys.
	MLDSA
	// MLKEM is Encapsulate and Decapsulate. The Developer Guide's quota
	// page (read December 2026) names no ML-KEM quota; until it does they
	// count against a class of their own at the ML-DSA rate, an
	// assumption, not a documented figure.
	MLKEM
	firstPair
)

// classInfo names a class and gives its default rate.
type classInfo struct {
	name string
	// rate is requests per second in the given region.
	rate func(region string) float64
}

func fixed(r float64) func(string) float64 { return func(string) float64 { return r } }

// symmetricRate is AWS's default for the shared symmetric quota, which
// depends on the region (Developer Guide, "Request quotas", 2026).
func symmetricRate(region string) float64 {
	switch region {
	case "us-east-1", "us-west-2", "eu-west-1":
		return 100_000
	case "us-east-2", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "eu-central-1", "eu-west-2":
		return 20_000
	}
	return 10_000
}

// pairRates are the GenerateDataKeyPair quotas, per KeyPairSpec;
// GenerateDataKeyPairWithoutPlaintext counts against the same one.
var pairRates = []struct {
	spec string
	rate float64
}{
	{"ECC_NIST_P256", 100}, {"ECC_NIST_P384", 100}, {"ECC_NIST_P521", 100},
	{"ECC_SECG_P256K1", 100}, {"ECC_NIST_EDWARDS25519", 100},
	{"RSA_2048", 20}, {"RSA_3072", 4}, {"RSA_4096", 1}, {"SM2", 25},
	// Not on the quota page either (see MLKEM); the ECC pair rate is assumed.
	{"ML_KEM_512", 100}, {"ML_KEM_768", 100}, {"ML_KEM_1024", 100},
}

// controlRates are the control-plane quotas: each operation has its own
// quota, at the rate of its group.
var controlRates = []struct {
	rate float64
	ops  []string
}{
	{2000, []string{"DescribeKey", "GetPublicKey", "ListResourceTags"}},
	{1000, []string{"GetKeyPolicy", "GetKeyRotationStatus"}},
	{500, []string{"ListAliases", "ListKeys"}},
	{100, []string{"ListGrants", "ListKeyPolicies", "ListKeyRotations", "ListRetirableGrants"}},
	{50, []string{"CreateGrant", "RetireGrant", "RevokeGrant"}},
	{15, []string{"DeleteAlias", "DeleteImportedKeyMaterial", "EnableKeyRotation", "ImportKeyMaterial", "PutKeyPolicy", "ScheduleKeyDeletion"}},
	{10, []string{"TagResource"}},
	{5, []string{"CancelKeyDeletion", "ConnectCustomKeyStore", "CreateAlias", "CreateCustomKeyStore", "CreateKey",
		"DeleteCustomKeyStore", "DescribeCustomKeyStores", "DisableKey", "DisableKeyRotation", "DisconnectCustomKeyStore",
		"EnableKey", "GetKeyLastUsage", "ReplicateKey", "RotateKeyOnDemand", "UntagResource", "UpdateAlias",
		"UpdateCustomKeyStore", "UpdateKeyDescription", "UpdatePrimaryRegion"}},
	{1, []string{"GetParametersForImport"}},
}

// PairPrefix begins the name of a GenerateDataKeyPair class:
// "GenerateDataKeyPair/RSA_2048".
const PairPrefix = "GenerateDataKeyPair/"

var (
	classes []classInfo
	byName  = map[string]Class{}
	// byOperation maps the operations whose class does not depend on a
	// key to it.
	byOperation = map[string]Class{}
	byPairSpec  = map[string]Class{}
)

func add(name string, rate func(string) float64) Class {
	c := Class(len(classes))
	classes = append(classes, classInfo{name, rate})
	byName[name] = c
	return c
}

func init() {
	add("symmetric", symmetricRate)
	add("rsa", fixed(1000))
	add("ecc", fixed(1000))
	add("ml-dsa", fixed(1000))
	add("ml-kem", fixed(1000))
	for _, p := range pairRates {
		byPairSpec[p.spec] = add(PairPrefix+p.spec, fixed(p.rate))
	}
	for _, g := range controlRates {
		for _, op := range g.ops {
			byOperation[op] = add(op, fixed(g.rate))
		}
	}
	for _, op := range []string{"GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "GenerateMac", "GenerateRandom", "VerifyMac"} {
		byOperation[op] = Symmetric
	}
	byOperation["Encapsulate"] = MLKEM
	byOperation["Decapsulate"] = MLKEM
	if len(classes) > 255 {
		panic("throttle: too many classes for a uint8")
	}
}

// NumClasses is how many classes there are; classes are 0 … NumClasses-1.
func NumClasses() int { return len(classes) }

// String is the class's name as flags and documentation spell it.
func (c Class) String() string {
	if int(c) < len(classes) {
		return classes[c].name
	}
	return "unknown"
}

// DefaultRate is AWS's default quota for c in region, in requests per
// second.
func DefaultRate(c Class, region string) float64 { return classes[c].rate(region) }

// ClassByName finds a class by the name String gives it.
func ClassByName(name string) (Class, bool) {
	c, ok := byName[name]
	return c, ok
}

// ForOperation is the class of an operation whose quota does not depend on
// the key it uses. It reports false for the operations that need
// ForKeySpec (Encrypt, Decrypt, ReEncrypt, Sign, Verify,
// DeriveSharedSecret) or ForKeyPairSpec (GenerateDataKeyPair and
// GenerateDataKeyPairWithoutPlaintext).
func ForOperation(op string) (Class, bool) {
	c, ok := byOperation[op]
	return c, ok
}

// ForKeySpec is the cryptographic class of an operation that uses a key of
// the given spec. Symmetric and HMAC keys count against the symmetric
// quota.
func ForKeySpec(spec string) Class {
	switch {
	case strings.HasPrefix(spec, "RSA_"):
		return RSA
	case strings.HasPrefix(spec, "ECC_"), spec == "SM2":
		return ECC
	case strings.HasPrefix(spec, "ML_DSA_"):
		return MLDSA
	}
	return Symmetric
}

// ForKeyPairSpec is the class of GenerateDataKeyPair(WithoutPlaintext) for
// the KeyPairSpec requested; false for a spec AWS does not have.
func ForKeyPairSpec(spec string) (Class, bool) {
	c, ok := byPairSpec[spec]
	return c, ok
}
