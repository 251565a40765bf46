package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"unicode"
	"unicode/utf8"
)

// AllowList picks the members of an operation's input (or output) that its
// event may show, and nothing else: requestParameters and responseElements
// are built from it, never from the whole request. Members keep their
// values and take CloudTrail's names — AWS's member names with a lowercase
// first letter (KeyId → keyId), at every level of nested structures; map
// keys, such as an encryption context's, are kept as given.
//
// The rule it enforces, for every operation: never plaintext, key
// material, secrets, session tokens, passwords or signatures. NewAllowList
// refuses a member that is a blob ([]byte, anywhere inside it) or whose
// name, at any depth, is one of those secrets', so a wrong row fails when
// the operation table is built, not in an audit file.
type AllowList struct {
	t      reflect.Type
	fields []allowedField
	// size is about the length of the JSON the list returns, rounded up
	// to sizeStep: the capacity JSON starts with, so that an operation's
	// parameters, much the same from one request to the next, take one
	// allocation rather than one and its regrowths. (Not the longest:
	// one large policy must not make every later request allocate as
	// much.)
	size atomic.Int32
}

const sizeStep = 64

type allowedField struct {
	index []int // reflect.Value.FieldByIndex path, through embedded structs
	name  string
	key   string      // name as a JSON string and a colon, written once
	enc   encoderFunc // compiled for the member's type when the list is made
	// omitFalse leaves out a false bool tagged omitempty: a flag such as
	// DryRun decodes to false whether or not it was sent, and AWS's events
	// do not show it when it was not.
	omitFalse bool
	// def is the JSON written for an absent member (nil: leave it out),
	// for the parameters AWS's events show with their default value.
	def []byte
}

func newAllowedField(index []int, name string, enc encoderFunc) allowedField {
	return allowedField{index: index, name: name, key: string(appendString(nil, name)) + ":", enc: enc}
}

// secretMembers are member names (lowercase) that are never audited, even
// when they are strings.
var secretMembers = []string{
	"plaintext", "secretaccesskey", "sessiontoken", "password", "newpassword",
	"oldpassword", "privatekey", "privatekeyplaintext", "tokencode",
	"signature", "mac", "keymaterial", "encryptedkeymaterial", "importtoken",
}

var marshalerType = reflect.TypeFor[json.Marshaler]()

// NewAllowList returns the allow-list of the named members (AWS names, as
// in the json tags: "KeyId", "EncryptionContext") of struct type t (or
// pointer to struct).
func NewAllowList(t reflect.Type, members ...string) (*AllowList, error) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("audit: allow-list of %v: not a struct type", t)
	}
	a := &AllowList{t: t}
	for _, m := range members {
		f, ok := findMember(t, m)
		if !ok {
			return nil, fmt.Errorf("audit: allow-list of %v: no member %q", t, m)
		}
		if err := checkAuditable(f.Type, m, map[reflect.Type]bool{}); err != nil {
			return nil, fmt.Errorf("audit: allow-list of %v: %w", t, err)
		}
		af := newAllowedField(f.Index, lowerFirst(m), compileEncoder(f.Type, map[reflect.Type]bool{}))
		_, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		af.omitFalse = f.Type.Kind() == reflect.Bool && slices.Contains(strings.Split(opts, ","), "omitempty")
		a.fields = append(a.fields, af)
	}
	return a, nil
}

// WithDefault makes the list show member (an AWS name) with value when a
// request leaves it out, as AWS's events show some parameters with their
// default (Decrypt's encryptionAlgorithm). It returns a; a member the list
// does not hold, or a value that is not JSON, is a programming error and
// panics.
func (a *AllowList) WithDefault(member string, value any) *AllowList {
	b, err := json.Marshal(value)
	if err != nil {
		panic(fmt.Sprintf("audit: default of %v.%s: %v", a.t, member, err))
	}
	for i := range a.fields {
		if a.fields[i].name == lowerFirst(member) {
			a.fields[i].def = b
			return a
		}
	}
	panic(fmt.Sprintf("audit: default of %v.%s: not a member of the list", a.t, member))
}

// MustAllowList is NewAllowList for tables built at init, where a wrong
// member is a programming error.
func MustAllowList(t reflect.Type, members ...string) *AllowList {
	a, err := NewAllowList(t, members...)
	if err != nil {
		panic(err)
	}
	return a
}

// JSON returns the allowed members of v (of the list's type, or a pointer
// to it) as a JSON object; absent members (nil pointers, slices, maps) are
// left out, as AWS leaves out parameters a request did not send. A nil v,
// or one with no member to show, gives JSON null, as AWS writes a request
// without parameters (ListKeys unpaged, GetCallerIdentity, a RetireGrant
// by token alone).
func (a *AllowList) JSON(v any) (json.RawMessage, error) {
	rv := reflect.ValueOf(v)
	for rv.IsValid() && rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return json.RawMessage("null"), nil
		}
		rv = rv.Elem()
	}
	if !rv.IsValid() {
		return json.RawMessage("null"), nil
	}
	if rv.Type() != a.t {
		return nil, fmt.Errorf("audit: allow-list of %v applied to %v", a.t, rv.Type())
	}
	hint := a.size.Load()
	buf := make([]byte, 0, max(sizeStep, int(hint)))
	buf = append(buf, '{')
	for _, f := range a.fields {
		var fv reflect.Value
		if len(f.index) == 1 {
			fv = rv.Field(f.index[0])
		} else if v, err := rv.FieldByIndexErr(f.index); err == nil {
			fv = v
		} else {
			continue // a nil embedded pointer
		}
		if absent(fv) || f.omitFalse && !fv.Bool() {
			if f.def != nil {
				if len(buf) > 1 {
					buf = append(buf, ',')
				}
				buf = append(append(buf, f.key...), f.def...)
			}
			continue // a member not sent
		}
		if len(buf) > 1 {
			buf = append(buf, ',')
		}
		buf = append(buf, f.key...)
		var err error
		if buf, err = f.enc(buf, fv); err != nil {
			return nil, fmt.Errorf("audit: %v.%s: %w", a.t, f.name, err)
		}
	}
	if len(buf) == 1 {
		return json.RawMessage("null"), nil
	}
	buf = append(buf, '}')
	// Grown at once, shrunk only below half: lengths that straddle a step
	// do not store on every request, from every core.
	if n := int32(min((len(buf)+sizeStep-1)/sizeStep*sizeStep, MaxEventBytes)); n > hint || 2*n < hint {
		a.size.Store(n)
	}
	return buf, nil
}

