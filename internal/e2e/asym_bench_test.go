package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trent-kms/trent/internal/benchload"
	"github.com/trent-kms/trent/internal/testenv"
)

// benchAsymLoad creates a key and returns the load of one operation on
// it: benchload sends the body as is, signing every request with SigV4.
// One Call first makes sure the request succeeds.
func benchAsymLoad(b *testing.B, e *testenv.Env, name string, spec types.KeySpec, usage types.KeyUsageType, op string, body func(keyID string) map[string]any) httpLoad {
	b.Helper()
	ctx := context.Background()
	key, err := e.KMS.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: spec, KeyUsage: usage, Description: aws.String("benchmark " + name)})
	if err != nil {
		b.Fatal(err)
	}
	raw, err := json.Marshal(body(aws.ToString(key.KeyMetadata.KeyId)))
	if err != nil {
		b.Fatal(err)
	}
	target := benchload.Target{Endpoint: e.URL, AccessKeyID: e.AccessKeyID, Secret: []byte(e.Secret), Region: e.Region}
	if _, err := benchload.Call(ctx, target, op, raw); err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	return httpLoad{name: name, target: target, op: op, body: raw}
}

// runAsymLoads runs each load as a sub-benchmark of b.N requests over
// benchConnections connections, reporting req/s and latency percentiles.
func runAsymLoads(b *testing.B, loads []httpLoad) {
	const bound = 10 * time.Minute // a safety bound only
	for _, l := range loads {
		b.Run(l.name, func(b *testing.B) {
			res := l.run(b, int64(b.N), bound)
			b.ReportMetric(res.Rate(), "req/s")
			b.ReportMetric(float64(res.P50.Microseconds()), "p50-µs")
			b.ReportMetric(float64(res.P99.Microseconds()), "p99-µs")
		})
	}
}

// BenchmarkSignHTTP measures Sign of a 32-byte RAW message through the
// whole HTTP stack (loopback TCP, net/http, SigV4 verification, JSON, the
// KMS service, the signature), loaded as BenchmarkHTTP loads Encrypt.
//
//	go test -run '^$' -bench 'SignHTTP|GenerateMacHTTP' -benchtime 3s ./internal/e2e/
func BenchmarkSignHTTP(b *testing.B) {
	e := testenv.Start(b)
	msg := make([]byte, 32)
	sign := func(alg types.SigningAlgorithmSpec) func(string) map[string]any {
		return func(keyID string) map[string]any {
			return map[string]any{"KeyId": keyID, "Message": msg, "MessageType": "RAW", "SigningAlgorithm": alg}
		}
	}
	sv := types.KeyUsageTypeSignVerify
	runAsymLoads(b, []httpLoad{
		benchAsymLoad(b, e, "ECC_NIST_P256", types.KeySpecEccNistP256, sv, "Sign", sign(types.SigningAlgorithmSpecEcdsaSha256)),
		benchAsymLoad(b, e, "RSA_2048", types.KeySpecRsa2048, sv, "Sign", sign(types.SigningAlgorithmSpecRsassaPssSha256)),
		benchAsymLoad(b, e, "ED25519", types.KeySpecEccNistEdwards25519, sv, "Sign", sign(types.SigningAlgorithmSpecEd25519Sha512)),
		benchAsymLoad(b, e, "ML_DSA_65", types.KeySpecMlDsa65, sv, "Sign", sign(types.SigningAlgorithmSpecMlDsaShake256)),
	})
}

// BenchmarkGenerateMacHTTP measures GenerateMac with an HMAC_256 key of a
// 32-byte message through the whole HTTP stack.
func BenchmarkGenerateMacHTTP(b *testing.B) {
	e := testenv.Start(b)
	runAsymLoads(b, []httpLoad{
		benchAsymLoad(b, e, "HMAC_256", types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac, "GenerateMac", func(keyID string) map[string]any {
			return map[string]any{"KeyId": keyID, "Message": make([]byte, 32), "MacAlgorithm": types.MacAlgorithmSpecHmacSha256}
		}),
	})
}
