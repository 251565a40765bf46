package awsquery

import (
	"errors"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/testenv/fuzzseeds"
)

// decodeSeeds is the seed corpus of FuzzDecode: request bodies as the SDKs
// and the CLI send them, and each way a body can be refused.
// TestFuzzDecodeSeeds keeps it from silently vanishing.
var decodeSeeds = []string{
	``,
	`&`,
	`Action=GetCallerIdentity&Version=2011-06-15`,
	`Action=CreateUser&Version=2010-05-08&UserName=bob&Path=%2F&Tags.member.1.Key=k&Tags.member.1.Value=v`,
	`Action=CreateUser&Path=__Path__&PermissionsBoundary=arn&Tags.member.1.Key=a&Tags.member.1.Value=b&Tags.member.2.Key=c&Tags.member.2.Value=d&UserName=u&Version=2010-05-08`,
	`Action=CreateUser&Version=2010-05-08&UserName=bob&Tags=`,
	`Action=ListUsers&Version=2010-05-08&MaxItems=100&Marker=abc&PathPrefix=%2F`,
	`Action=ListPolicies&Version=2010-05-08&OnlyAttached=true&Scope=Local&PolicyUsageFilter=PermissionsPolicy`,
	`Action=PutUserPolicy&Version=2010-05-08&UserName=u&PolicyName=p&PolicyDocument=%7B%22Version%22%3A%222012-10-17%22%7D`,
	`Action=SimulatePrincipalPolicy&Version=2010-05-08&PolicySourceArn=arn&ActionNames.member.1=kms%3AEncrypt&ContextEntries.member.1.ContextKeyName=k&ContextEntries.member.1.ContextKeyType=string&ContextEntries.member.1.ContextKeyValues.member.1=v`,
	`Action=AssumeRole&Version=2011-06-15&RoleArn=arn&RoleSessionName=s&DurationSeconds=3600&PolicyArns.member.1.arn=a&Tags.member.1.Key=k&Tags.member.1.Value=v&TransitiveTagKeys.member.1=k`,
	`Action=UntagUser&Version=2010-05-08&UserName=u&TagKeys.member.1=a&TagKeys.member.2=b&TagKeys.member.10=j`,
	`Action=UntagUser&Version=2010-05-08&UserName=u&TagKeys.member.1=a&TagKeys.member.3=c`,
	`Action=UntagUser&Version=2010-05-08&UserName=u&TagKeys.member.01=a`,
	`Action=UntagUser&Version=2010-05-08&UserName=u&TagKeys=x`,
	`Action=CreateUser&Version=2010-05-08&UserName=a&UserName=b`,
	`Action=CreateUser&Version=2010-05-08&UserName=%zz`,
	`Action=CreateUser&Version=2010-05-08&UserName=%FF%FE`,
	`Action=CreateUser&Version=2011-06-15&UserName=bob`,
	`Action=CreateUser&UserName=bob`,
	`Action=Nope&Version=2010-05-08`,
	`Action=ListUsers&Version=2010-05-08&MaxItems=99999999999`,
	`Action=CreateUser&Version=2010-05-08&Tags.member.1.Key=k`,
	`Action=CreateUser&Version=2010-05-08&UserName=u&Tags.member.1=x`,
	`=&==&a==b`,
	"Action=CreateUser\x00&Version=2010-05-08",
	strings.Repeat("a&", 600),
}

func TestFuzzDecodeSeeds(t *testing.T) {
	type seed struct {
		svc  *Service
		body string
	}
	var seeds []seed
	for _, s := range decodeSeeds {
		for _, svc := range []*Service{IAM, STS} {
			seeds = append(seeds, seed{svc, s})
		}
	}
	fuzzseeds.BothOutcomes(t, "FuzzDecode", seeds, func(s seed) bool {
		_, _, err := s.svc.Decode([]byte(s.body))
		return err == nil
	})
}

