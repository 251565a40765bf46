package e2e

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOperatorCommandsOverTLS: trent status and trent seal reach a server
// whose certificate the system does not trust (--ca-bundle, or
// AWS_CA_BUNDLE as for the AWS CLI) and that demands a client certificate
// (--client-cert, --client-key); without them they are refused at the
// handshake, as any client.
func TestOperatorCommandsOverTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey, caPEM := newCA(t, "operators")
	caFile := filepath.Join(dir, "operators.pem")
	cert := clientCert(t, ca, caKey)
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
	for name, data := range map[string][]byte{
		caFile:   caPEM,
		certFile: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}),
		keyFile:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	id, secret := randomAccessKey(t)
	srv := startTrent(t, []string{"TRENT_ROOT_ACCESS_KEY_ID=" + id, "TRENT_ROOT_SECRET_ACCESS_KEY=" + secret},
		"--tls", "--data-dir", filepath.Join(dir, "data"), "--tls-client-ca", caFile)
	serverCA := caBundleOf(t, srv)
	clientFlags := []string{"--client-cert", certFile, "--client-key", keyFile}

	refused := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"system roots", []string{"AWS_CA_BUNDLE="}, clientFlags, "certificate"},
		// TLS 1.3: the client learns of the refusal as a reset, not an alert.
		{"no client certificate", nil, []string{"--ca-bundle", serverCA}, "/sys/status"},
		{"half a client certificate", nil, []string{"--ca-bundle", serverCA, "--client-cert", certFile}, "--client-cert and --client-key go together"},
		{"bundle without PEM", nil, []string{"--ca-bundle", keyFile + "x"}, "--ca-bundle"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := runCLI(t, "", tt.env, append([]string{"status", "--endpoint", srv.URL}, tt.args...)...)
			if code == 0 || !strings.Contains(stderr, tt.want) {
				t.Fatalf("status: exit %d, want a refusal naming %q\n%s%s", code, tt.want, out, stderr)
			}
		})
	}

	out, stderr, code := runCLI(t, "", nil, append([]string{"status", "--endpoint", srv.URL, "--ca-bundle", serverCA}, clientFlags...)...)
	if code != 0 || !strings.Contains(out, "Sealed:      false") {
		t.Fatalf("status with --ca-bundle and a client certificate: exit %d\n%s%s", code, out, stderr)
	}
	env := []string{"AWS_ACCESS_KEY_ID=" + id, "AWS_SECRET_ACCESS_KEY=" + secret, "AWS_SESSION_TOKEN=", "AWS_CA_BUNDLE=" + serverCA}
	if out, stderr, code := runCLI(t, "", env, append([]string{"seal", "--endpoint", srv.URL}, clientFlags...)...); code != 0 {
		t.Fatalf("seal with AWS_CA_BUNDLE and a client certificate: exit %d\n%s%s", code, out, stderr)
	}
	out, stderr, code = runCLI(t, "", []string{"AWS_CA_BUNDLE=" + serverCA}, append([]string{"status", "--endpoint", srv.URL}, clientFlags...)...)
	if code != 0 || !strings.Contains(out, "Sealed:      true") {
		t.Fatalf("status after seal: exit %d\n%s%s", code, out, stderr)
	}
}
