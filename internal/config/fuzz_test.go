package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
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
// file; no input panics, every entry names a line within the input, and
// the entries are the document's top-level keys exactly, each once, as
// go-toml's decoder reads them (ParseFile finds keys with a second,
// lower-level parser: a key the two read differently would hand Parse a
// nil value, or lose a setting).
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
		var values map[string]any
		if err := toml.Unmarshal(data, &values); err != nil {
			t.Fatalf("ParseFile accepted what toml.Unmarshal refuses: %v", err)
		}
		if len(entries) != len(values) {
			t.Fatalf("%d entries %v for the %d keys of %v", len(entries), entries, len(values), values)
		}
		lines := strings.Count(string(data), "\n") + 1
		seen := map[string]bool{}
		for _, e := range entries {
			if e.Line < 1 || e.Line > lines {
				t.Fatalf("entry %q at line %d of %d", e.Key, e.Line, lines)
			}
			if seen[e.Key] {
				t.Fatalf("key %q given twice", e.Key)
			}
			seen[e.Key] = true
			if v, ok := values[e.Key]; !ok || e.Value == nil || !reflect.DeepEqual(v, e.Value) {
				t.Fatalf("entry %q = %#v, but the document's value is %#v", e.Key, e.Value, v)
			}
		}
	})
}
