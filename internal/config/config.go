// Package config layers a configuration file and environment variables
// under a command's flag set, so that every flag is also a file key and an
// environment variable without being declared three times. The flag set
// stays the one description of the options: their names, defaults, help
// and parsers (a value from any source goes through the flag's own Set, so
// it is checked the same way wherever it came from).
//
// Precedence, highest first: the command line, the environment
// (PREFIX + the flag's name in upper snake case: --key-cache-idle is
// TRENT_KEY_CACHE_IDLE), the file, the flag's default.
//
// The file is TOML, flat: one `name = value` per flag, the name exactly
// the flag's. TOML rather than YAML because its values are typed without
// guessing (YAML 1.1 reads `no` as false and `1:30` as a number) and
// indentation carries no meaning, so a file edited by hand either means
// what it says or is refused with its line. Unknown keys are refused with
// their line: a misspelt key silently ignored is how a server ends up
// listening in plain text.
//
// This package never prints a value it was told is secret.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	toml "github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// Source is where a flag's effective value came from.
type Source int

const (
	Default Source = iota
	File
	Env
	CommandLine
)

func (s Source) String() string {
	switch s {
	case File:
		return "config file"
	case Env:
		return "environment"
	case CommandLine:
		return "command line"
	}
	return "default"
}

// Origin says where a flag's value came from: the source, and the
// variable or file line.
type Origin struct {
	Source Source
	// Where is the environment variable's name, or "FILE line N".
	Where string
}

func (o Origin) String() string {
	if o.Where == "" {
		return o.Source.String()
	}
	return o.Source.String() + " " + o.Where
}

// Options says how to layer the sources over a flag set.
type Options struct {
	// EnvPrefix starts every flag's environment variable ("TRENT_").
	EnvPrefix string
	// Getenv reads the environment (nil: os.Getenv). An empty value is
	// taken as unset, as a shell's `VAR= cmd` means.
	Getenv func(string) string
	// ConfigFlag names the flag holding the file's path ("config"). Its
	// environment variable names the file too; the file cannot name
	// itself.
	ConfigFlag string
	// NotInFile are flags that have no key in the file: they act on this
	// run only (e.g. print-config).
	NotInFile []string
	// Secret are flags whose values Print redacts.
	Secret []string
}

// Result is a flag set with its sources applied.
type Result struct {
	fs      *flag.FlagSet
	opts    Options
	origins map[string]Origin
	// File is the configuration file read, or "".
	File string
}

// EnvName is the environment variable of flag name under prefix:
// prefix + name in upper snake case.
func EnvName(prefix, name string) string {
	return prefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Parse parses args into fs, then gives every flag the command line did
// not set its value from the environment or else from the file named by
// the config flag (on the command line or in the environment).
func Parse(fs *flag.FlagSet, args []string, o Options) (*Result, error) {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	r := &Result{fs: fs, opts: o, origins: map[string]Origin{}}
	fs.Visit(func(f *flag.Flag) { r.origins[f.Name] = Origin{Source: CommandLine} })

	// The environment, for every flag the command line left alone.
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil {
			return
		}
		if _, set := r.origins[f.Name]; set {
			return
		}
		env := EnvName(o.EnvPrefix, f.Name)
		v := o.Getenv(env)
		if v == "" {
			return
		}
		if serr := fs.Set(f.Name, v); serr != nil {
			err = fmt.Errorf("$%s: invalid value %q for --%s: %v", env, v, f.Name, serr)
			return
		}
		r.origins[f.Name] = Origin{Source: Env, Where: env}
	})
	if err != nil {
		return nil, err
	}

	if o.ConfigFlag == "" {
		return r, nil
	}
	cf := fs.Lookup(o.ConfigFlag)
	if cf == nil || cf.Value.String() == "" {
		return r, nil
	}
	r.File = cf.Value.String()
	data, err := os.ReadFile(r.File)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	entries, err := ParseFile(r.File, data)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if err := r.apply(e); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Entry is one `key = value` of a config file.
type Entry struct {
	Key  string
	Line int
	// Value is the TOML value: string, int64, float64, bool, or a
	// container or date (always refused).
	Value any
}

