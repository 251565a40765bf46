package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/trent-kms/trent/internal/testenv"
	"github.com/trent-kms/trent/internal/tlsutil"
)

// caBundleOf reads the dev certificate's path from what `serve --dev
// --tls` printed for the AWS CLI's --ca-bundle.
func caBundleOf(t *testing.T, srv *trentProc) string {
	t.Helper()
	stderr := srv.WaitStderr(t, "--ca-bundle ")
	_, rest, ok := strings.Cut(stderr, "--ca-bundle ")
	if !ok {
		t.Fatalf("no --ca-bundle path printed:\n%s", stderr)
	}
	path, _, _ := strings.Cut(rest, " ")
	return path
}

// trustingClient is an HTTP client that trusts the PEM certificates in
// caFile, presenting cert (if any) as its client certificate.
func trustingClient(t *testing.T, caFile string, cert *tls.Certificate) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", caFile)
	}
	cfg := &tls.Config{RootCAs: pool}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 30 * time.Second}
}

func sdkClient(url, id, secret string, hc *http.Client) *kms.Client {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	cfg := testenv.Config(url, "us-east-1", id, secret, "")
	cfg.HTTPClient = testenv.HTTPClient(hc)
	return kms.NewFromConfig(cfg)
}

// TestTLSDev: `serve --dev --tls` serves HTTPS with a certificate it makes
// and prints; aws-sdk-go-v2 and the AWS CLI (--ca-bundle) work through
// it, a client that does not trust it is refused, and old protocol
// versions are refused.
func TestTLSDev(t *testing.T) {
	id, secret := randomAccessKey(t)
	dir := filepath.Join(t.TempDir(), "data")
	srv := startTrent(t, []string{"TRENT_ROOT_ACCESS_KEY_ID=" + id, "TRENT_ROOT_SECRET_ACCESS_KEY=" + secret}, "--tls", "--data-dir", dir)
	if !strings.HasPrefix(srv.URL, "https://") {
		t.Fatalf("URL %s is not https", srv.URL)
	}
	ca := caBundleOf(t, srv)
	if filepath.Dir(ca) != dir {
		t.Errorf("certificate %s is not in the data dir %s", ca, dir)
	}
	fi, err := os.Stat(filepath.Join(dir, tlsutil.DevKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("dev TLS key: %v, mode %v; want 0600", err, fi.Mode())
	}

	ctx := context.Background()
	c := sdkClient(srv.URL, id, secret, trustingClient(t, ca, nil))
	key, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatalf("CreateKey over TLS: %v", err)
	}
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("over tls")})
	if err != nil {
		t.Fatalf("Encrypt over TLS: %v", err)
	}

	// A client with the system's roots only does not trust it.
	if _, err := sdkClient(srv.URL, id, secret, &http.Client{Timeout: 30 * time.Second}).ListKeys(ctx, &kms.ListKeysInput{}); err == nil ||
		!strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusting client: %v, want a certificate error", err)
	}
	// Plain HTTP to the TLS port gets no API answer.
	plainURL := "http://" + strings.TrimPrefix(srv.URL, "https://")
	if _, err := sdkClient(plainURL, id, secret, nil).ListKeys(ctx, &kms.ListKeysInput{}); err == nil {
		t.Error("plain HTTP to the TLS listener answered")
	}
	// TLS 1.1 is refused; 1.2 is accepted.
	addr := strings.TrimPrefix(srv.URL, "https://")
	if conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}); err == nil {
		conn.Close()
		t.Error("TLS 1.1 handshake accepted")
	}
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: trustingClient(t, ca, nil).Transport.(*http.Transport).TLSClientConfig.RootCAs, MaxVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS 1.2 handshake: %v", err)
	}
	conn.Close()

	// The AWS CLI with --ca-bundle decrypts what the SDK encrypted.
	cli := newAWSCLI(t, srv.URL, id, secret)
	blob := filepath.Join(cli.dir, "blob")
	if err := os.WriteFile(blob, enc.CiphertextBlob, 0o600); err != nil {
		t.Fatal(err)
	}
	out := cli.mustRun(t, "--ca-bundle", ca, "decrypt", "--ciphertext-blob", "fileb://"+blob, "--query", "Plaintext", "--output", "text")
	if got := strings.TrimSpace(out); got != "b3ZlciB0bHM=" { // base64("over tls")
		t.Errorf("aws kms decrypt over TLS = %q", got)
	}
	// Without --ca-bundle the CLI refuses the certificate.
	if _, errOut, err := cli.run(t, "list-keys"); err == nil || !strings.Contains(strings.ToLower(errOut), "certificate") {
		t.Errorf("aws without --ca-bundle: %v\n%s", err, errOut)
	}
}

