package awsquery

// Every operation in the tables, driven once through the real SDK client
// of the same name with every member filled in: what the client sends
// must come out of Decode member for member, and what WriteResult sends
// must come out of the client member for member. This pins the Action
// names and every member name and type against the SDKs' models, not only
// the ones the hand-written tests in sdk_test.go look at.

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sdkOnlyInputs are input members the SDK models and Trent deliberately
// does not decode (see the shapes' comments).
var sdkOnlyInputs = map[string]bool{
	"SimulatePrincipalPolicyInput.PolicyExclusionList":             true,
	"SimulateCustomPolicyInput.OrderedOrganizationPolicyInputList": true,
	"AssumeRoleInput.MinimumSessionTokenSize":                      true,
	"GetSessionTokenInput.MinimumSessionTokenSize":                 true,
}

func TestSDKEveryOperation(t *testing.T) {
	for _, svc := range []*Service{IAM, STS} {
		// The handler fills each result afresh; the test compares against
		// its own copy, filled the same way.
		fake, endpoint := startFake(t, svc, func(op *Operation, in any) (any, error) {
			if op.OutputType() == nil {
				return nil, nil
			}
			out := reflect.New(op.OutputType())
			fill(out.Elem(), op.Name)
			return out.Interface(), nil
		})
		client := any(newIAMClient(endpoint))
		if svc == STS {
			client = newSTSClient(endpoint)
		}
		for _, op := range svc.Operations() {
			t.Run(svc.Name+"/"+op.Name, func(t *testing.T) {
				fake.forget()
				method := reflect.ValueOf(client).MethodByName(op.Name)
				if !method.IsValid() {
					t.Fatalf("the SDK client has no %s", op.Name)
				}
				sdkIn := reflect.New(method.Type().In(1).Elem())
				fill(sdkIn.Elem(), op.Name)
				res := method.Call([]reflect.Value{reflect.ValueOf(context.Background()), sdkIn})
				if err, _ := res[1].Interface().(error); err != nil {
					t.Fatalf("%s: %v", op.Name, err)
				}
				c := fake.last(t)
				if c.op != op.Name {
					t.Fatalf("client sent %s", c.op)
				}
				var problems []string
				sameMembers(sdkIn.Elem(), reflect.ValueOf(c.in).Elem(), sdkIn.Elem().Type().Name(), false, &problems)
				if op.OutputType() != nil {
					sent := reflect.New(op.OutputType()).Elem()
					fill(sent, op.Name)
					sameMembers(sent, res[0].Elem(), op.OutputType().Name(), true, &problems)
				}
				if len(problems) > 0 {
					t.Fatalf("%s:\n  %s", op.Name, strings.Join(problems, "\n  "))
				}
			})
		}
	}
}

var fillTime = time.Date(2026, 12, 6, 10, 13, 12, 0, time.UTC)

// fill sets every exported member of v to a value derived from name, lists
// to two elements and maps to one entry; interfaces (SDK unions) are left
// nil.
func fill(v reflect.Value, name string) {
	switch {
	case v.Type() == timeType:
		v.Set(reflect.ValueOf(fillTime))
		return
	case v.Type() == policyType:
		v.SetString(`{"Sid":"` + name + ` +&=%"}`)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), name)
		v.Set(p)
	case reflect.String:
		v.SetString("v-" + name)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int32, reflect.Int64:
		v.SetInt(int64(len(name)))
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() && f.Name != "ResultMetadata" {
				fill(v.Field(i), f.Name)
			}
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		fill(s.Index(0), name+"1")
		fill(s.Index(1), name+"2")
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k := reflect.New(v.Type().Key()).Elem()
		k.SetString("k-" + name)
		e := reflect.New(v.Type().Elem()).Elem()
		fill(e, name)
		m.SetMapIndex(k, e)
		v.Set(m)
	}
}

// sameMembers checks that b carries every member of a with the same value,
// matching members by AWS name: a Go field name on the SDK side, a query
// tag on Trent's (case aside, for STS's "arn"). fromTrent says which side
// a is; Trent's PolicyDocument reaches the SDK percent-encoded.
func sameMembers(a, b reflect.Value, path string, fromTrent bool, problems *[]string) {
	bad := func(format string, args ...any) {
		*problems = append(*problems, path+": "+fmt.Sprintf(format, args...))
	}
	if a.Kind() == reflect.Pointer {
		if a.IsNil() {
			if b.Kind() == reflect.Pointer && !b.IsNil() {
				bad("set, want absent")
			}
			return
		}
		a = a.Elem()
	}
	if b.Kind() == reflect.Pointer {
		if b.IsNil() {
			bad("absent")
			return
		}
		b = b.Elem()
	}
	switch {
	case a.Type() == timeType:
		if b.Type() != timeType || !a.Interface().(time.Time).Equal(b.Interface().(time.Time)) {
			bad("%v, want %v", b, a)
		}
		return
	case a.Type() == policyType:
		if b.Kind() != reflect.String || b.String() != escapePolicy(a.String()) {
			bad("%q, want the percent-encoding of %q", b, a)
		}
		return
	}
	switch a.Kind() {
	case reflect.String, reflect.Bool, reflect.Int32, reflect.Int64:
		if a.Kind() != b.Kind() || fmt.Sprint(a.Interface()) != fmt.Sprint(b.Interface()) {
			bad("%v (%s), want %v", b, b.Type(), a)
		}
	case reflect.Slice:
		if b.Kind() != reflect.Slice || a.Len() != b.Len() {
			bad("%v, want %d members", b, a.Len())
			return
		}
		for i := range a.Len() {
			sameMembers(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i), fromTrent, problems)
		}
	case reflect.Map:
		if b.Kind() != reflect.Map || a.Len() != b.Len() {
			bad("%v, want %v", b, a)
			return
		}
		for _, k := range a.MapKeys() {
			bv := b.MapIndex(reflect.ValueOf(k.String()).Convert(b.Type().Key()))
			if !bv.IsValid() || fmt.Sprint(bv) != fmt.Sprint(a.MapIndex(k)) {
				bad("[%s] = %v, want %v", k, bv, a.MapIndex(k))
			}
		}
	case reflect.Struct:
		if b.Kind() != reflect.Struct {
			bad("%s, want a structure", b.Type())
			return
		}
		for i := range a.NumField() {
			af := a.Type().Field(i)
			if !af.IsExported() || af.Name == "ResultMetadata" || a.Field(i).Kind() == reflect.Interface {
				continue
			}
			name := af.Name
			if fromTrent {
				name = fieldsOf(a.Type())[i].name
			}
			bf, ok := memberNamed(b, name, !fromTrent)
			if !ok {
				if !sdkOnlyInputs[a.Type().Name()+"."+af.Name] {
					bad("member %s has no counterpart in %s", name, b.Type())
				}
				continue
			}
			sameMembers(a.Field(i), bf, path+"."+name, fromTrent, problems)
		}
	default:
		bad("unexpected kind %s", a.Kind())
	}
}

// memberNamed returns the member of struct v named name: by query tag when
// v is Trent's, by field name when it is the SDK's.
func memberNamed(v reflect.Value, name string, trent bool) (reflect.Value, bool) {
	if trent {
		for _, f := range fieldsOf(v.Type()) {
			if strings.EqualFold(f.name, name) {
				return v.Field(f.index), true
			}
		}
		return reflect.Value{}, false
	}
	f := v.FieldByNameFunc(func(n string) bool { return strings.EqualFold(n, name) })
	return f, f.IsValid()
}