func absent(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Slice, reflect.Map:
		return v.IsNil()
	}
	return false
}

// findMember finds the field whose JSON name is name, through embedded
// structs, as encoding/json would.
func findMember(t reflect.Type, name string) (reflect.StructField, bool) {
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous && jsonName(f) == "" {
			continue
		}
		if jsonName(f) == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// jsonName is the member name encoding/json gives a field ("" for "-").
func jsonName(f reflect.StructField) string {
	tag := f.Tag.Get("json")
	if tag == "-" {
		return ""
	}
	if name, _, _ := strings.Cut(tag, ","); name != "" {
		return name
	}
	if f.Anonymous {
		return "" // embedded: its fields are promoted
	}
	return f.Name
}

// checkAuditable refuses types that could carry a blob or a secret.
func checkAuditable(t reflect.Type, name string, seen map[reflect.Type]bool) error {
	if slices.Contains(secretMembers, strings.ToLower(name)) {
		return fmt.Errorf("member %q is a secret and is never audited", name)
	}
	if seen[t] {
		return nil
	}
	seen[t] = true
	if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
		return fmt.Errorf("member %q is a blob and is never audited", name)
	}
	if t.Kind() == reflect.Pointer {
		// Judge what it points to: a *Timestamp is as auditable as a
		// Timestamp.
		return checkAuditable(t.Elem(), name, seen)
	}
	if t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType) {
		if t.Kind() == reflect.Struct || t.Kind() == reflect.String {
			return nil // a scalar with its own encoding, such as a timestamp
		}
		return fmt.Errorf("member %q has a custom JSON encoding the allow-list cannot inspect", name)
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return checkAuditable(t.Elem(), name, seen)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return fmt.Errorf("member %q: map keys must be strings", name)
		}
		return checkAuditable(t.Elem(), name, seen)
	case reflect.Struct:
		for _, f := range reflect.VisibleFields(t) {
			if !f.IsExported() || jsonName(f) == "" {
				continue
			}
			if err := checkAuditable(f.Type, jsonName(f), seen); err != nil {
				return fmt.Errorf("in %q: %w", name, err)
			}
		}
		return nil
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return nil
	}
	return fmt.Errorf("member %q: cannot audit a %v", name, t)
}

// writeValue encodes v as JSON with struct member names in CloudTrail's
// case. Types were checked by checkAuditable.
func writeValue(buf *bytes.Buffer, v reflect.Value) error {
	if v.Kind() != reflect.Pointer && v.Kind() != reflect.Interface &&
		(v.Type().Implements(marshalerType) || v.CanAddr() && v.Addr().Type().Implements(marshalerType)) {
		b, err := marshalPlain(v.Interface())
		if err != nil {
			return err
		}
		buf.Write(b)
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			buf.WriteString("null")
			return nil
		}
		return writeValue(buf, v.Elem())
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			buf.WriteString("null")
			return nil
		}
		buf.WriteByte('[')
		for i := range v.Len() {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeValue(buf, v.Index(i)); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case reflect.Map:
		if v.IsNil() {
			buf.WriteString("null")
			return nil
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeString(buf, k.String())
			buf.WriteByte(':')
			if err := writeValue(buf, v.MapIndex(k)); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case reflect.Struct:
		buf.WriteByte('{')
		n := 0
		for _, f := range reflect.VisibleFields(v.Type()) {
			name := jsonName(f)
			if !f.IsExported() || name == "" {
				continue
			}
			fv, err := v.FieldByIndexErr(f.Index)
			if err != nil || absent(fv) {
				continue
			}
			if n > 0 {
				buf.WriteByte(',')
			}
			n++
			writeString(buf, lowerFirst(name))
			buf.WriteByte(':')
			if err := writeValue(buf, fv); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	default:
		b, err := marshalPlain(v.Interface())
		if err != nil {
			return err
		}
		buf.Write(b)
	}
	return nil
}

func writeString(buf *bytes.Buffer, s string) {
	buf.Write(appendString(buf.AvailableBuffer(), s))
}

// marshalPlain is json.Marshal without HTML escaping: the files read as
// the values were sent ("<b>", not "\u003cb\u003e").
func marshalPlain(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToLower(r)) + s[n:]
}

// AuditableMembers returns the members of struct type t (or pointer to
// struct) that an allow-list may show: every member but the blobs, the
// secrets and those named in deny (AWS names, e.g. "GrantTokens"). Rows
// of an operation table use it so that a member added to an input later is
// audited if it is safe and left out if it is not, without a list to keep
// up to date by hand.
func AuditableMembers(t reflect.Type, deny ...string) []string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for _, f := range reflect.VisibleFields(t) {
		name := jsonName(f)
		if !f.IsExported() || name == "" || slices.Contains(deny, name) {
			continue
		}
		if checkAuditable(f.Type, name, map[reflect.Type]bool{}) == nil {
			out = append(out, name)
		}
	}
	return out
}
