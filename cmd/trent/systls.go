package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
)

// sysTLS are the TLS flags of the operator commands (unseal, status,
// seal), so that they reach a server whose certificate a private CA
// issued, or that demands client certificates (--tls-client-ca): a
// shamir installation behind either must still be unsealed.
type sysTLS struct {
	caBundle, cert, key string
}

func addSysTLSFlags(fs *flag.FlagSet) *sysTLS {
	s := &sysTLS{}
	fs.StringVar(&s.caBundle, "ca-bundle", "", "PEM `file` of the CAs to trust for an https endpoint instead of the system's (default $AWS_CA_BUNDLE, as the AWS CLI)")
	fs.StringVar(&s.cert, "client-cert", "", "PEM certificate `file` to present to a server that demands one (serve --tls-client-ca)")
	fs.StringVar(&s.key, "client-key", "", "PEM private key `file` of --client-cert")
	return s
}

// client is the HTTP client the flags ask for.
func (s *sysTLS) client() (*http.Client, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	bundle, flagName := s.caBundle, "--ca-bundle"
	if bundle == "" {
		bundle, flagName = os.Getenv("AWS_CA_BUNDLE"), "$AWS_CA_BUNDLE"
	}
	if bundle != "" {
		pem, err := os.ReadFile(bundle)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flagName, err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s %s: no PEM certificate in it", flagName, bundle)
		}
	}
	if (s.cert == "") != (s.key == "") {
		return nil, errors.New("--client-cert and --client-key go together")
	}
	if s.cert != "" {
		pair, err := tls.LoadX509KeyPair(s.cert, s.key)
		if err != nil {
			return nil, fmt.Errorf("--client-cert %s / --client-key %s: %w", s.cert, s.key, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	return &http.Client{Timeout: sysTimeout, Transport: tr}, nil
}