// ParseFile reads a flat TOML document. It checks the syntax only; which
// keys exist is the flag set's business (Parse).
func ParseFile(name string, data []byte) ([]Entry, error) {
	var values map[string]any
	if err := toml.Unmarshal(data, &values); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, _ := de.Position()
			return nil, fmt.Errorf("%s line %d: %s", name, row, strings.TrimPrefix(de.Error(), "toml: "))
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	// The document is valid TOML: walk it again for each key's line,
	// which the decoded map does not keep.
	var p unstable.Parser
	p.Reset(data)
	var entries []Entry
	for p.NextExpression() {
		n := p.Expression()
		switch n.Kind {
		case unstable.Table, unstable.ArrayTable:
			k := n.Key()
			k.Next()
			line := p.Shape(k.Node().Raw).Start.Line
			return nil, fmt.Errorf("%s line %d: unknown table [%s]: the file is flat, one `name = value` per flag", name, line, dotted(n.Key()))
		case unstable.KeyValue:
			k := n.Key()
			k.Next()
			line := p.Shape(k.Node().Raw).Start.Line
			key := dotted(n.Key())
			if strings.Contains(key, ".") {
				return nil, fmt.Errorf("%s line %d: unknown key %q: the file is flat, one `name = value` per flag", name, line, key)
			}
			entries = append(entries, Entry{Key: key, Line: line, Value: values[key]})
		}
	}
	if err := p.Error(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return entries, nil
}

func dotted(it unstable.Iterator) string {
	var parts []string
	for it.Next() {
		parts = append(parts, string(it.Node().Data))
	}
	return strings.Join(parts, ".")
}

// apply sets one file entry's flag unless a higher source has set it.
func (r *Result) apply(e Entry) error {
	where := fmt.Sprintf("%s line %d", r.File, e.Line)
	f := r.fs.Lookup(e.Key)
	if f == nil || e.Key == r.opts.ConfigFlag || contains(r.opts.NotInFile, e.Key) {
		return fmt.Errorf("%s: unknown key %q%s", where, e.Key, r.suggest(e.Key))
	}
	v, err := fileValue(f, e.Value)
	if err != nil {
		return fmt.Errorf("%s: %s: %v", where, e.Key, err)
	}
	if _, set := r.origins[e.Key]; set {
		return nil // the command line or environment wins
	}
	if err := r.fs.Set(e.Key, v); err != nil {
		return fmt.Errorf("%s: %s: invalid value %q: %v", where, e.Key, v, err)
	}
	r.origins[e.Key] = Origin{Source: File, Where: where}
	return nil
}

// fileValue is the flag value a TOML value stands for: booleans for
// boolean flags, strings and integers for the others.
func fileValue(f *flag.Flag, v any) (string, error) {
	isBool := false
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		isBool = true
	}
	switch v := v.(type) {
	case bool:
		if !isBool {
			return "", fmt.Errorf("want a %s, not the boolean %t", kindOf(f), v)
		}
		return strconv.FormatBool(v), nil
	case string:
		if isBool {
			return "", fmt.Errorf("want true or false (unquoted), not the string %q", v)
		}
		return v, nil
	case int64:
		if isBool {
			return "", fmt.Errorf("want true or false, not the number %d", v)
		}
		return strconv.FormatInt(v, 10), nil
	}
	return "", fmt.Errorf("want a %s, not %T", kindOf(f), v)
}

func kindOf(f *flag.Flag) string {
	if g, ok := f.Value.(flag.Getter); ok {
		switch g.Get().(type) {
		case bool:
			return "boolean"
		case int, int64, uint, uint64:
			return "number"
		case time.Duration:
			return "duration string like \"1m30s\""
		}
	}
	return "string"
}

// suggest names a key close to an unknown one, for the common typo.
func (r *Result) suggest(key string) string {
	// The closest name within two edits, or else the longest name that
	// one of the two begins with (tls-certificate → tls-cert).
	best, bestD, prefix := "", 3, ""
	r.fs.VisitAll(func(f *flag.Flag) {
		if f.Name == r.opts.ConfigFlag || contains(r.opts.NotInFile, f.Name) {
			return
		}
		if d := distance(key, f.Name); d < bestD {
			best, bestD = f.Name, d
		}
		if len(f.Name) > len(prefix) && min(len(key), len(f.Name)) >= 4 &&
			(strings.HasPrefix(key, f.Name) || strings.HasPrefix(f.Name, key)) {
			prefix = f.Name
		}
	})
	if best == "" {
		best = prefix
	}
	if best == "" {
		return " (keys are serve's flag names without the dashes, e.g. listen)"
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Origin is where flag name's value came from.
func (r *Result) Origin(name string) Origin { return r.origins[name] }

// Explain adds to an error about a flag ("--listen …") where the flag's
// value came from, when that was not the command line: the operator
// then knows which file line or variable to fix.
func (r *Result) Explain(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	var found string
	r.fs.VisitAll(func(f *flag.Flag) {
		if strings.Contains(msg, "--"+f.Name) && len(f.Name) > len(found) {
			if o, ok := r.origins[f.Name]; ok && o.Source != CommandLine {
				found = f.Name
			}
		}
	})
	if found == "" {
		return err
	}
	return fmt.Errorf("%w (--%s is set by the %s)", err, found, r.origins[found])
}

// Redacted stands for a secret value in Print's output.
const Redacted = "<redacted>"

// Print writes the effective configuration as a config file: every key
// that a file may hold, its value (secrets redacted) and, as a comment,
// where the value came from. extra are lines appended as comments (what
// the environment sets outside the flags).
func (r *Result) Print(w io.Writer, extra ...string) error {
	var b strings.Builder
	b.WriteString("# trent serve: effective configuration\n")
	b.WriteString("# (command line > environment > config file > default)\n")
	var names []string
	r.fs.VisitAll(func(f *flag.Flag) {
		if f.Name == r.opts.ConfigFlag || contains(r.opts.NotInFile, f.Name) {
			return
		}
		names = append(names, f.Name)
	})
	sort.Strings(names)
	width := 0
	lines := make([]string, len(names))
	for i, name := range names {
		lines[i] = name + " = " + r.value(r.fs.Lookup(name))
		width = max(width, len(lines[i]))
	}
	for i, name := range names {
		fmt.Fprintf(&b, "%-*s  # %s\n", width, lines[i], r.origins[name])
	}
	for _, e := range extra {
		fmt.Fprintf(&b, "# %s\n", e)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// value is f's value as TOML.
func (r *Result) value(f *flag.Flag) string {
	s := f.Value.String()
	if contains(r.opts.Secret, f.Name) && s != "" {
		return quote(Redacted)
	}
	if g, ok := f.Value.(flag.Getter); ok {
		switch g.Get().(type) {
		case bool, int, int64, uint, uint64:
			return s
		}
	}
	return quote(s)
}

// quote writes s as a TOML basic string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, "\\u%04X", c)
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
