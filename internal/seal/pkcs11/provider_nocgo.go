//go:build !cgo

package pkcs11

import "github.com/trent-kms/trent/internal/seal"

// Provider stands in for the PKCS #11 seal in a build without cgo, where no
// PKCS #11 library can be loaded: Open and EnsureKey return ErrNoCgo, so the
// binary builds and says why the pkcs11 seal is unavailable.
type Provider struct{ settings Settings }

var _ seal.Provider = (*Provider)(nil)

// Open returns ErrNoCgo.
func Open(Settings, string) (*Provider, error) { return nil, ErrNoCgo }

// EnsureKey returns ErrNoCgo.
func EnsureKey(Settings, string) (bool, error) { return false, ErrNoCgo }

// Name returns "pkcs11".
func (*Provider) Name() string { return ProviderName }

// Settings returns the Provider's settings.
func (p *Provider) Settings() Settings { return p.settings }

// Seal returns ErrNoCgo.
func (*Provider) Seal([]byte) ([]byte, error) { return nil, ErrNoCgo }

// Unseal returns ErrNoCgo.
func (*Provider) Unseal([]byte) ([]byte, error) { return nil, ErrNoCgo }

// Close does nothing.
func (*Provider) Close() error { return nil }
