package awsquery

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"
)

// PolicyDocument is a policy document in an IAM response. IAM sends policy
// documents percent-encoded (RFC 3986) wherever its model types a member as
// policyDocumentType: Role.AssumeRolePolicyDocument, PolicyVersion.Document
// and the PolicyDocument of Get{User,Group,Role}Policy. The AWS CLI and
// boto3 decode them back to JSON; aws-sdk-go-v2 hands them to the caller
// encoded. Inputs carry policies as plain strings.
type PolicyDocument string

var (
	timeType   = reflect.TypeFor[time.Time]()
	policyType = reflect.TypeFor[PolicyDocument]()
)

// field is one member of an input or output structure, read from a tag of
// the form `query:"MemberName[,required][,omitempty]"`.
type field struct {
	name      string // AWS's member name, e.g. "UserName"
	path      string // the name as AWS's validation messages spell it: "userName"
	index     int
	required  bool // input: an absent member is a ValidationError
	omitEmpty bool // output: a zero value is left out
}

var fieldCache sync.Map // reflect.Type → []field

// fieldsOf returns the members of struct type t. Shapes are checked once,
// when the operation tables are built (see checkShape), so this never
// fails at run time.
func fieldsOf(t reflect.Type) []field {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.([]field)
	}
	fs, err := parseFields(t)
	if err != nil {
		panic(err)
	}
	fieldCache.Store(t, fs)
	return fs
}

func parseFields(t reflect.Type) ([]field, error) {
	fs := make([]field, 0, t.NumField())
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, ok := sf.Tag.Lookup("query")
		if !ok || !sf.IsExported() {
			return nil, fmt.Errorf("awsquery: %s.%s has no query tag", t, sf.Name)
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			return nil, fmt.Errorf("awsquery: %s.%s has an empty member name", t, sf.Name)
		}
		f := field{name: name, path: lowerFirst(name), index: i}
		for opts != "" {
			var o string
			o, opts, _ = strings.Cut(opts, ",")
			switch o {
			case "required":
				f.required = true
			case "omitempty":
				f.omitEmpty = true
			default:
				return nil, fmt.Errorf("awsquery: %s.%s: unknown tag option %q", t, sf.Name, o)
			}
		}
		fs = append(fs, f)
	}
	return fs, nil
}

// lowerFirst turns a member name into the form AWS's validation messages
// use ("UserName" → "userName").
func lowerFirst(s string) string {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return s
	}
	return string(s[0]+'a'-'A') + s[1:]
}

// checkShape reports whether t, a struct type, holds only members the
// codec can carry: for inputs, strings, booleans, 32- and 64-bit integers
// (each optionally behind a pointer), lists of those or of structures, and
// nested structures; outputs may also hold timestamps, PolicyDocument and
// string maps. A required option on an output, or omitempty on an input,
// is a mistake and refused too.
func checkShape(t reflect.Type, input bool) error {
	return checkStruct(t, input, map[reflect.Type]bool{})
}

func checkStruct(t reflect.Type, input bool, seen map[reflect.Type]bool) error {
	if t.Kind() != reflect.Struct {
		return fmt.Errorf("awsquery: %s is not a struct", t)
	}
	if seen[t] {
		return nil
	}
	seen[t] = true
	fs, err := parseFields(t)
	if err != nil {
		return err
	}
	for _, f := range fs {
		ft := t.Field(f.index).Type
		if input && f.omitEmpty || !input && f.required {
			return fmt.Errorf("awsquery: %s.%s: option not valid on an %s", t, f.name, direction(input))
		}
		if input && f.required && ft.Kind() != reflect.Pointer && ft.Kind() != reflect.Slice {
			return fmt.Errorf("awsquery: %s.%s: a required member must be a pointer or a list", t, f.name)
		}
		if err := checkMember(ft, input, seen); err != nil {
			return fmt.Errorf("%s.%s: %w", t, f.name, err)
		}
	}
	return nil
}

func direction(input bool) string {
	if input {
		return "input"
	}
	return "output"
}

func checkMember(t reflect.Type, input bool, seen map[reflect.Type]bool) error {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType || t == policyType {
		if input {
			return fmt.Errorf("%s is output-only", t)
		}
		return nil
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int32, reflect.Int64:
		return nil
	case reflect.Struct:
		return checkStruct(t, input, seen)
	case reflect.Slice:
		e := t.Elem()
		if e.Kind() == reflect.Pointer || e.Kind() == reflect.Slice || e.Kind() == reflect.Map {
			return fmt.Errorf("list of %s is not supported", e)
		}
		return checkMember(e, input, seen)
	case reflect.Map:
		// No IAM or STS input Trent serves has a map; outputs have
		// EvalDecisionDetails, a map of strings to strings.
		if input || t.Key().Kind() != reflect.String || t.Elem().Kind() != reflect.String {
			return fmt.Errorf("map %s is not supported in an %s", t, direction(input))
		}
		return nil
	}
	return fmt.Errorf("type %s is not supported", t)
}
