package seal

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/trent-kms/trent/internal/durable"
)

// Provider seals the root key for storage. The sealed blob is not secret on
// its own (it lives in the store's settings); only the provider can open it.
type Provider interface {
	// Name identifies the provider in configuration and status output:
	// "keyfile", later "shamir", "pkcs11".
	Name() string
	// Seal encrypts the RootKeySize-byte root key and returns the sealed
	// blob. It does not retain root.
	Seal(root []byte) ([]byte, error)
	// Unseal returns the RootKeySize-byte root key from a blob made by Seal
	// with the same provider configuration, or an error wrapping ErrUnseal.
	// The caller owns the result and should zero it after NewRootKey.
	Unseal(sealed []byte) ([]byte, error)
}

// ErrUnseal reports that a sealed root key could not be opened: the provider
// holds another key-encryption key, or the sealed blob is corrupted or of an
// unknown format.
var ErrUnseal = errors.New("seal: cannot unseal the root key")

// KeyFile is a Provider whose key-encryption key (KEK) is 32 random bytes in
// a file only its owner can read. The KEK is read from the file on each Seal
// or Unseal and zeroed afterwards; it is not kept in memory.
//
// The file is text, so it survives copying through terminals and secret
// stores:
//
//	trent-keyfile-v1
//	<the 32 bytes in standard base64, with padding: 44 characters>
//
// where the final newline is optional. Nothing else is accepted.
//
// Seal's output, format 1, is 61 bytes:
//
//	0x01 ‖ nonce (12) ‖ AES-256-GCM(KEK, root key, ad = "trent/root/v1") ‖ tag (16)
type KeyFile struct {
	Path string
}

var _ Provider = (*KeyFile)(nil)

const (
	keyFileHeader  = "trent-keyfile-v1"
	keyFileKEKSize = 32
	keyFileMaxSize = 256 // far more than a valid file; bounds the read

	rootFormat1 = 0x01
	rootAD      = "trent/root/v1"
	sealedLen   = 1 + gcmOverhead + RootKeySize
)

// CreateKeyFile writes a new key file at path holding a fresh random KEK. It
// refuses to replace an existing file (O_EXCL), creates the file with mode
// 0600, and syncs the file and its directory before returning, so the KEK is
// durable before anything is sealed with it. On failure it removes what it
// created.
func CreateKeyFile(path string) (*KeyFile, error) {
	var kek [keyFileKEKSize]byte
	defer clear(kek[:])
	if _, err := rand.Read(kek[:]); err != nil {
		return nil, fmt.Errorf("seal: generating key-encryption key: %w", err)
	}
	content := encodeKeyFile(&kek)
	defer clear(content)

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("seal: key file %s already exists; refusing to overwrite it: %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("seal: creating key file: %w", err)
	}
	if err := durable.WriteAndClose(f, content); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("seal: writing key file %s: %w", path, err)
	}
	if err := durable.SyncDir(filepath.Dir(path)); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("seal: syncing directory of key file %s: %w", path, err)
	}
	return &KeyFile{Path: path}, nil
}

// OpenKeyFile checks that the key file at path exists, is a regular file not
// readable or writable by group or others, and holds a well-formed KEK. It
// does not keep the KEK: Seal and Unseal read the file again.
func OpenKeyFile(path string) (*KeyFile, error) {
	kf := &KeyFile{Path: path}
	kek, err := kf.readKEK()
	if err != nil {
		return nil, err
	}
	clear(kek[:])
	return kf, nil
}

// Name returns "keyfile".
func (*KeyFile) Name() string { return "keyfile" }

// Seal encrypts root (RootKeySize bytes) under the file's KEK.
func (kf *KeyFile) Seal(root []byte) ([]byte, error) {
	return sealRoot(root, rootAD, kf.aead)
}

// Unseal decrypts a root key sealed by Seal under the same key file. A
// different key file, or a modified blob, yields an error wrapping ErrUnseal
// that names the key file.
func (kf *KeyFile) Unseal(sealed []byte) ([]byte, error) {
	return openRoot(sealed, rootAD, kf.aead,
		"key file "+kf.Path+" is not the one this root key was sealed with (or the sealed root key was modified)")
}

// aead reads the file's KEK, which it does not keep.
func (kf *KeyFile) aead() (cipher.AEAD, error) {
	kek, err := kf.readKEK()
	if err != nil {
		return nil, err
	}
	aead, err := newAEAD(kek[:])
	clear(kek[:])
	return aead, err
}

