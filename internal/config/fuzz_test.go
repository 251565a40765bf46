package config

import (
	"strings"
	"testing"
)

var fuzzSeeds = []string{
	"",
	"listen = \"127.0.0.1:8080\"\n",
	"dev = true\nkey-cache-max-keys = 10\n",
	"# comment\nkey-cache-idle = \"5m\" # trailing\n",
	"[tls]\ncert = \"x\"\n",
	"a.b = 1\n",
	"'quoted key' = 'literal'\n",
	"x = [1, 2]\ny = {a = 1}\n",
	"d = 1979-05-27T07:32:00Z\n",
	"bad",
	"listen = \"\"\"\nmulti\n\"\"\"\n",
}

// FuzzParseFile: any input parses or is refused with an error naming the
// file; no input panics, and every entry names a line within the input.
func FuzzParseFile(f *testing.F) {
	if len(fuzzSeeds) == 0 {
		f.Fatal("empty seed corpus")
	}
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := ParseFile("f.toml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.toml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		lines := strings.Count(string(data), "\n") + 1
		for _, e := range entries {
			if e.Line < 1 || e.Line > lines {
				t.Fatalf("entry %q at line %d of %d", e.Key, e.Line, lines)
			}
		}
	})
}
