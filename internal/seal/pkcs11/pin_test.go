package pkcs11

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

func TestResolvePIN(t *testing.T) {
	const secret = "s3cret-PIN"
	dir := t.TempDir()
	file := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // WriteFile's mode is subject to umask
			t.Fatal(err)
		}
		return p
	}
	plain := file("plain", secret, 0o600)
	newline := file("newline", secret+"\n", 0o600)
	crlf := file("crlf", secret+"\r\n", 0o600)
	readable := file("readable", secret, 0o644)
	empty := file("empty", "", 0o600)
	onlyNewline := file("only-newline", "\n", 0o600)
	twoLines := file("two-lines", secret+"\n"+secret+"\n", 0o600)
	huge := file("huge", strings.Repeat("x", maxPINFileSize+1), 0o600)
	withSpace := file("space", " "+secret+" \n", 0o600)

	cases := []struct {
		name     string
		pinFile  string
		env      map[string]string
		want     string
		contains string // in the error, when there is one
	}{
		{"file", plain, nil, secret, ""},
		{"file with newline", newline, nil, secret, ""},
		{"file with CRLF", crlf, nil, secret, ""},
		{"spaces are part of the PIN", withSpace, nil, " " + secret + " ", ""},
		{"environment", "", map[string]string{PINEnv: secret}, secret, ""},
		{"both", plain, map[string]string{PINEnv: secret}, "", "give one"},
		{"neither", "", nil, "", "no PIN given"},
		{"empty environment", "", map[string]string{PINEnv: ""}, "", "set but empty"},
		{"missing file", filepath.Join(dir, "nope"), nil, "", "no such file"},
		{"directory", dir, nil, "", "not a regular file"},
		{"empty file", empty, nil, "", "is empty"},
		{"only a newline", onlyNewline, nil, "", "is empty"},
		{"two lines", twoLines, nil, "", "more than one line"},
		{"huge file", huge, nil, "", "larger than"},
	}
	if runtime.GOOS != "windows" {
		cases = append(cases, struct {
			name     string
			pinFile  string
			env      map[string]string
			want     string
			contains string
		}{"readable by others", readable, nil, "", "chmod 600"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ResolvePIN(c.pinFile, env(c.env))
			if c.contains == "" {
				if err != nil || got != c.want {
					t.Fatalf("ResolvePIN = %q, %v; want %q", got, err, c.want)
				}
				return
			}
			if err == nil || got != "" {
				t.Fatalf("ResolvePIN = %q, %v; want an error", got, err)
			}
			if !strings.Contains(err.Error(), c.contains) || !strings.HasPrefix(err.Error(), "pkcs11: ") {
				t.Fatalf("error %q; want it to contain %q", err, c.contains)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "xxxx") {
				t.Fatalf("error %q quotes the PIN", err)
			}
		})
	}
}
