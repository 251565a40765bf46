package pkcs11

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
)

// PINEnv is the environment variable that may hold the token's user PIN.
const PINEnv = "TRENT_PKCS11_PIN"

const maxPINFileSize = 256 // far more than any token's ulMaxPinLen; bounds the read

// ResolvePIN returns the token's user PIN from exactly one source: the file
// pinFile (the --pkcs11-pin-file flag; "" if not given) or the environment
// variable PINEnv, looked up with lookupEnv (os.LookupEnv in the binary).
//
// Both given is an error, not a precedence rule: an operator who set both
// has two PINs in play and would otherwise be surprised by whichever lost.
// Neither given is an error too. A set but empty PINEnv counts as given, and
// is refused as empty.
//
// The file must be a regular file that group and others cannot access (the
// key file's rule); its content is the PIN, with one trailing "\n" or "\r\n"
// removed; a second line is an error. No error quotes the PIN or the file's
// content. The caller should unset PINEnv once it has the PIN, so that
// processes it starts do not inherit it; Go strings cannot be erased, so
// the PIN itself stays in (locked, never dumped) memory.
func ResolvePIN(pinFile string, lookupEnv func(string) (string, bool)) (string, error) {
	envPIN, envSet := lookupEnv(PINEnv)
	switch {
	case pinFile != "" && envSet:
		return "", fmt.Errorf("pkcs11: the PIN is given both by the PIN file %s and by %s; give one", pinFile, PINEnv)
	case pinFile == "" && !envSet:
		return "", fmt.Errorf("pkcs11: no PIN given: pass a PIN file (--pkcs11-pin-file) or set %s", PINEnv)
	case envSet:
		if envPIN == "" {
			return "", fmt.Errorf("pkcs11: %s is set but empty", PINEnv)
		}
		return envPIN, nil
	}
	return readPINFile(pinFile)
}

func readPINFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("pkcs11: opening PIN file: %w", err)
	}
	defer f.Close()
	// Check the file we opened, not the path, so it cannot be swapped
	// between the check and the read.
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("pkcs11: PIN file %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("pkcs11: PIN file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return "", fmt.Errorf("pkcs11: PIN file %s is accessible by group or others (mode %04o); run: chmod 600 %s", path, perm, path)
	}
	buf := make([]byte, maxPINFileSize+1)
	defer clear(buf)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("pkcs11: reading PIN file %s: %w", path, err)
	}
	if n > maxPINFileSize {
		return "", fmt.Errorf("pkcs11: PIN file %s is larger than %d bytes; it cannot be a PIN", path, maxPINFileSize)
	}
	pin := buf[:n]
	if b, ok := bytes.CutSuffix(pin, []byte("\r\n")); ok {
		pin = b
	} else {
		pin = bytes.TrimSuffix(pin, []byte("\n"))
	}
	if len(pin) == 0 {
		return "", fmt.Errorf("pkcs11: PIN file %s is empty", path)
	}
	if bytes.ContainsAny(pin, "\r\n") {
		return "", fmt.Errorf("pkcs11: PIN file %s has more than one line; it must hold only the PIN", path)
	}
	return string(pin), nil
}
