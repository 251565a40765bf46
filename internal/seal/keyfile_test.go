package seal

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

func newTestKeyFile(t *testing.T) *KeyFile {
	t.Helper()
	kf, err := CreateKeyFile(filepath.Join(t.TempDir(), "root.key"))
	if err != nil {
		t.Fatal(err)
	}
	return kf
}

func writeFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "root.key")
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // WriteFile's mode is subject to umask
		t.Fatal(err)
	}
	return path
}

func TestCreateKeyFile(t *testing.T) {
	kf := newTestKeyFile(t)
	if kf.Name() != "keyfile" {
		t.Errorf("Name() = %q", kf.Name())
	}
	fi, err := os.Stat(kf.Path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %04o, want 0600", fi.Mode().Perm())
	}
	content, err := os.ReadFile(kf.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^trent-keyfile-v1\n[A-Za-z0-9+/]{43}=\n$`).Match(content) {
		t.Fatalf("key file content has the wrong shape (%d bytes)", len(content))
	}
	if _, err := OpenKeyFile(kf.Path); err != nil {
		t.Fatalf("OpenKeyFile of a new key file: %v", err)
	}
	other := newTestKeyFile(t)
	otherContent, _ := os.ReadFile(other.Path)
	if bytes.Equal(content, otherContent) {
		t.Fatal("two new key files hold the same key")
	}
}

func TestCreateKeyFileRefusesExisting(t *testing.T) {
	path := writeFile(t, "precious", 0o600)
	if _, err := CreateKeyFile(path); err == nil || !errors.Is(err, fs.ErrExist) {
		t.Fatalf("CreateKeyFile over an existing file = %v; want an error wrapping fs.ErrExist", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "precious" {
		t.Fatalf("existing file was changed to %q", got)
	}
	if _, err := CreateKeyFile(filepath.Join(t.TempDir(), "missing", "root.key")); err == nil {
		t.Fatal("CreateKeyFile in a missing directory succeeded")
	}
}

func TestKeyFileSealRoundTrip(t *testing.T) {
	kf := newTestKeyFile(t)
	root, _ := GenerateRootKey()
	sealed, err := kf.Seal(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != 61 || sealed[0] != rootFormat1 {
		t.Fatalf("Seal = %d bytes starting %#x; want 61 starting 0x01", len(sealed), sealed[0])
	}
	if bytes.Contains(sealed, root) {
		t.Fatal("sealed blob contains the root key")
	}
	// A KeyFile is just a path: reopening it must unseal.
	reopened, err := OpenKeyFile(kf.Path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := reopened.Unseal(sealed)
	if err != nil || !bytes.Equal(got, root) {
		t.Fatalf("Unseal = %x, %v; want %x", got, err, root)
	}
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := kf.Seal(make([]byte, n)); err == nil {
			t.Errorf("Seal(%d bytes) succeeded", n)
		}
	}
}

func TestKeyFileUnsealFailures(t *testing.T) {
	kf := newTestKeyFile(t)
	root, _ := GenerateRootKey()
	sealed, err := kf.Seal(root)
	if err != nil {
		t.Fatal(err)
	}
	wrongFile := newTestKeyFile(t)
	if got, err := wrongFile.Unseal(sealed); !errors.Is(err, ErrUnseal) || got != nil ||
		!strings.Contains(err.Error(), wrongFile.Path) || !strings.Contains(err.Error(), "not the one") {
		t.Fatalf("Unseal with another key file = %x, %v; want ErrUnseal naming the key file", got, err)
	}

	for i := range sealed {
		for bit := range 8 {
			bad := bytes.Clone(sealed)
			bad[i] ^= 1 << bit
			if got, err := kf.Unseal(bad); !errors.Is(err, ErrUnseal) || got != nil {
				t.Fatalf("flipping bit %d of byte %d: Unseal = %x, %v; want ErrUnseal", bit, i, got, err)
			}
		}
	}
	v2 := bytes.Clone(sealed)
	v2[0] = 0x02
	if _, err := kf.Unseal(v2); !errors.Is(err, ErrUnseal) || !errors.Is(err, ErrUnknownFormat) {
		t.Fatalf("Unseal of format 2 = %v; want ErrUnseal and ErrUnknownFormat", err)
	}
	for _, b := range [][]byte{nil, sealed[:1], sealed[:60], append(bytes.Clone(sealed), 0)} {
		if _, err := kf.Unseal(b); !errors.Is(err, ErrUnseal) {
			t.Fatalf("Unseal of %d bytes = %v; want ErrUnseal", len(b), err)
		}
	}
}

func TestOpenKeyFilePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permission bits")
	}
	valid := encodeKeyFile((*[32]byte)(seq(0xa0, 32)))
	tests := []struct {
		mode os.FileMode
		ok   bool
	}{
		{0o600, true},
		{0o400, true},
		{0o700, true},
		{0o640, false},
		{0o604, false},
		{0o660, false},
		{0o644, false},
		{0o666, false},
		{0o620, false},
		{0o602, false},
	}
	for _, tt := range tests {
		path := writeFile(t, string(valid), tt.mode)
		_, err := OpenKeyFile(path)
		if tt.ok != (err == nil) {
			t.Errorf("OpenKeyFile with mode %04o = %v; want ok=%v", tt.mode, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("OpenKeyFile with mode %04o: error %q does not say to chmod 600", tt.mode, err)
		}
	}

	// Seal and Unseal re-read the file, so a file loosened after
	// OpenKeyFile is refused then too.
	path := writeFile(t, string(valid), 0o600)
	kf, err := OpenKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := kf.Seal(seq(0, 32)); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("Seal with a loosened key file = %v", err)
	}
}

func TestOpenKeyFileContent(t *testing.T) {
	kek := seq(0xa0, 32)
	b64 := base64.StdEncoding.EncodeToString(kek)
	// Same length, same decoded bytes, but non-zero padding bits: not canonical.
	nonCanonical := b64[:42] + string(rune(b64[42]+1)) + "="
	tests := []struct {
		name    string
		content string
		ok      bool
		unknown bool
	}{
		{"canonical", "trent-keyfile-v1\n" + b64 + "\n", true, false},
		{"no final newline", "trent-keyfile-v1\n" + b64, true, false},
		{"empty", "", false, false},
		{"header only", "trent-keyfile-v1\n", false, false},
		{"header without newline", "trent-keyfile-v1", false, false},
		{"raw 32 bytes", string(kek), false, false},
		{"bare base64", b64 + "\n", false, false},
		{"future version", "trent-keyfile-v2\n" + b64 + "\n", false, true},
		{"CRLF", "trent-keyfile-v1\r\n" + b64 + "\r\n", false, false},
		{"trailing space", "trent-keyfile-v1\n" + b64 + " \n", false, false},
		{"two final newlines", "trent-keyfile-v1\n" + b64 + "\n\n", false, false},
		{"extra line", "trent-keyfile-v1\n" + b64 + "\nmore\n", false, false},
		{"unpadded", "trent-keyfile-v1\n" + strings.TrimRight(b64, "=") + "\n", false, false},
		{"url alphabet", "trent-keyfile-v1\n" + base64.URLEncoding.EncodeToString(seq(0xf0, 32)) + "\n", false, false},
		{"non-canonical padding bits", "trent-keyfile-v1\n" + nonCanonical + "\n", false, false},
		{"16-byte key", "trent-keyfile-v1\n" + base64.StdEncoding.EncodeToString(kek[:16]) + "\n", false, false},
		{"too large", "trent-keyfile-v1\n" + strings.Repeat("A", 1000), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.content, 0o600)
			_, err := OpenKeyFile(path)
			if tt.ok != (err == nil) {
				t.Fatalf("OpenKeyFile = %v; want ok=%v", err, tt.ok)
			}
			if errors.Is(err, ErrUnknownFormat) != tt.unknown {
				t.Fatalf("OpenKeyFile = %v; errors.Is(ErrUnknownFormat) want %v", err, tt.unknown)
			}
			if err != nil && len(b64) > 0 && strings.Contains(err.Error(), b64[:20]) {
				t.Fatalf("error %q quotes the key", err)
			}
		})
	}
}

func TestOpenKeyFileNotAFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenKeyFile(filepath.Join(dir, "absent")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenKeyFile(absent) = %v; want fs.ErrNotExist", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenKeyFile(dir); err == nil {
		t.Error("OpenKeyFile(directory) succeeded")
	}
}

// Known answer from testdata/kat.py (pyca/cryptography), checked also
// against a Go construction with cipher.NewGCM and an explicit nonce.
const (
	katKeyFile = "trent-keyfile-v1\noKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr8=\n"
	katSealed  = "01404142434445464748494a4bf7d665c41a16cf4b982fca1db1a45831f33fededea789b474f4824c239ba842a92ba7eca942c9d97d0f9b57183957dcb"
)

func TestKeyFileKnownAnswer(t *testing.T) {
	kek, nonce, root := seq(0xa0, 32), seq(0x40, 12), seq(0x00, 32)
	if got := string(encodeKeyFile((*[32]byte)(kek))); got != katKeyFile {
		t.Fatalf("encodeKeyFile = %q, want %q", got, katKeyFile)
	}
	gcm := fixedNonceGCM(t, kek)
	goSealed := gcm.Seal(append([]byte{0x01}, nonce...), nonce, root, []byte("trent/root/v1"))
	pySealed := mustHex(t, katSealed)
	if !bytes.Equal(goSealed, pySealed) {
		t.Fatalf("independent Go construction disagrees with pyca/cryptography:\n go %x\n py %x", goSealed, pySealed)
	}
	kf, err := OpenKeyFile(writeFile(t, katKeyFile, 0o600))
	if err != nil {
		t.Fatal(err)
	}
	got, err := kf.Unseal(pySealed)
	if err != nil || !bytes.Equal(got, root) {
		t.Fatalf("Unseal(known answer) = %x, %v; want %x", got, err, root)
	}
	sealed, err := kf.Seal(root)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := gcm.Open(nil, sealed[1:13], sealed[13:], []byte("trent/root/v1")); err != nil || !bytes.Equal(got, root) {
		t.Fatalf("independent open of Seal output = %x, %v", got, err)
	}
}