// FuzzDecode checks that no body makes Decode panic, that every refusal
// is an AWS-shaped client error (an *apierr.Error whose code this package
// knows, whose status is 4xx and whose message stays short) with no
// operation or input, and that what Decode accepts it reads losslessly:
// the input, written back as a form the way the SDKs write one, decodes
// to the same operation and an equal input.
func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, svc := range []*Service{IAM, STS} {
			op, in, err := svc.Decode(body)
			if err == nil {
				if reflect.TypeOf(in) != reflect.PointerTo(op.InputType()) {
					t.Fatalf("%s: Decode(%q) gave %T for %s", svc.Name, body, in, op.Name)
				}
				form := url.Values{"Action": {op.Name}, "Version": {svc.Version}}
				encodeForm(form, "", reflect.ValueOf(in).Elem())
				op2, in2, err := svc.Decode([]byte(form.Encode()))
				if err != nil || op2 != op || !reflect.DeepEqual(in, in2) {
					t.Fatalf("%s: Decode(%q) = %s %+v, which written back as %q decodes to %v %+v, %v",
						svc.Name, body, op.Name, in, form.Encode(), op2, in2, err)
				}
				continue
			}
			if op != nil || in != nil {
				t.Fatalf("%s: Decode(%q) returned %v, %v with the error %v", svc.Name, body, op, in, err)
			}
			var e *apierr.Error
			if !errors.As(err, &e) {
				t.Fatalf("%s: Decode(%q): error %v is %T, not *apierr.Error", svc.Name, body, err, err)
			}
			if _, known := statuses[e.Code]; !known {
				t.Fatalf("%s: Decode(%q): unknown code %s", svc.Name, body, e.Code)
			}
			if s := HTTPStatus(e.Code); s < 400 || s > 499 {
				t.Fatalf("%s: Decode(%q): %s has status %d", svc.Name, body, e.Code, s)
			}
			if len(e.Message) > 1024 {
				t.Fatalf("%s: Decode(%q): message of %d bytes", svc.Name, body, len(e.Message))
			}
		}
	})
}

// encodeForm writes the input structure v into form under prefix, as the
// SDKs serialize a query request: X.member.N for list members (X= for an
// empty list), X.Member for structure members, nothing for a nil pointer
// or the zero value of a plain scalar outside a list (which decodes the
// same either way).
// A structure that writes nothing gets a member no input has, which Decode
// ignores, so that one Decode built from unknown members alone comes back
// rather than vanishing. The form has no more parameters than the body
// the input was decoded from, so MaxParams cannot refuse it.
func encodeForm(form url.Values, prefix string, v reflect.Value) {
	n := len(form)
	for _, f := range fieldsOf(v.Type()) {
		if prefix == "" && (f.name == "Action" || f.name == "Version") {
			continue
		}
		encodeValue(form, prefix+f.name, v.Field(f.index), false)
	}
	if len(form) == n {
		form.Set(prefix+"FuzzUnknownMember", "")
	}
}

func encodeValue(form url.Values, key string, v reflect.Value, listMember bool) {
	keepZero := v.Kind() == reflect.Pointer || listMember
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		encodeForm(form, key+".", v)
		return
	case reflect.Slice:
		if v.IsNil() {
			return
		}
		if v.Len() == 0 {
			form.Set(key, "")
		}
		for i := range v.Len() {
			encodeValue(form, key+".member."+strconv.Itoa(i+1), v.Index(i), true)
		}
		return
	}
	if !keepZero && v.IsZero() {
		return
	}
	switch v.Kind() {
	case reflect.String:
		form.Set(key, v.String())
	case reflect.Bool:
		form.Set(key, strconv.FormatBool(v.Bool()))
	case reflect.Int32, reflect.Int64:
		form.Set(key, strconv.FormatInt(v.Int(), 10))
	default:
		panic("encodeForm: " + v.Type().String())
	}
}
