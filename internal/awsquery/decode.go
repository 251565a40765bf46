package awsquery

import (
	"cmp"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/trent-kms/trent/internal/apierr"
)

const (
	// MaxParams bounds the parameters of one request, Action and Version
	// included. The largest IAM or STS request Trent serves is a
	// SimulatePrincipalPolicy with a long action list and context entries,
	// or an AssumeRole with 50 tags (100 parameters). A thousand leaves
	// room and bounds what the decoder allocates for a 1 MiB body of
	// "a&a&a…", which would otherwise be half a million parameters.
	MaxParams = 1000
	// maxIndex bounds a list index. A list is dense, so no index can exceed
	// the number of parameters.
	maxIndex = MaxParams

	// noVersion stands for an absent Version in InvalidAction's message.
	noVersion = "NO_VERSION_SPECIFIED"
)

// param is one decoded name=value pair of a form body.
type param struct{ key, value string }

// parseForm splits an application/x-www-form-urlencoded body into its
// parameters, sorted by name. Empty segments ("a=1&&b=2") are skipped, as
// every form parser does; a segment without "=" is a parameter with an
// empty value. A malformed percent escape, text that is not UTF-8 after
// unescaping or an empty name is MalformedQueryString; more than MaxParams
// parameters or the same name twice is InvalidQueryParameter (AWS's
// behaviour for a repeated name is undocumented; taking either value would
// let two readers of one request disagree, so Trent refuses it).
func parseForm(body []byte) ([]param, error) {
	form := string(body)
	n := 0
	for seg := range strings.SplitSeq(form, "&") {
		if seg != "" {
			n++
		}
	}
	if n > MaxParams {
		return nil, apierr.New(InvalidQueryParameter, "The request has more than %d parameters.", MaxParams)
	}
	ps := make([]param, 0, n)
	for seg := range strings.SplitSeq(form, "&") {
		if seg == "" {
			continue
		}
		k, v, _ := strings.Cut(seg, "=")
		key, ok := unescape(k)
		if !ok {
			return nil, apierr.New(MalformedQueryString, "The query string contains a malformed parameter name.")
		}
		if key == "" {
			return nil, apierr.New(MalformedQueryString, "The query string contains a parameter without a name.")
		}
		value, ok := unescape(v)
		if !ok {
			return nil, apierr.New(MalformedQueryString, "The value of parameter %s is not correctly percent-encoded UTF-8.", clip(key))
		}
		ps = append(ps, param{key, value})
	}
	slices.SortFunc(ps, func(a, b param) int { return cmp.Compare(a.key, b.key) })
	for i := 1; i < len(ps); i++ {
		if ps[i].key == ps[i-1].key {
			return nil, apierr.New(InvalidQueryParameter, "The parameter %s appears more than once.", clip(ps[i].key))
		}
	}
	return ps, nil
}

// unescape decodes one form-encoded component ('+' is a space) and checks
// that the result is UTF-8.
func unescape(s string) (string, bool) {
	if strings.ContainsAny(s, "%+") {
		var err error
		if s, err = url.QueryUnescape(s); err != nil {
			return "", false
		}
	}
	return s, utf8.ValidString(s)
}

// clip bounds caller-supplied text echoed in a message.
func clip(s string) string {
	const max = 128
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "..."
}

// lookup returns the value of the parameter named key in ps, which is
// sorted.
func lookup(ps []param, key string) (string, bool) {
	i := sort.Search(len(ps), func(i int) bool { return ps[i].key >= key })
	if i < len(ps) && ps[i].key == key {
		return ps[i].value, true
	}
	return "", false
}

// under returns the parameters of ps whose names start with prefix. In a
// sorted slice they are contiguous.
func under(ps []param, prefix string) []param {
	lo := sort.Search(len(ps), func(i int) bool { return ps[i].key >= prefix })
	hi := lo + sort.Search(len(ps)-lo, func(i int) bool { return !strings.HasPrefix(ps[lo+i].key, prefix) })
	return ps[lo:hi]
}

// decoder fills one input structure. Values that do not parse fail at
// once; absent required members are collected and reported together, as
// AWS's "N validation errors detected" does.
type decoder struct {
	missing []string
}

// unmarshal decodes the parameters ps into v, a pointer to an input struct.
// Parameters that name no member are ignored, as AWS ignores them and as
// awsproto ignores unknown JSON members, so that a newer client's extra
// members do not break it. The shape of lists is strict: X.member.N with N
// counting from 1 without gaps or leading zeros, or "X=" for an empty
// list; anything else under a list's name is InvalidQueryParameter, since
// taking part of a list would silently change what the caller asked for.
func unmarshal(ps []param, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return apierr.Internal(fmt.Errorf("awsquery: unmarshal into %T", v))
	}
	var d decoder
	if err := d.structure(ps, "", "", rv.Elem()); err != nil {
		return err
	}
	if len(d.missing) > 0 {
		return validationError(d.missing)
	}
	return nil
}

func validationError(missing []string) error {
	var b strings.Builder
	if len(missing) == 1 {
		b.WriteString("1 validation error detected: ")
	} else {
		fmt.Fprintf(&b, "%d validation errors detected: ", len(missing))
	}
	for i, path := range missing {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "Value null at '%s' failed to satisfy constraint: Member must not be null", path)
	}
	return &apierr.Error{Code: ValidationError, Message: b.String()}
}

