// Package k8splugin is a Kubernetes KMS v2 plugin (the KeyManagementService
// gRPC API of k8s.io/kms/apis/v2) that keeps kube-apiserver's secrets under
// a key in Trent. kube-apiserver sends it only small seeds of its data
// encryption keys; the plugin encrypts them with one symmetric Trent key,
// through Trent's KMS API like any other client (aws-sdk-go-v2, the
// standard credential chain). It holds no key material and no state but
// the key id it last reported.
//
// The key_id it reports is the key's ARN and its current key material id
// (DescribeKey's CurrentKeyMaterialId), so rotating the Trent key changes
// it and kube-apiserver re-encrypts what it writes next. Each ciphertext
// carries annotations naming the key and material that made it, so it
// decrypts after any number of rotations, and after --key-id moves to
// another key.
package k8splugin

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	kmsapi "k8s.io/kms/apis/v2"
)

// Annotation keys: a domain-qualified name each, as the KMS v2 API asks.
const (
	// AnnotationKeyARN is the ARN of the key that encrypted the
	// ciphertext; Decrypt names it, so a ciphertext decrypts under the key
	// it was made with whatever --key-id says now.
	AnnotationKeyARN = "key-arn.trent.dev"
	// AnnotationMaterialID is the key material id current when the
	// ciphertext was made (for operators: which rotation made it).
	AnnotationMaterialID = "key-material-id.trent.dev"
)

// encryptionContext binds every ciphertext the plugin makes to its use: a
// blob of the same key made for anything else does not decrypt here, nor
// these elsewhere without it.
var encryptionContext = map[string]string{"trent.dev/use": "kubernetes-kms-v2"}

// errNotSymmetric: kube-apiserver's seeds need a SYMMETRIC_DEFAULT key.
var errNotSymmetric = errors.New("the plugin needs a SYMMETRIC_DEFAULT key")

// version is the API version Status reports.
const version = "v2"

// Plugin serves the KeyManagementService API. Make it with New.
type Plugin struct {
	kmsapi.UnimplementedKeyManagementServiceServer
	client *kms.Client
	keyID  string // as given: key id, key ARN, alias name or alias ARN
	log    *slog.Logger

	mu      sync.Mutex
	current keyVersion // last learned from DescribeKey
}

// keyVersion is the key a request resolves to and its current material.
type keyVersion struct{ arn, materialID string }

// id is the key_id kube-apiserver sees. It changes when the key rotates
// (new material) or when --key-id comes to name another key.
func (k keyVersion) id() string {
	if k.materialID == "" {
		return k.arn
	}
	return k.arn + "#" + k.materialID
}

// New makes a plugin that uses the Trent key keyID through client.
func New(client *kms.Client, keyID string, log *slog.Logger) *Plugin {
	if log == nil {
		log = slog.Default()
	}
	return &Plugin{client: client, keyID: keyID, log: log}
}

// describe learns the key's ARN and current material.
func (p *Plugin) describe(ctx context.Context) (keyVersion, error) {
	out, err := p.client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(p.keyID)})
	if err != nil {
		return keyVersion{}, err
	}
	md := out.KeyMetadata
	if md == nil || aws.ToString(md.Arn) == "" {
		return keyVersion{}, errors.New("DescribeKey answered without the key's ARN")
	}
	if md.KeySpec != "SYMMETRIC_DEFAULT" {
		return keyVersion{}, fmt.Errorf("%w: key %s is %s", errNotSymmetric, aws.ToString(md.Arn), md.KeySpec)
	}
	k := keyVersion{arn: aws.ToString(md.Arn), materialID: aws.ToString(md.CurrentKeyMaterialId)}
	p.mu.Lock()
	if k != p.current {
		p.log.Info("kms key", "key_id", k.id())
	}
	p.current = k
	p.mu.Unlock()
	return k, nil
}

// Status reports "ok" only once a fresh Encrypt and Decrypt round trip
// through Trent succeeded, with the key_id of the key's current material.
// Anything else is reported in healthz, which kube-apiserver shows in its
// own health check.
func (p *Plugin) Status(ctx context.Context, _ *kmsapi.StatusRequest) (*kmsapi.StatusResponse, error) {
	k, err := p.describe(ctx)
	if err == nil {
		err = p.roundTrip(ctx, k)
	}
	if err != nil {
		p.log.Warn("status: not healthy", "err", err)
		p.mu.Lock()
		id := p.current.id()
		p.mu.Unlock()
		if id == "" {
			id = p.keyID // never empty: the API requires a key_id
		}
		return &kmsapi.StatusResponse{Version: version, Healthz: "trent kms plugin: " + summary(err), KeyId: id}, nil
	}
	return &kmsapi.StatusResponse{Version: version, Healthz: "ok", KeyId: k.id()}, nil
}

