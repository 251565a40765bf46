package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	kmsapi "k8s.io/kms/apis/v2"

	"github.com/trent-kms/trent/internal/testenv"
)

// fqdn is the KMS v2 API's rule for annotation keys: a fully qualified
// domain name (RFC 1123 labels, at least two).
var fqdn = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// startPlugin runs `trent k8s-kms-plugin` against e as kube-apiserver's
// host would: credentials, region and endpoint from the AWS environment
// variables, nothing from files. It returns a client of the generated
// k8s.io/kms/apis/v2 code — what kube-apiserver uses — on its socket.
func startPlugin(t *testing.T, e *testenv.Env, id, secret, keyID string, extra ...string) kmsapi.KeyManagementServiceClient {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "kms.sock")
	cmd := exec.Command(trentBinary(t), append([]string{"k8s-kms-plugin", "--socket", sock, "--key-id", keyID}, extra...)...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(),
		"HOME="+home, "AWS_CONFIG_FILE="+filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "none"),
		"AWS_PROFILE=", "AWS_SESSION_TOKEN=", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_ACCESS_KEY_ID="+id, "AWS_SECRET_ACCESS_KEY="+secret, "AWS_REGION="+e.Region)
	if !contains(extra, "--endpoint") {
		cmd.Env = append(cmd.Env, "AWS_ENDPOINT_URL_KMS="+e.URL)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	ready := make(chan struct{})
	var (
		mu  sync.Mutex // the reader goroutine writes log while the test may read it
		log bytes.Buffer
	)
	go func() {
		sc := bufio.NewScanner(stderr)
		serving := false
		for sc.Scan() {
			mu.Lock()
			log.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if !serving && strings.Contains(sc.Text(), "plugin serving on unix://") {
				serving = true
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("plugin did not start:\n%s", log.String())
	}
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return kmsapi.NewKeyManagementServiceClient(conn)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func healthyStatus(t *testing.T, c kmsapi.KeyManagementServiceClient) *kmsapi.StatusResponse {
	t.Helper()
	st, err := c.Status(t.Context(), &kmsapi.StatusRequest{})
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if st.Healthz != "ok" || st.Version != "v2" || st.KeyId == "" || len(st.KeyId) >= 1024 {
		t.Fatalf("Status = %+v, want healthz ok, version v2 and a key_id under 1 kB", st)
	}
	return st
}

// TestK8sPluginRotation is kube-apiserver's life with the plugin: Status,
// Encrypt of a DEK seed, Decrypt; after RotateKeyOnDemand a new key_id (so
// the apiserver re-encrypts), and what was encrypted before still
// decrypts with the key_id and annotations stored beside it.
func TestK8sPluginRotation(t *testing.T) {
	e := testenv.Start(t)
	ctx := t.Context()
	key, err := e.KMS.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.KMS.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/k8s"), TargetKeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	c := startPlugin(t, e, e.AccessKeyID, e.Secret, "alias/k8s")

	st1 := healthyStatus(t, c)
	arn := aws.ToString(key.KeyMetadata.Arn)
	if !strings.HasPrefix(st1.KeyId, arn) {
		t.Fatalf("key_id %q does not name the key %s", st1.KeyId, arn)
	}
	seed := make([]byte, 32)
	rand.Read(seed)
	enc1, err := c.Encrypt(ctx, &kmsapi.EncryptRequest{Plaintext: seed, Uid: "uid-1"})
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	if enc1.KeyId != st1.KeyId || len(enc1.Ciphertext) == 0 || len(enc1.Ciphertext) >= 1024 {
		t.Fatalf("Encrypt: key_id %q (Status said %q), %d-byte ciphertext", enc1.KeyId, st1.KeyId, len(enc1.Ciphertext))
	}
	size := 0
	for k, v := range enc1.Annotations {
		if !fqdn.MatchString(k) || len(k) > 253 {
			t.Errorf("annotation key %q is not a fully qualified domain name", k)
		}
		size += len(k) + len(v)
	}
	if len(enc1.Annotations) == 0 || size >= 32*1024 {
		t.Errorf("annotations %v: none, or 32 kB or more", enc1.Annotations)
	}
	dec, err := c.Decrypt(ctx, &kmsapi.DecryptRequest{Ciphertext: enc1.Ciphertext, KeyId: enc1.KeyId, Annotations: enc1.Annotations, Uid: "uid-2"})
	if err != nil || !bytes.Equal(dec.Plaintext, seed) {
		t.Fatalf("Decrypt: %v (plaintext matches: %v)", err, err == nil && bytes.Equal(dec.Plaintext, seed))
	}

	if _, err := e.KMS.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	st2 := healthyStatus(t, c)
	if st2.KeyId == st1.KeyId {
		t.Fatalf("key_id %q unchanged by RotateKeyOnDemand: kube-apiserver would not re-encrypt", st2.KeyId)
	}
	dec, err = c.Decrypt(ctx, &kmsapi.DecryptRequest{Ciphertext: enc1.Ciphertext, KeyId: enc1.KeyId, Annotations: enc1.Annotations, Uid: "uid-3"})
	if err != nil || !bytes.Equal(dec.Plaintext, seed) {
		t.Fatalf("Decrypt after rotation: %v", err)
	}
	enc2, err := c.Encrypt(ctx, &kmsapi.EncryptRequest{Plaintext: seed, Uid: "uid-4"})
	if err != nil || enc2.KeyId != st2.KeyId {
		t.Fatalf("Encrypt after rotation: %v, key_id %q, want %q", err, enc2.GetKeyId(), st2.KeyId)
	}

	// The alias moves to another key: a new key_id, and the old key's
	// ciphertexts still decrypt, by the key their annotation names.
	other, err := e.KMS.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.KMS.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/k8s"), TargetKeyId: other.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	if st3 := healthyStatus(t, c); !strings.HasPrefix(st3.KeyId, aws.ToString(other.KeyMetadata.Arn)) {
		t.Fatalf("after the alias moved, key_id %q does not name the new key", st3.KeyId)
	}
	for _, enc := range []*kmsapi.EncryptResponse{enc1, enc2} {
		if dec, err := c.Decrypt(ctx, &kmsapi.DecryptRequest{Ciphertext: enc.Ciphertext, KeyId: enc.KeyId, Annotations: enc.Annotations}); err != nil || !bytes.Equal(dec.Plaintext, seed) {
			t.Fatalf("Decrypt of the old key's ciphertext after the alias moved: %v", err)
		}
	}
}

// TestK8sPluginErrors: failures reach kube-apiserver as gRPC codes it can
// act on, and Status is not "ok" unless a round trip works.
func TestK8sPluginErrors(t *testing.T) {
	e := testenv.Start(t)
	ctx := t.Context()
	key, err := e.KMS.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	c := startPlugin(t, e, e.AccessKeyID, e.Secret, aws.ToString(key.KeyMetadata.KeyId), "--endpoint", e.URL)
	healthyStatus(t, c)
	enc, err := c.Encrypt(ctx, &kmsapi.EncryptRequest{Plaintext: []byte("seed")})
	if err != nil {
		t.Fatal(err)
	}

	tampered := bytes.Clone(enc.Ciphertext)
	tampered[len(tampered)-1] ^= 1
	_, err = c.Decrypt(ctx, &kmsapi.DecryptRequest{Ciphertext: tampered, KeyId: enc.KeyId, Annotations: enc.Annotations})
	wantCode(t, "Decrypt of a tampered ciphertext", err, codes.InvalidArgument, "InvalidCiphertextException")

	if _, err := e.KMS.DisableKey(ctx, &kms.DisableKeyInput{KeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	st, err := c.Status(ctx, &kmsapi.StatusRequest{})
	if err != nil || st.Healthz == "ok" || !strings.Contains(st.Healthz, "DisabledException") || st.KeyId == "" {
		t.Fatalf("Status with the key disabled: %+v, %v; want not ok, saying why, with a key_id", st, err)
	}
	_, err = c.Encrypt(ctx, &kmsapi.EncryptRequest{Plaintext: []byte("seed")})
	wantCode(t, "Encrypt with the key disabled", err, codes.FailedPrecondition, "DisabledException")
	if _, err := e.KMS.EnableKey(ctx, &kms.EnableKeyInput{KeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	healthyStatus(t, c)

	// A key kube-apiserver's seeds cannot use.
	rsa, err := e.KMS.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: "RSA_2048", KeyUsage: "ENCRYPT_DECRYPT"})
	if err != nil {
		t.Fatal(err)
	}
	wrong := startPlugin(t, e, e.AccessKeyID, e.Secret, aws.ToString(rsa.KeyMetadata.Arn))
	if st, err := wrong.Status(ctx, &kmsapi.StatusRequest{}); err != nil || st.Healthz == "ok" || !strings.Contains(st.Healthz, "SYMMETRIC_DEFAULT") {
		t.Fatalf("Status with an RSA key: %+v, %v", st, err)
	}
	_, err = wrong.Encrypt(ctx, &kmsapi.EncryptRequest{Plaintext: []byte("seed")})
	wantCode(t, "Encrypt with an RSA key", err, codes.FailedPrecondition, "SYMMETRIC_DEFAULT")

	// Trent gone: Unavailable, which kube-apiserver retries.
	e.Close()
	_, err = c.Encrypt(ctx, &kmsapi.EncryptRequest{Plaintext: []byte("seed")})
	wantCode(t, "Encrypt with Trent down", err, codes.Unavailable, "")
	if st, err := c.Status(ctx, &kmsapi.StatusRequest{}); err != nil || st.Healthz == "ok" {
		t.Fatalf("Status with Trent down: %+v, %v", st, err)
	}
}

func wantCode(t *testing.T, what string, err error, code codes.Code, msg string) {
	t.Helper()
	s, ok := status.FromError(err)
	if !ok || s.Code() != code || !strings.Contains(s.Message(), msg) {
		t.Fatalf("%s: %v, want code %s with %q", what, err, code, msg)
	}
}

// TestK8sRecipe runs docs/kubernetes.md: its IAM policy is all the plugin
// needs, and its EncryptionConfiguration names the socket its plugin
// command serves, with the API versions kube-apiserver expects.
func TestK8sRecipe(t *testing.T) {
	doc, err := os.ReadFile("../../docs/kubernetes.md")
	if err != nil {
		t.Fatal(err)
	}
	block := func(lang string) string {
		t.Helper()
		_, rest, ok := strings.Cut(string(doc), "```"+lang+"\n")
		body, _, ok2 := strings.Cut(rest, "```")
		if !ok || !ok2 {
			t.Fatalf("docs/kubernetes.md has no %s block", lang)
		}
		return body
	}
	cfg := block("yaml")
	for _, want := range []string{"apiVersion: apiserver.config.k8s.io/v1", "kind: EncryptionConfiguration", "- kms:", "apiVersion: v2", "name: trent"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("the EncryptionConfiguration lacks %q", want)
		}
	}
	endpoint := regexp.MustCompile(`endpoint: unix://(\S+)`).FindStringSubmatch(cfg)
	socket := regexp.MustCompile(`trent k8s-kms-plugin --socket (\S+)`).FindStringSubmatch(string(doc))
	if endpoint == nil || socket == nil || endpoint[1] != socket[1] {
		t.Errorf("the EncryptionConfiguration's endpoint %v is not the socket the plugin serves %v", endpoint, socket)
	}

	e := testenv.Start(t)
	ctx := t.Context()
	key, err := e.KMS.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(key.KeyMetadata.Arn)
	policy := regexp.MustCompile(`arn:aws:kms:[^"]*`).ReplaceAllString(block("json"), arn)
	admin := iam.NewFromConfig(testenv.Config(e.URL, e.Region, e.AccessKeyID, e.Secret, ""))
	if _, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("kube-apiserver")}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("kube-apiserver"),
		PolicyName: aws.String("kms-plugin"), PolicyDocument: aws.String(policy)}); err != nil {
		t.Fatalf("the recipe's policy: %v", err)
	}
	ak, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("kube-apiserver")})
	if err != nil {
		t.Fatal(err)
	}
	c := startPlugin(t, e, aws.ToString(ak.AccessKey.AccessKeyId), aws.ToString(ak.AccessKey.SecretAccessKey), arn)
	healthyStatus(t, c)
	enc, err := c.Encrypt(ctx, &kmsapi.EncryptRequest{Plaintext: []byte("seed")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Decrypt(ctx, &kmsapi.DecryptRequest{Ciphertext: enc.Ciphertext, KeyId: enc.KeyId, Annotations: enc.Annotations}); err != nil {
		t.Fatal(err)
	}
	// And the policy is what lets it: another key is refused.
	other, err := e.KMS.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	denied := startPlugin(t, e, aws.ToString(ak.AccessKey.AccessKeyId), aws.ToString(ak.AccessKey.SecretAccessKey), aws.ToString(other.KeyMetadata.Arn))
	_, err = denied.Encrypt(ctx, &kmsapi.EncryptRequest{Plaintext: []byte("seed")})
	wantCode(t, "Encrypt with a key the policy does not name", err, codes.PermissionDenied, "AccessDeniedException")
}