// peerCert returns the certificate the server at addr presents.
func peerCert(t *testing.T, addr string) *x509.Certificate {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// replaceFile replaces name with from's content by a rename, as
// certificate renewers (certbot, cert-manager) do.
func replaceFile(t *testing.T, from, name string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name+".new", b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(name+".new", name); err != nil {
		t.Fatal(err)
	}
}

// waitForCert makes handshakes until the server presents want.
func waitForCert(t *testing.T, addr string, want *x509.Certificate, why string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !peerCert(t, addr).Equal(want) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: the server still presents the old certificate after 30s", why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTLSReload: replacing the certificate files makes new handshakes see
// the new certificate without a restart; so does SIGHUP; and requests
// keep working across.
func TestTLSReload(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	pairs := make([][2]string, 3)
	for i := range pairs {
		c, k, err := tlsutil.DevCert(t.TempDir(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		pairs[i] = [2]string{c, k}
	}
	replaceFile(t, pairs[0][0], cert)
	replaceFile(t, pairs[0][1], key)
	leaf := func(i int) *x509.Certificate {
		p, err := tls.LoadX509KeyPair(pairs[i][0], pairs[i][1])
		if err != nil {
			t.Fatal(err)
		}
		return p.Leaf
	}
	id, secret := randomAccessKey(t)
	srv := startTrent(t, []string{"TRENT_ROOT_ACCESS_KEY_ID=" + id, "TRENT_ROOT_SECRET_ACCESS_KEY=" + secret},
		"--tls-cert", cert, "--tls-key", key)
	addr := strings.TrimPrefix(srv.URL, "https://")
	if got := peerCert(t, addr); !got.Equal(leaf(0)) {
		t.Fatal("the server does not present the configured certificate")
	}

	replaceFile(t, pairs[1][1], key)
	replaceFile(t, pairs[1][0], cert)
	waitForCert(t, addr, leaf(1), "files replaced")
	srv.WaitStderr(t, "TLS certificate reloaded")
	if _, err := sdkClient(srv.URL, id, secret, trustingClient(t, pairs[1][0], nil)).ListKeys(context.Background(), &kms.ListKeysInput{}); err != nil {
		t.Fatalf("request after reload: %v", err)
	}

	// SIGHUP reloads at once (the files' change would also be seen by
	// the periodic check; this proves the signal is handled, not fatal).
	replaceFile(t, pairs[2][1], key)
	replaceFile(t, pairs[2][0], cert)
	if err := srv.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitForCert(t, addr, leaf(2), "SIGHUP")
	select {
	case <-srv.done:
		t.Fatalf("trent exited on SIGHUP:\n%s", srv.Stderr())
	default:
	}
}

// newCA makes a CA certificate and key.
func newCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return ca, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// clientCert makes a client certificate issued by ca.
func clientCert(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestTLSClientCA: with --tls-client-ca, a client without a certificate,
// or with one another CA issued, is refused at the handshake; one with a
// certificate the CA issued is served.
func TestTLSClientCA(t *testing.T) {
	ca, caKey, caPEM := newCA(t, "clients")
	other, otherKey, _ := newCA(t, "strangers")
	caFile := filepath.Join(t.TempDir(), "clients.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	id, secret := randomAccessKey(t)
	srv := startTrent(t, []string{"TRENT_ROOT_ACCESS_KEY_ID=" + id, "TRENT_ROOT_SECRET_ACCESS_KEY=" + secret},
		"--tls", "--data-dir", filepath.Join(t.TempDir(), "data"), "--tls-client-ca", caFile)
	serverCA := caBundleOf(t, srv)
	ctx := context.Background()
	tests := []struct {
		name string
		cert *tls.Certificate
		ok   bool
	}{
		{"no client certificate", nil, false},
		{"certificate of another CA", clientCert(t, other, otherKey), false},
		{"certificate of the client CA", clientCert(t, ca, caKey), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sdkClient(srv.URL, id, secret, trustingClient(t, serverCA, tt.cert)).ListKeys(ctx, &kms.ListKeysInput{})
			if tt.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tt.ok {
				if err == nil {
					t.Fatal("served")
				}
				var ae smithy.APIError
				if errors.As(err, &ae) {
					t.Fatalf("refused by the API (%v), not at the handshake", err)
				}
			}
		})
	}
}

// TestSecureTransportCondition: a key policy denying kms:Encrypt when
// aws:SecureTransport is false denies a request over plain HTTP and
// allows the same request over TLS, on one installation.
func TestSecureTransportCondition(t *testing.T) {
	env := testenv.Start(t)
	tlsSrv := httptest.NewUnstartedServer(env.App.Handler)
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	overTLS := sdkClient(tlsSrv.URL, env.AccessKeyID, env.Secret, tlsSrv.Client())
	ctx := context.Background()

	policy := `{"Version":"2012-10-17","Statement":[
	 {"Sid":"Root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + env.Account + `:root"},"Action":"kms:*","Resource":"*"},
	 {"Sid":"TLSOnly","Effect":"Deny","Principal":"*","Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*",
	  "Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`
	key, err := env.KMS.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(policy)})
	if err != nil {
		t.Fatal(err)
	}
	in := &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("x")}
	_, err = env.KMS.Encrypt(ctx, in)
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
		t.Fatalf("Encrypt over plain HTTP: %v, want AccessDeniedException", err)
	}
	out, err := overTLS.Encrypt(ctx, in)
	if err != nil {
		t.Fatalf("Encrypt over TLS: %v", err)
	}
	dec, err := overTLS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: out.CiphertextBlob})
	if err != nil || !bytes.Equal(dec.Plaintext, []byte("x")) {
		t.Fatalf("Decrypt over TLS: %v", err)
	}
}

