package k8splugin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/smithy-go"
	"google.golang.org/grpc/codes"
)

func TestCode(t *testing.T) {
	api := func(code string) error {
		return fmt.Errorf("operation error KMS: Encrypt: %w", &smithy.GenericAPIError{Code: code, Message: "m"})
	}
	for _, tc := range []struct {
		err  error
		want codes.Code
	}{
		{api("InvalidCiphertextException"), codes.InvalidArgument},
		{api("IncorrectKeyException"), codes.InvalidArgument},
		{api("DisabledException"), codes.FailedPrecondition},
		{api("KMSInvalidStateException"), codes.FailedPrecondition},
		{api("NotFoundException"), codes.FailedPrecondition},
		{api("AccessDeniedException"), codes.PermissionDenied},
		{api("UnrecognizedClientException"), codes.Unauthenticated},
		{api("InvalidSignatureException"), codes.Unauthenticated},
		{api("ThrottlingException"), codes.ResourceExhausted},
		{api("DependencyTimeoutException"), codes.DeadlineExceeded},
		{api("KMSInternalException"), codes.Unavailable},
		{api("ServiceUnavailableException"), codes.Unavailable},
		{api("SomethingNewException"), codes.Unknown},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, codes.Unavailable},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), codes.DeadlineExceeded},
		{context.Canceled, codes.Canceled},
		{fmt.Errorf("%w: key k is RSA_2048", errNotSymmetric), codes.FailedPrecondition},
	} {
		if got := Code(tc.err); got != tc.want {
			t.Errorf("Code(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

func TestSummary(t *testing.T) {
	err := fmt.Errorf("encrypt: %w", fmt.Errorf("operation error KMS: Encrypt, https response error StatusCode: 400, RequestID: r, %w",
		&smithy.GenericAPIError{Code: "DisabledException", Message: "arn:aws:kms:us-east-1:111122223333:key/k is disabled."}))
	if got, want := summary(err), "encrypt: DisabledException: arn:aws:kms:us-east-1:111122223333:key/k is disabled."; got != want {
		t.Errorf("summary = %q, want %q", got, want)
	}
}

// TestListen: a stale socket is replaced, anything else at the path is
// left alone, and the socket is its owner's only.
func TestListen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kms.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode: %v, %v", fi, err)
	}
	// A socket left behind (a crash: the listener never closed).
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	ln, err = Listen(path)
	if err != nil {
		t.Fatalf("a stale socket was not replaced: %v", err)
	}
	ln.Close()

	file := filepath.Join(dir, "not-a-socket")
	if err := os.WriteFile(file, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(file); err == nil {
		t.Fatal("a regular file was replaced by the socket")
	}
	if b, _ := os.ReadFile(file); string(b) != "keep" {
		t.Fatal("the regular file was changed")
	}
}
