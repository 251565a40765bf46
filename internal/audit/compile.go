package audit

import (
	"bytes"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// An allow-list's members are encoded on every request's path. Their
// encoders are compiled once, when the list is made, from the member's
// type: the reflection an encoding needs (which kind, which fields, their
// names in CloudTrail's case) is decided then, not per request. The
// output is writeValue's, byte for byte (TestCompiledMatchesWriteValue);
// kinds no KMS input uses go through writeValue itself.

type encoderFunc func(dst []byte, v reflect.Value) ([]byte, error)

var mapStringString = reflect.TypeFor[map[string]string]()

// compileEncoder returns the encoder of values of type t. compiling holds
// the types being compiled, so that a recursive type falls back to
// writeValue instead of recursing forever.
func compileEncoder(t reflect.Type, compiling map[reflect.Type]bool) encoderFunc {
	if compiling[t] || t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface &&
		(t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType)) {
		return viaWriteValue
	}
	compiling[t] = true
	defer delete(compiling, t)
	switch t.Kind() {
	case reflect.String:
		return func(dst []byte, v reflect.Value) ([]byte, error) { return appendString(dst, v.String()), nil }
	case reflect.Bool:
		return func(dst []byte, v reflect.Value) ([]byte, error) { return strconv.AppendBool(dst, v.Bool()), nil }
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(dst []byte, v reflect.Value) ([]byte, error) { return strconv.AppendInt(dst, v.Int(), 10), nil }
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return func(dst []byte, v reflect.Value) ([]byte, error) { return strconv.AppendUint(dst, v.Uint(), 10), nil }
	case reflect.Pointer:
		elem := compileEncoder(t.Elem(), compiling)
		return func(dst []byte, v reflect.Value) ([]byte, error) {
			if v.IsNil() {
				return append(dst, "null"...), nil
			}
			return elem(dst, v.Elem())
		}
	case reflect.Slice, reflect.Array:
		elem := compileEncoder(t.Elem(), compiling)
		return func(dst []byte, v reflect.Value) ([]byte, error) {
			if v.Kind() == reflect.Slice && v.IsNil() {
				return append(dst, "null"...), nil
			}
			dst = append(dst, '[')
			for i := range v.Len() {
				if i > 0 {
					dst = append(dst, ',')
				}
				var err error
				if dst, err = elem(dst, v.Index(i)); err != nil {
					return nil, err
				}
			}
			return append(dst, ']'), nil
		}
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return viaWriteValue
		}
		if t == mapStringString {
			return appendStringMap
		}
		elem := compileEncoder(t.Elem(), compiling)
		return func(dst []byte, v reflect.Value) ([]byte, error) {
			if v.IsNil() {
				return append(dst, "null"...), nil
			}
			keys := v.MapKeys()
			slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
			dst = append(dst, '{')
			for i, k := range keys {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = appendString(dst, k.String())
				dst = append(dst, ':')
				var err error
				if dst, err = elem(dst, v.MapIndex(k)); err != nil {
					return nil, err
				}
			}
			return append(dst, '}'), nil
		}
	case reflect.Struct:
		var fields []allowedField
		for _, f := range reflect.VisibleFields(t) {
			name := jsonName(f)
			if !f.IsExported() || name == "" {
				continue
			}
			fields = append(fields, newAllowedField(f.Index, lowerFirst(name), compileEncoder(f.Type, compiling)))
		}
		return func(dst []byte, v reflect.Value) ([]byte, error) {
			dst = append(dst, '{')
			n := len(dst)
			for _, f := range fields {
				fv, err := v.FieldByIndexErr(f.index)
				if err != nil || absent(fv) {
					continue
				}
				if len(dst) > n {
					dst = append(dst, ',')
				}
				dst = append(dst, f.key...)
				if dst, err = f.enc(dst, fv); err != nil {
					return nil, err
				}
			}
			return append(dst, '}'), nil
		}
	}
	return viaWriteValue
}

// appendStringMap encodes a map[string]string (an encryption context) in
// key order, as encoding/json and writeValue do.
func appendStringMap(dst []byte, v reflect.Value) ([]byte, error) {
	if v.IsNil() {
		return append(dst, "null"...), nil
	}
	m := v.Interface().(map[string]string)
	// The pairs of a context of a few entries, as most are, sort on the
	// stack: no slice to allocate and no second lookup per key.
	var small [8]stringPair
	pairs := small[:0]
	if len(m) > len(small) {
		pairs = make([]stringPair, 0, len(m))
	}
	for k, v := range m {
		pairs = append(pairs, stringPair{k, v})
	}
	if len(pairs) > len(small) {
		slices.SortFunc(pairs, func(a, b stringPair) int { return strings.Compare(a.k, b.k) })
	}
	// A handful of pairs: insertion sort, compared inline.
	for i := 1; i < len(pairs) && len(pairs) <= len(small); i++ {
		for j := i; j > 0 && pairs[j].k < pairs[j-1].k; j-- {
			pairs[j], pairs[j-1] = pairs[j-1], pairs[j]
		}
	}
	dst = append(dst, '{')
	for i, p := range pairs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, p.k)
		dst = append(dst, ':')
		dst = appendString(dst, p.v)
	}
	return append(dst, '}'), nil
}

type stringPair struct{ k, v string }

// viaWriteValue encodes what compileEncoder leaves to the general path:
// types with their own JSON encoding, floats, interfaces.
func viaWriteValue(dst []byte, v reflect.Value) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	if err := writeValue(buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