// sealRoot seals root (RootKeySize bytes) in the sealed root key's
// format 1, which the key-file and Shamir seals share: the format byte,
// then root encrypted by the seal's AEAD with ad, which names the seal.
// aead is asked for only once root is known to be a root key.
func sealRoot(root []byte, ad string, aead func() (cipher.AEAD, error)) ([]byte, error) {
	if len(root) != RootKeySize {
		return nil, fmt.Errorf("seal: root key must be %d bytes, got %d", RootKeySize, len(root))
	}
	a, err := aead()
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1, sealedLen)
	out[0] = rootFormat1
	return a.Seal(out, nil, root, []byte(ad)), nil
}

// openRoot opens what sealRoot sealed with the same ad. aead is asked for
// only once sealed is known to be of format 1; a blob it does not open is
// ErrUnseal with the seal's message wrong.
func openRoot(sealed []byte, ad string, aead func() (cipher.AEAD, error), wrong string) ([]byte, error) {
	if len(sealed) == 0 {
		return nil, fmt.Errorf("%w: the sealed root key is empty", ErrUnseal)
	}
	if sealed[0] != rootFormat1 {
		return nil, fmt.Errorf("%w: %w 0x%02x of the sealed root key", ErrUnseal, ErrUnknownFormat, sealed[0])
	}
	if len(sealed) != sealedLen {
		return nil, fmt.Errorf("%w: the sealed root key is %d bytes, want %d", ErrUnseal, len(sealed), sealedLen)
	}
	a, err := aead()
	if err != nil {
		return nil, err
	}
	root, err := a.Open(make([]byte, 0, RootKeySize), nil, sealed[1:], []byte(ad))
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrUnseal, wrong)
	}
	return root, nil
}

// readKEK reads and validates the key file. The caller zeroes the result.
func (kf *KeyFile) readKEK() (*[keyFileKEKSize]byte, error) {
	f, err := os.Open(kf.Path)
	if err != nil {
		return nil, fmt.Errorf("seal: opening key file: %w", err)
	}
	defer f.Close()
	// Check the file we opened, not the path, so it cannot be swapped
	// between the check and the read.
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("seal: key file %s: %w", kf.Path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("seal: key file %s is not a regular file", kf.Path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("seal: key file %s is accessible by group or others (mode %04o); run: chmod 600 %s", kf.Path, perm, kf.Path)
	}
	buf := make([]byte, keyFileMaxSize+1)
	defer clear(buf)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("seal: reading key file %s: %w", kf.Path, err)
	}
	if n > keyFileMaxSize {
		return nil, fmt.Errorf("seal: key file %s is too large to be a Trent key file", kf.Path)
	}
	kek, err := decodeKeyFile(buf[:n])
	if err != nil {
		return nil, fmt.Errorf("seal: key file %s: %w", kf.Path, err)
	}
	return kek, nil
}

func encodeKeyFile(kek *[keyFileKEKSize]byte) []byte {
	b := make([]byte, 0, len(keyFileHeader)+1+base64.StdEncoding.EncodedLen(keyFileKEKSize)+1)
	b = append(b, keyFileHeader...)
	b = append(b, '\n')
	b = base64.StdEncoding.AppendEncode(b, kek[:])
	return append(b, '\n')
}

// decodeKeyFile parses the key file format strictly. Its errors never quote
// the file's content.
func decodeKeyFile(b []byte) (*[keyFileKEKSize]byte, error) {
	header, rest, ok := bytes.Cut(b, []byte{'\n'})
	if string(header) != keyFileHeader {
		if v, ok := bytes.CutPrefix(header, []byte("trent-keyfile-v")); ok && isDigits(v) {
			return nil, fmt.Errorf("%w %s: this build reads only %q", ErrUnknownFormat, header, keyFileHeader)
		}
		return nil, fmt.Errorf("not a Trent key file: the first line must be %q", keyFileHeader)
	}
	if !ok {
		return nil, errors.New("malformed: the key line is missing")
	}
	rest = bytes.TrimSuffix(rest, []byte{'\n'})
	if len(rest) != base64.StdEncoding.EncodedLen(keyFileKEKSize) {
		return nil, errors.New("malformed: the second line must be 44 characters of base64")
	}
	var tmp [keyFileKEKSize + 1]byte // DecodedLen(44) is 33
	defer clear(tmp[:])
	n, err := base64.StdEncoding.Strict().Decode(tmp[:], rest)
	if err != nil || n != keyFileKEKSize {
		return nil, errors.New("malformed: the second line is not canonical base64 of 32 bytes")
	}
	kek := new([keyFileKEKSize]byte)
	copy(kek[:], tmp[:])
	return kek, nil
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0 && len(b) <= 4
}
