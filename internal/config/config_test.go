package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testFlags is a flag set with one flag of each kind serve has.
type testFlags struct {
	fs      *flag.FlagSet
	listen  *string
	dev     *bool
	n       *int
	idle    *time.Duration
	secret  *string
	config  *string
	printIt *bool
}

func newFlags() *testFlags {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	return &testFlags{
		fs:      fs,
		listen:  fs.String("listen", "127.0.0.1:8080", ""),
		dev:     fs.Bool("dev", false, ""),
		n:       fs.Int("key-cache-max-keys", 10, ""),
		idle:    fs.Duration("key-cache-idle", time.Minute, ""),
		secret:  fs.String("api-token", "", ""),
		config:  fs.String("config", "", ""),
		printIt: fs.Bool("print-config", false, ""),
	}
}

func opts(env map[string]string) Options {
	return Options{
		EnvPrefix: "TRENT_", ConfigFlag: "config", NotInFile: []string{"print-config"}, Secret: []string{"api-token"},
		Getenv: func(k string) string { return env[k] },
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "trent.toml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPrecedence: flag > env > file > default, for every pair of
// sources, and the origin each value reports.
func TestPrecedence(t *testing.T) {
	file := writeFile(t, "listen = \"10.0.0.1:1\"\nkey-cache-max-keys = 7\n")
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		noFile     bool
		wantListen string
		wantSource Source
	}{
		{"default", nil, nil, true, "127.0.0.1:8080", Default},
		{"file over default", nil, nil, false, "10.0.0.1:1", File},
		{"env over file", nil, map[string]string{"TRENT_LISTEN": "10.0.0.2:2"}, false, "10.0.0.2:2", Env},
		{"env over default", nil, map[string]string{"TRENT_LISTEN": "10.0.0.2:2"}, true, "10.0.0.2:2", Env},
		{"flag over env and file", []string{"--listen", "10.0.0.3:3"}, map[string]string{"TRENT_LISTEN": "10.0.0.2:2"}, false, "10.0.0.3:3", CommandLine},
		{"flag over file", []string{"--listen", "10.0.0.3:3"}, nil, false, "10.0.0.3:3", CommandLine},
		{"empty env is unset", nil, map[string]string{"TRENT_LISTEN": ""}, false, "10.0.0.1:1", File},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFlags()
			args := tt.args
			if !tt.noFile {
				args = append([]string{"--config", file}, args...)
			}
			r, err := Parse(f.fs, args, opts(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if *f.listen != tt.wantListen {
				t.Errorf("listen = %q, want %q", *f.listen, tt.wantListen)
			}
			if got := r.Origin("listen").Source; got != tt.wantSource {
				t.Errorf("origin = %v, want %v", got, tt.wantSource)
			}
		})
	}
}

// TestConfigFileNamedByEnv: TRENT_CONFIG names the file as --config does.
func TestConfigFileNamedByEnv(t *testing.T) {
	file := writeFile(t, "dev = true\nkey-cache-idle = \"5s\"\n")
	f := newFlags()
	if _, err := Parse(f.fs, nil, opts(map[string]string{"TRENT_CONFIG": file})); err != nil {
		t.Fatal(err)
	}
	if !*f.dev || *f.idle != 5*time.Second {
		t.Errorf("dev = %t, idle = %v; want true, 5s", *f.dev, *f.idle)
	}
}

// TestFileErrors: each bad file is refused with the file, the line and
// the key it is about.
func TestFileErrors(t *testing.T) {
	tests := []struct {
		name, content string
		want          []string
	}{
		{"unknown key", "listen = \"127.0.0.1:1\"\n\nlisen = \"x\"\n", []string{"line 3", `unknown key "lisen"`, `did you mean "listen"`}},
		{"config names itself", "config = \"other.toml\"\n", []string{"line 1", `unknown key "config"`}},
		{"run-only flag", "print-config = true\n", []string{"line 1", `unknown key "print-config"`}},
		{"table", "listen = \"a:1\"\n[tls]\ncert = \"x\"\n", []string{"line 2", "unknown table [tls]"}},
		{"dotted key", "tls.cert = \"x\"\n", []string{"line 1", `unknown key "tls.cert"`}},
		{"bad duration", "key-cache-idle = \"soon\"\n", []string{"line 1", "key-cache-idle", `invalid value "soon"`}},
		{"bad number", "\nkey-cache-max-keys = \"many\"\n", []string{"line 2", "key-cache-max-keys", `invalid value "many"`}},
		{"string for a boolean", "dev = \"yes\"\n", []string{"line 1", "dev", "want true or false"}},
		{"boolean for a string", "listen = true\n", []string{"line 1", "listen", "not the boolean true"}},
		{"array", "listen = [\"a:1\"]\n", []string{"line 1", "listen", "want a string"}},
		{"syntax", "listen = \"a:1\"\nlisten \"b\"\n", []string{"line 2"}},
		{"duplicate", "listen = \"a:1\"\nlisten = \"b:2\"\n", []string{"line 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeFile(t, tt.content)
			_, err := Parse(newFlags().fs, []string{"--config", file}, opts(nil))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range append(tt.want, file) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestEnvErrors: a bad environment value names its variable.
func TestEnvErrors(t *testing.T) {
	_, err := Parse(newFlags().fs, nil, opts(map[string]string{"TRENT_KEY_CACHE_IDLE": "soon"}))
	if err == nil || !strings.Contains(err.Error(), "$TRENT_KEY_CACHE_IDLE") {
		t.Fatalf("err = %v, want it to name $TRENT_KEY_CACHE_IDLE", err)
	}
}

// TestUnknownKeyRefusedEvenWhenOverridden: a key the command line
// overrides is still checked, so a typo is never hidden.
func TestFileCheckedWhenOverridden(t *testing.T) {
	file := writeFile(t, "key-cache-idle = 3\n")
	_, err := Parse(newFlags().fs, []string{"--config", file, "--key-cache-idle", "1s"}, opts(nil))
	if err != nil {
		// An integer is a valid TOML value for a string-parsed flag; its
		// meaning is the flag's business, and the command line won.
		t.Fatalf("overridden key: %v", err)
	}
	file = writeFile(t, "dev = \"x\"\n")
	if _, err := Parse(newFlags().fs, []string{"--config", file, "--dev"}, opts(nil)); err == nil {
		t.Fatal("a mistyped key overridden by a flag was accepted")
	}
}

func TestEnvName(t *testing.T) {
	if got := EnvName("TRENT_", "key-cache-max-bytes"); got != "TRENT_KEY_CACHE_MAX_BYTES" {
		t.Errorf("EnvName = %q", got)
	}
}

// TestPrint: every key but the run-only ones, its origin, and secrets
// redacted; the output is itself a valid config file.
func TestPrint(t *testing.T) {
	file := writeFile(t, "key-cache-max-keys = 7\napi-token = \"hunter2\"\n")
	f := newFlags()
	r, err := Parse(f.fs, []string{"--config", file, "--dev"}, opts(map[string]string{"TRENT_LISTEN": "10.0.0.2:2"}))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := r.Print(&b, "extra line"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, w := range []string{
		`dev = true`, "# command line",
		`listen = "10.0.0.2:2"`, "# environment TRENT_LISTEN",
		`key-cache-max-keys = 7`, "line 1",
		`key-cache-idle = "1m0s"`, "# default",
		`api-token = "<redacted>"`, "# extra line",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "hunter2") {
		t.Errorf("secret printed:\n%s", out)
	}
	if strings.Contains(out, "print-config =") || strings.Contains(out, "\nconfig =") {
		t.Errorf("run-only keys printed:\n%s", out)
	}
	// Fed back (secret aside), it parses and gives the same values.
	again := strings.ReplaceAll(out, `"<redacted>"`, `""`)
	g := newFlags()
	if _, err := Parse(g.fs, []string{"--config", writeFile(t, again)}, opts(nil)); err != nil {
		t.Fatalf("printed config does not parse: %v\n%s", err, again)
	}
	if *g.listen != *f.listen || *g.n != *f.n || *g.dev != *f.dev || *g.idle != *f.idle {
		t.Errorf("round trip changed values")
	}
}

// TestExplain: a later check's error names the source of the flag.
func TestExplain(t *testing.T) {
	file := writeFile(t, "\nkey-cache-max-keys = 0\n")
	r, err := Parse(newFlags().fs, []string{"--config", file}, opts(nil))
	if err != nil {
		t.Fatal(err)
	}
	got := r.Explain(errors.New("--key-cache-max-keys must be at least 1, not 0")).Error()
	if !strings.Contains(got, "config file "+file+" line 2") {
		t.Errorf("Explain = %q", got)
	}
	if got := r.Explain(errors.New("--listen bad")).Error(); got != "--listen bad" {
		t.Errorf("Explain of a default = %q", got)
	}
}

func TestQuote(t *testing.T) {
	if got := quote("a\"b\\c\n"); got != `"a\"b\\c\u000A"` {
		t.Errorf("quote = %s", got)
	}
}
