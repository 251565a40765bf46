package audit

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/awsproto"
)

// fill sets v (settable) to a random value of its type: nil or not for
// pointers, slices and maps, hostile strings, nested structs.
func fill(r *rand.Rand, v reflect.Value, depth int) {
	if v.Type() == reflect.TypeFor[awsproto.Timestamp]() {
		v.Set(reflect.ValueOf(awsproto.Timestamp(time.Unix(r.Int64N(4e9), 0))))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(hostileStrings[r.IntN(len(hostileStrings))])
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(r.Int64N(1<<20) - 1<<19)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(r.Uint64N(1 << 20))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(r.Float64() * 1e6)
	case reflect.Pointer:
		if depth > 4 || r.IntN(4) == 0 {
			return
		}
		p := reflect.New(v.Type().Elem())
		fill(r, p.Elem(), depth+1)
		v.Set(p)
	case reflect.Slice:
		if depth > 4 || r.IntN(4) == 0 {
			return
		}
		n := r.IntN(4)
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			fill(r, s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Map:
		if depth > 4 || r.IntN(4) == 0 {
			return
		}
		m := reflect.MakeMap(v.Type())
		for range r.IntN(5) {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fill(r, k, depth+1)
			fill(r, e, depth+1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(r, v.Field(i), depth+1)
			}
		}
	}
}

// TestCompiledMatchesWriteValue: the encoders compiled per member write
// what the general reflection path writes, for every input and output
// type of the KMS API filled with random, hostile values.
func TestCompiledMatchesWriteValue(t *testing.T) {
	types := []reflect.Type{
		reflect.TypeFor[awsproto.CreateGrantInput](), reflect.TypeFor[awsproto.CreateGrantOutput](),
		reflect.TypeFor[awsproto.ListGrantsInput](), reflect.TypeFor[awsproto.ListGrantsOutput](),
		reflect.TypeFor[awsproto.RetireGrantInput](), reflect.TypeFor[awsproto.CreateKeyInput](),
		reflect.TypeFor[awsproto.KeyMetadataOutput](), reflect.TypeFor[awsproto.DescribeKeyInput](),
		reflect.TypeFor[awsproto.ListKeysOutput](), reflect.TypeFor[awsproto.ScheduleKeyDeletionOutput](),
		reflect.TypeFor[awsproto.EncryptInput](), reflect.TypeFor[awsproto.ReEncryptInput](),
		reflect.TypeFor[awsproto.GenerateDataKeyInput](), reflect.TypeFor[awsproto.ListAliasesOutput](),
		reflect.TypeFor[awsproto.TagResourceInput](), reflect.TypeFor[awsproto.ListResourceTagsOutput](),
		reflect.TypeFor[awsproto.PutKeyPolicyInput](), reflect.TypeFor[awsproto.ListKeyRotationsOutput](),
		reflect.TypeFor[awsproto.SignInput](), reflect.TypeFor[awsproto.GenerateDataKeyPairInput](),
		reflect.TypeFor[awsproto.GetKeyLastUsageOutput](), reflect.TypeFor[awsproto.GetKeyRotationStatusOutput](),
		reflect.TypeFor[struct {
			F  float64
			I  any
			M  map[string][]int
			N  map[string]*string
			T  *awsproto.Timestamp
			TS []awsproto.Timestamp
		}](),
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, typ := range types {
		enc := compileEncoder(typ, map[reflect.Type]bool{})
		for i := range 300 {
			p := reflect.New(typ)
			fill(r, p.Elem(), 0)
			for _, v := range []reflect.Value{p.Elem(), p, p.Elem().Field(0)} {
				var want bytes.Buffer
				werr := writeValue(&want, v)
				e := enc
				if v.Type() != typ {
					e = compileEncoder(v.Type(), map[reflect.Type]bool{})
				}
				got, gerr := e(nil, v)
				if (werr != nil) != (gerr != nil) || !bytes.Equal(got, want.Bytes()) {
					t.Fatalf("%v #%d:\n got %s (%v)\nwant %s (%v)", v.Type(), i, got, gerr, want.Bytes(), werr)
				}
				// Events copy an allow-list's output without checking it
				// again (Event.SetRequestParameters): it must be valid,
				// compact JSON.
				if valid, compact := scanJSON(got); gerr == nil && (!valid || !compact) {
					t.Fatalf("%v #%d: not valid compact JSON: %s", v.Type(), i, got)
				}
			}
		}
	}
}

// TestStringMapOrder: encryption contexts of every size up to past the
// stack-sorted few are written in key order, as writeValue writes them.
func TestStringMapOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for n := range 20 {
		m := map[string]string{}
		for len(m) < n {
			m[hostileStrings[r.IntN(len(hostileStrings))]+strconv.Itoa(r.IntN(100))] = strconv.Itoa(len(m))
		}
		var want bytes.Buffer
		if err := writeValue(&want, reflect.ValueOf(m)); err != nil {
			t.Fatal(err)
		}
		got, err := appendStringMap(nil, reflect.ValueOf(m))
		if err != nil || !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("%d pairs:\n got %s (%v)\nwant %s", n, got, err, want.Bytes())
		}
	}
}

// TestAllowListAllocations: an Encrypt's parameters cost one allocation,
// their own buffer, once the list has seen their size — also after one
// much larger input, which must not leave every later call allocating as
// much.
func TestAllowListAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	a := MustAllowList(reflect.TypeFor[awsproto.EncryptInput](), "KeyId", "EncryptionContext", "EncryptionAlgorithm")
	in := &awsproto.EncryptInput{
		KeyId:               ptr("arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
		EncryptionContext:   map[string]string{"tenant-id": "acme-corp-7f3c9a", "purpose": "customer-pii/billing-address"},
		EncryptionAlgorithm: ptr("SYMMETRIC_DEFAULT"),
	}
	big := &awsproto.EncryptInput{KeyId: ptr(strings.Repeat("k", 10000))}
	for _, before := range []*awsproto.EncryptInput{in, big} {
		if _, err := a.JSON(before); err != nil {
			t.Fatal(err)
		}
		var out json.RawMessage
		if n := testing.AllocsPerRun(100, func() { out, _ = a.JSON(in) }); n != 1 {
			t.Errorf("after a %d-byte input: %v allocations per call, want 1", len(*before.KeyId), n)
		}
		if cap(out) > 2*len(out) {
			t.Errorf("after a %d-byte input: capacity %d for %d bytes", len(*before.KeyId), cap(out), len(out))
		}
	}
}
