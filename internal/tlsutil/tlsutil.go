// Package tlsutil is the server side of Trent's TLS: the configuration
// (TLS 1.2 and later, forward-secret AEAD suites only), a certificate that
// is reloaded when its files change or on demand (SIGHUP), optional
// client-certificate verification, and the self-signed certificate of a
// --dev server. It never logs or returns private key bytes.
package tlsutil

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Options are the files of a server's TLS.
type Options struct {
	CertFile, KeyFile string
	// ClientCAFile, when set, is a PEM bundle of the CAs whose client
	// certificates are accepted; a client without one is refused at the
	// handshake.
	ClientCAFile string
	Log          *slog.Logger
}

// Certs holds the server's current certificate. GetCertificate hands it to
// every handshake, so a reload takes effect at the next handshake and
// never cuts a connection.
type Certs struct {
	opts  Options
	cur   atomic.Pointer[tls.Certificate]
	mu    sync.Mutex // orders reloads
	stamp [2]fileStamp
	// pool is the client CAs, reloaded like the certificate: a CA
	// added or retired takes effect without a restart.
	pool    atomic.Pointer[x509.CertPool]
	caStamp fileStamp
}

// fileStamp is what tells that a file changed: replaced (another inode),
// rewritten (size, modification time).
type fileStamp struct {
	ino   uint64
	size  int64
	mtime time.Time
}

// Load reads the certificate, key and client CA bundle, refusing any that
// does not parse.
func Load(o Options) (*Certs, error) {
	if o.CertFile == "" || o.KeyFile == "" {
		return nil, errors.New("a certificate needs both --tls-cert and --tls-key")
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	c := &Certs{opts: o}
	if _, err := c.reload(true); err != nil {
		return nil, err
	}
	if o.ClientCAFile != "" {
		if _, err := c.reloadCA(true); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// reloadCA reads the client CA bundle again if it changed (or always,
// with force). A bundle that does not parse leaves the current one.
func (c *Certs) reloadCA(force bool) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, err := stat(c.opts.ClientCAFile)
	if err != nil {
		return false, fmt.Errorf("--tls-client-ca: %w", err)
	}
	if !force && st == c.caStamp && c.pool.Load() != nil {
		return false, nil
	}
	pem, err := os.ReadFile(c.opts.ClientCAFile)
	if err != nil {
		return false, fmt.Errorf("--tls-client-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return false, fmt.Errorf("--tls-client-ca %s: no PEM certificate in it", c.opts.ClientCAFile)
	}
	c.pool.Store(pool)
	c.caStamp = st
	return true, nil
}

// ServerConfig is the tls.Config of the server.
func (c *Certs) ServerConfig() *tls.Config {
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// TLS 1.2's suites: ECDHE (forward secrecy) with an AEAD only.
		// TLS 1.3's suites are not configurable and all qualify. In FIPS
		// mode crypto/tls narrows these further by itself.
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return c.cur.Load(), nil },
		NextProtos:     []string{"h2", "http/1.1"},
	}
	if c.opts.ClientCAFile != "" {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = c.pool.Load()
		base := cfg.Clone()
		// Each handshake verifies against the CAs loaded last.
		cfg.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
			conf := base.Clone()
			conf.ClientCAs = c.pool.Load()
			return conf, nil
		}
	}
	return cfg
}

// Current is the certificate handed to new handshakes.
func (c *Certs) Current() *tls.Certificate { return c.cur.Load() }

// Reload reads the files again if they changed since the last load (or
// always, with force) and makes the pair current if it parses. A pair that
// does not parse — a half-replaced one: new certificate, old key — leaves
// the current one in use and is tried again at the next Reload.
func (c *Certs) Reload(force bool) (bool, error) { return c.reload(force) }

func (c *Certs) reload(force bool) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var stamp [2]fileStamp
	for i, name := range []string{c.opts.CertFile, c.opts.KeyFile} {
		st, err := stat(name)
		if err != nil {
			return false, err
		}
		stamp[i] = st
	}
	if !force && stamp == c.stamp && c.cur.Load() != nil {
		return false, nil
	}
	certPEM, err := os.ReadFile(c.opts.CertFile)
	if err != nil {
		return false, fmt.Errorf("--tls-cert: %w", err)
	}
	keyPEM, err := os.ReadFile(c.opts.KeyFile)
	if err != nil {
		return false, fmt.Errorf("--tls-key: %w", err)
	}
	defer clear(keyPEM)
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return false, fmt.Errorf("--tls-cert %s / --tls-key %s: %w", c.opts.CertFile, c.opts.KeyFile, err)
	}
	if old := c.cur.Load(); old != nil && len(old.Certificate) > 0 && bytes.Equal(old.Certificate[0], pair.Certificate[0]) && !force {
		c.stamp = stamp
		return false, nil
	}
	c.cur.Store(&pair)
	c.stamp = stamp
	return true, nil
}

// Watch reloads the certificate every interval when its files changed,
// and at once on every value from hup (SIGHUP), until stop is closed.
// Failures are logged; the current certificate stays.
func (c *Certs) Watch(stop <-chan struct{}, interval time.Duration, hup <-chan os.Signal) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		force := false
		select {
		case <-stop:
			return
		case <-t.C:
		case <-hup:
			force = true
		}
		changed, err := c.reload(force)
		switch {
		case err != nil:
			c.opts.Log.Warn("TLS certificate not reloaded; the current one stays in use", "cert", c.opts.CertFile, "err", err)
		case changed:
			leaf := c.cur.Load().Leaf
			c.opts.Log.Info("TLS certificate reloaded", "cert", c.opts.CertFile, "subject", leaf.Subject.String(), "not_after", leaf.NotAfter)
		}
		if c.opts.ClientCAFile == "" {
			continue
		}
		changed, err = c.reloadCA(force)
		switch {
		case err != nil:
			c.opts.Log.Warn("TLS client CAs not reloaded; the current ones stay in use", "client_ca", c.opts.ClientCAFile, "err", err)
		case changed:
			c.opts.Log.Info("TLS client CAs reloaded", "client_ca", c.opts.ClientCAFile)
		}
	}
}