// TestPlainHTTPWarning: plain HTTP on an address other machines can
// reach is served, with a warning; on loopback there is none.
func TestPlainHTTPWarning(t *testing.T) {
	// Any interface: reachable from elsewhere.
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Skipf("cannot listen on all interfaces here: %v", err)
	}
	ln.Close()
	srv := startTrentArgs(t, nil, "serve", "--dev", "--listen", "0.0.0.0:0")
	srv.WaitStderr(t, "serving plain HTTP on an address other machines can reach")
	local := startTrent(t, nil)
	if strings.Contains(local.Stderr(), "plain HTTP") {
		t.Errorf("warning on loopback:\n%s", local.Stderr())
	}
}

// TestSecureTransportIAM: an identity policy allowing an IAM action only
// with aws:SecureTransport true allows it over TLS and not over plain
// HTTP (the IAM and STS decisions build their own policy context).
func TestSecureTransportIAM(t *testing.T) {
	env := testenv.Start(t)
	tlsSrv := httptest.NewUnstartedServer(env.App.Handler)
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	iamClient := func(url string, creds aws.Credentials, hc *http.Client) *iam.Client {
		if hc == nil {
			hc = &http.Client{Timeout: 30 * time.Second}
		}
		cfg := testenv.Config(url, env.Region, creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)
		cfg.HTTPClient = testenv.HTTPClient(hc)
		return iam.NewFromConfig(cfg)
	}
	ctx := context.Background()
	root := iamClient(env.URL, aws.Credentials{AccessKeyID: env.AccessKeyID, SecretAccessKey: env.Secret}, nil)
	if _, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("tls-only")}); err != nil {
		t.Fatal(err)
	}
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*",
	  "Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}`
	if _, err := root.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("tls-only"), PolicyName: aws.String("p"), PolicyDocument: aws.String(doc)}); err != nil {
		t.Fatal(err)
	}
	k, err := root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("tls-only")})
	if err != nil {
		t.Fatal(err)
	}
	creds := aws.Credentials{AccessKeyID: *k.AccessKey.AccessKeyId, SecretAccessKey: *k.AccessKey.SecretAccessKey}
	_, err = iamClient(env.URL, creds, nil).ListUsers(ctx, &iam.ListUsersInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
		t.Fatalf("ListUsers over plain HTTP: %v, want AccessDenied", err)
	}
	if _, err := iamClient(tlsSrv.URL, creds, tlsSrv.Client()).ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
		t.Fatalf("ListUsers over TLS: %v", err)
	}
}

// TestTLSRetiredClientCARefusesResumption: a client CA taken out of
// --tls-client-ca stops admitting its certificates at once, including a
// TLS session resumed from a ticket issued while it was trusted (the
// server's config per handshake comes from GetConfigForClient; Go before
// its 2026 fix resumed such sessions without checking the chain again).
func TestTLSRetiredClientCARefusesResumption(t *testing.T) {
	ca, caKey, caPEM := newCA(t, "clients")
	_, _, otherPEM := newCA(t, "successors")
	caFile := filepath.Join(t.TempDir(), "clients.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startTrent(t, nil, "--tls", "--data-dir", filepath.Join(t.TempDir(), "data"), "--tls-client-ca", caFile)
	serverCA := caBundleOf(t, srv)
	cert := clientCert(t, ca, caKey)

	resuming := trustingClient(t, serverCA, cert)
	tr := resuming.Transport.(*http.Transport)
	tr.TLSClientConfig.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	tr.DisableKeepAlives = true // a handshake per request
	get := func(c *http.Client) (*http.Response, error) {
		resp, err := c.Get(srv.URL + "/healthz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return resp, err
	}
	if _, err := get(resuming); err != nil {
		t.Fatal(err)
	}
	resp, err := get(resuming)
	if err != nil {
		t.Fatal(err)
	}
	if !resp.TLS.DidResume {
		t.Fatal("the second handshake did not resume: the test would prove nothing")
	}

	if err := os.WriteFile(caFile, otherPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// The reload is done once a fresh handshake with the certificate fails.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := get(trustingClient(t, serverCA, cert)); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the retired CA's certificate is still admitted")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if resp, err := get(resuming); err == nil {
		t.Fatalf("a session resumed from the retired CA's time was admitted (resumed: %v)", resp.TLS.DidResume)
	}
}