// structure decodes the members of v from ps, all of whose names start
// with prefix ("" at the top, "Tags.member.1." inside a list). path is the
// same position as AWS's validation messages name it ("tags.1.member.").
func (d *decoder) structure(ps []param, prefix, path string, v reflect.Value) error {
	for _, f := range fieldsOf(v.Type()) {
		if err := d.member(ps, prefix+f.name, path+f.path, f.required, v.Field(f.index)); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) member(ps []param, key, path string, required bool, v reflect.Value) error {
	t := v.Type()
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice:
		value, set := lookup(ps, key)
		items := under(ps, key+".")
		switch {
		case set && (value != "" || len(items) > 0):
			return apierr.New(InvalidQueryParameter, "The parameter %s must be a list: use %s.member.N, or %s= for an empty list.", key, key, key)
		case set:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		case len(items) > 0:
			if err := d.list(items, key+".", path, v); err != nil {
				return err
			}
		case required:
			d.missing = append(d.missing, path)
		}
		return nil
	case reflect.Struct:
		if _, set := lookup(ps, key); set {
			return apierr.New(InvalidQueryParameter, "The parameter %s is a structure and takes no value of its own.", key)
		}
		members := under(ps, key+".")
		if len(members) == 0 {
			if required {
				d.missing = append(d.missing, path)
			}
			return nil
		}
		s := reflect.New(t)
		if err := d.structure(members, key+".", path+".", s.Elem()); err != nil {
			return err
		}
		setMaybePointer(v, s)
		return nil
	}
	value, set := lookup(ps, key)
	if !set {
		if required {
			d.missing = append(d.missing, path)
		}
		return nil
	}
	return scalar(v, key, value)
}

// setMaybePointer stores p, a pointer to a new value, into v, which is
// either of p's type or of its element type.
func setMaybePointer(v, p reflect.Value) {
	if v.Kind() == reflect.Pointer {
		v.Set(p)
	} else {
		v.Set(p.Elem())
	}
}

// list decodes ps, the parameters named prefix+"member.N…", into the slice
// v.
func (d *decoder) list(ps []param, prefix, path string, v reflect.Value) error {
	memberPrefix := prefix + "member."
	type item struct {
		index int
		ps    []param
	}
	items := make([]item, 0, 8)
	for i := 0; i < len(ps); {
		rest, ok := strings.CutPrefix(ps[i].key, memberPrefix)
		if !ok {
			return apierr.New(InvalidQueryParameter, "The parameter %s is not a list member: use %sN.", clip(ps[i].key), memberPrefix)
		}
		digits, _, _ := strings.Cut(rest, ".")
		index, ok := listIndex(digits)
		if !ok {
			return apierr.New(InvalidQueryParameter, "The parameter %s has an invalid list index: indexes count from 1.", clip(ps[i].key))
		}
		// Names of one member are adjacent once sorted: '.' sorts before
		// every digit, so "X.member.1.*" comes before "X.member.10".
		itemPrefix := memberPrefix + digits
		j := i + 1
		for j < len(ps) && (ps[j].key == itemPrefix || strings.HasPrefix(ps[j].key, itemPrefix+".")) {
			j++
		}
		items = append(items, item{index, ps[i:j]})
		i = j
	}
	seen := make([]bool, len(items))
	for _, it := range items {
		if it.index > len(items) || seen[it.index-1] {
			return apierr.New(InvalidQueryParameter, "The list %s skips an index: members must be numbered from 1 without gaps.", strings.TrimSuffix(prefix, "."))
		}
		seen[it.index-1] = true
	}
	out := reflect.MakeSlice(v.Type(), len(items), len(items))
	et := v.Type().Elem()
	for _, it := range items {
		key := memberPrefix + strconv.Itoa(it.index)
		elem := out.Index(it.index - 1)
		if et.Kind() == reflect.Struct {
			if _, set := lookup(it.ps, key); set {
				return apierr.New(InvalidQueryParameter, "The parameter %s is a structure and takes no value of its own.", key)
			}
			if err := d.structure(it.ps, key+".", fmt.Sprintf("%s.%d.member.", path, it.index), elem); err != nil {
				return err
			}
			continue
		}
		value, set := lookup(it.ps, key)
		if !set || len(it.ps) != 1 {
			return apierr.New(InvalidQueryParameter, "The list member %s takes a single value.", key)
		}
		if err := scalar(elem, key, value); err != nil {
			return err
		}
	}
	v.Set(out)
	return nil
}

// listIndex parses a list index: a decimal from 1 to maxIndex without a
// sign or leading zeros.
func listIndex(s string) (int, bool) {
	if s == "" || s[0] == '0' || len(s) > len(strconv.Itoa(maxIndex)) {
		return 0, false
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n <= maxIndex
}

// scalar parses raw into v, a string, boolean or integer, or a pointer to
// one.
func scalar(v reflect.Value, key, raw string) error {
	if v.Kind() == reflect.Pointer {
		p := reflect.New(v.Type().Elem())
		if err := scalar(p.Elem(), key, raw); err != nil {
			return err
		}
		v.Set(p)
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(raw)
	case reflect.Bool:
		// The SDKs send "true" and "false"; Go's ParseBool would also take
		// "1", "T" and "TRUE", which no AWS parser documents.
		switch {
		case strings.EqualFold(raw, "true"):
			v.SetBool(true)
		case strings.EqualFold(raw, "false"):
			v.SetBool(false)
		default:
			return apierr.New(InvalidParameterValue, "Invalid value for parameter %s: expected true or false.", key)
		}
	case reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, v.Type().Bits())
		if err != nil {
			return apierr.New(InvalidParameterValue, "Invalid value for parameter %s: expected an integer of %d bits.", key, v.Type().Bits())
		}
		v.SetInt(n)
	default:
		// checkShape refuses every other kind when the tables are built.
		return apierr.Internal(fmt.Errorf("awsquery: %s: cannot decode into %s", key, v.Type()))
	}
	return nil
}