func (p *Plugin) roundTrip(ctx context.Context, k keyVersion) error {
	probe := make([]byte, 32)
	rand.Read(probe)
	enc, err := p.client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(k.arn), Plaintext: probe, EncryptionContext: encryptionContext})
	if err != nil {
		return fmt.Errorf("encrypt: %w", err)
	}
	dec, err := p.client.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(k.arn), CiphertextBlob: enc.CiphertextBlob, EncryptionContext: encryptionContext})
	if err != nil {
		return fmt.Errorf("decrypt: %w", err)
	}
	if !bytes.Equal(dec.Plaintext, probe) {
		return errors.New("decrypt: the round trip returned other bytes than were encrypted")
	}
	return nil
}

// Encrypt encrypts kube-apiserver's seed under the key's current
// material. The key_id is the one learned before encrypting: material only
// moves forward, so a rotation in between makes the reported id older
// than the material used, which costs one needless re-encryption, never a
// missed one.
func (p *Plugin) Encrypt(ctx context.Context, req *kmsapi.EncryptRequest) (*kmsapi.EncryptResponse, error) {
	k, err := p.describe(ctx)
	if err != nil {
		return nil, p.grpcError("encrypt", req.GetUid(), err)
	}
	out, err := p.client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(k.arn), Plaintext: req.GetPlaintext(), EncryptionContext: encryptionContext})
	if err != nil {
		return nil, p.grpcError("encrypt", req.GetUid(), err)
	}
	ann := map[string][]byte{AnnotationKeyARN: []byte(k.arn)}
	if k.materialID != "" {
		ann[AnnotationMaterialID] = []byte(k.materialID)
	}
	return &kmsapi.EncryptResponse{Ciphertext: out.CiphertextBlob, KeyId: k.id(), Annotations: ann}, nil
}

// Decrypt decrypts under the key named by the ciphertext's annotation (the
// key that made it), or, for a ciphertext without one, under the key the
// blob itself names.
func (p *Plugin) Decrypt(ctx context.Context, req *kmsapi.DecryptRequest) (*kmsapi.DecryptResponse, error) {
	in := &kms.DecryptInput{CiphertextBlob: req.GetCiphertext(), EncryptionContext: encryptionContext}
	if arn := req.GetAnnotations()[AnnotationKeyARN]; len(arn) > 0 {
		in.KeyId = aws.String(string(arn))
	}
	out, err := p.client.Decrypt(ctx, in)
	if err != nil {
		return nil, p.grpcError("decrypt", req.GetUid(), err)
	}
	return &kmsapi.DecryptResponse{Plaintext: out.Plaintext}, nil
}

// grpcError logs err and turns it into the gRPC status kube-apiserver
// reports: the code says whose problem it is (the request's, the key's or
// the permissions', or Trent being unreachable or busy), the message which
// AWS error it was.
func (p *Plugin) grpcError(op, uid string, err error) error {
	code := Code(err)
	p.log.Warn(op+" failed", "uid", uid, "code", code.String(), "err", err)
	return status.Error(code, op+": "+summary(err))
}

// Code maps an error of Trent's KMS API to a gRPC code.
func Code(err error) codes.Code {
	if errors.Is(err, context.DeadlineExceeded) {
		return codes.DeadlineExceeded
	}
	if errors.Is(err, context.Canceled) {
		return codes.Canceled
	}
	if errors.Is(err, errNotSymmetric) {
		return codes.FailedPrecondition
	}
	var api smithy.APIError
	if !errors.As(err, &api) {
		// No answer from Trent: a network error, a refused connection.
		return codes.Unavailable
	}
	switch api.ErrorCode() {
	case "InvalidCiphertextException", "IncorrectKeyException", "ValidationException",
		"InvalidKeyUsageException", "SerializationException":
		return codes.InvalidArgument
	case "NotFoundException", "DisabledException", "KMSInvalidStateException", "InvalidArnException":
		return codes.FailedPrecondition
	case "AccessDeniedException":
		return codes.PermissionDenied
	case "UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignatureException",
		"MissingAuthenticationTokenException", "ExpiredTokenException":
		return codes.Unauthenticated
	case "ThrottlingException", "LimitExceededException":
		return codes.ResourceExhausted
	case "DependencyTimeoutException":
		return codes.DeadlineExceeded
	case "KMSInternalException", "KeyUnavailableException", "ServiceUnavailableException":
		return codes.Unavailable
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
		return codes.Unavailable
	}
	return codes.Unknown
}

// summary is an error's short form for callers: the AWS error code and
// message, without the SDK's request ids and retry counts.
func summary(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		msg := api.ErrorCode()
		if m := api.ErrorMessage(); m != "" {
			msg += ": " + m
		}
		if before, _, ok := strings.Cut(err.Error(), ": operation error"); ok && before != "" {
			msg = before + ": " + msg // our own "encrypt: " prefix
		}
		return msg
	}
	return err.Error()
}
