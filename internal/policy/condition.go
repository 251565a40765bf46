package policy

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Condition evaluation follows the IAM User Guide pages "IAM JSON policy
// elements: Condition operators" and "Conditions with multiple context keys
// or values":
//
//   - Several operators in one Condition, and several keys under one
//     operator, must all be true. Several values for one key are OR'd; for
//     a negated operator (StringNotEquals, NumericNotEquals, DateNotEquals,
//     NotIpAddress, ArnNotEquals, ArnNotLike, …) they are NOR'd: the
//     condition holds when the request's value matches none of them.
//   - A key absent from the request: "the values do not match and the
//     condition is false. If the policy condition requires that the key is
//     not matched, such as StringNotLike or ArnNotLike, and the right key is
//     not present, the condition is true. This logic applies to all
//     condition operators except ...IfExists and Null check." So a negated
//     operator on an absent key is true, and …IfExists on an absent key is
//     true.
//   - Null: "true" holds when the key is absent (or present with no value),
//     "false" when it has a value.
//   - ForAnyValue: true when some request value passes the operator;
//     ForAllValues: true when every request value does. "If the key values
//     in the request resolve to an empty data set … ForAllValues returns
//     true, and ForAnyValue returns false", and ForAllValues "also returns
//     true if there are no context keys in the request". Inside them a
//     negated operator applies to each request value: ForAllValues:
//     StringNotLike holds when no request value matches any policy value.
//   - A multivalued key under a plain operator: a positive operator holds
//     when any request value matches (as ForAnyValue would), a negated one
//     when none does. AWS does not document this case and tells policy
//     authors not to write it.
//   - A single-valued key that several request values fold onto (two
//     encryption context keys or tag keys differing only in case) is not
//     a multivalued key: see condition.eval.
//
// A value that does not parse for its operator (a NumericEquals value that
// is not a number, a malformed CIDR or date, a Bool value other than true
// or false), in the policy or in the request, makes the condition false:
// never an error, never a panic, and never true by way of negation.

type family uint8

const (
	famString family = iota
	famStringFold
	famStringLike
	famNumeric
	famDate
	famBool
	famBinary
	famIP
	famARN
	famNull
)

type comparison uint8

const (
	cmpEq comparison = iota
	cmpLt
	cmpLe
	cmpGt
	cmpGe
)

type setOp uint8

const (
	setNone setOp = iota
	setAny
	setAll
)

// operatorInfo is what a base operator name means.
type operatorInfo struct {
	fam family
	cmp comparison
	neg bool
}

var operators = map[string]operatorInfo{
	"StringEquals":              {fam: famString},
	"StringNotEquals":           {fam: famString, neg: true},
	"StringEqualsIgnoreCase":    {fam: famStringFold},
	"StringNotEqualsIgnoreCase": {fam: famStringFold, neg: true},
	"StringLike":                {fam: famStringLike},
	"StringNotLike":             {fam: famStringLike, neg: true},
	"NumericEquals":             {fam: famNumeric, cmp: cmpEq},
	"NumericNotEquals":          {fam: famNumeric, cmp: cmpEq, neg: true},
	"NumericLessThan":           {fam: famNumeric, cmp: cmpLt},
	"NumericLessThanEquals":     {fam: famNumeric, cmp: cmpLe},
	"NumericGreaterThan":        {fam: famNumeric, cmp: cmpGt},
	"NumericGreaterThanEquals":  {fam: famNumeric, cmp: cmpGe},
	"DateEquals":                {fam: famDate, cmp: cmpEq},
	"DateNotEquals":             {fam: famDate, cmp: cmpEq, neg: true},
	"DateLessThan":              {fam: famDate, cmp: cmpLt},
	"DateLessThanEquals":        {fam: famDate, cmp: cmpLe},
	"DateGreaterThan":           {fam: famDate, cmp: cmpGt},
	"DateGreaterThanEquals":     {fam: famDate, cmp: cmpGe},
	"Bool":                      {fam: famBool},
	"BinaryEquals":              {fam: famBinary},
	"IpAddress":                 {fam: famIP},
	"NotIpAddress":              {fam: famIP, neg: true},
	"ArnEquals":                 {fam: famARN},
	"ArnLike":                   {fam: famARN},
	"ArnNotEquals":              {fam: famARN, neg: true},
	"ArnNotLike":                {fam: famARN, neg: true},
	"Null":                      {fam: famNull},
}

// condition is one key under one operator, compiled.
type condition struct {
	key      string // lower case
	fam      family
	cmp      comparison
	neg      bool
	ifExists bool
	set      setOp
	bad      bool // a policy value does not parse for the operator
	hasVars  bool // some value holds a policy variable: resolve per request
	vals     []condValue
}

// condValue is one policy value, in the form its family compares.
type condValue struct {
	s    string      // string families; the decoded bytes for BinaryEquals
	tmpl template    // non-nil: s, glob, arn or b come from resolving it
	glob pattern     // StringLike
	arn  *arnPattern // ArnLike and friends
	num  float64
	t    time.Time
	net  netip.Prefix
	b    bool // Bool and Null
}

// compileCondition compiles operator op (as written) on key with its
// values. vars says whether policy variables are substituted.
func compileCondition(op, key string, vals []string, vars bool) (condition, error) {
	c := condition{key: lowerKey(key)}
	base := op
	if rest, ok := strings.CutPrefix(base, forAnyValue); ok {
		base, c.set = rest, setAny
	} else if rest, ok := strings.CutPrefix(base, forAllValues); ok {
		base, c.set = rest, setAll
	}
	base, c.ifExists = strings.CutSuffix(base, "IfExists")
	info, ok := operators[base]
	if !ok || info.fam == famNull && (c.ifExists || c.set != setNone) {
		return c, fmt.Errorf("policy: invalid condition operator %q", op)
	}
	c.fam, c.cmp, c.neg = info.fam, info.cmp, info.neg
	// Variables are documented for String and ARN operators, and for Bool
	// on the condition operators page.
	vars = vars && (c.fam == famString || c.fam == famStringFold || c.fam == famStringLike || c.fam == famARN || c.fam == famBool)
	c.vals = make([]condValue, len(vals))
	for i, v := range vals {
		if vars {
			if t := parseTemplate(v); t != nil {
				c.vals[i].tmpl = t
				c.hasVars = true
				continue
			}
		}
		if c.fam == famStringLike || c.fam == famARN {
			v = policyGlob(v)
		}
		if !c.vals[i].set(c.fam, v) {
			c.bad = true
		}
	}
	return c, nil
}

// set parses a policy value for fam, or a resolved variable; for StringLike
// and ARN operators v is pattern source. It reports false when the value
// does not parse.
func (cv *condValue) set(fam family, v string) bool {
	switch fam {
	case famString, famStringFold:
		cv.s = v
	case famStringLike:
		cv.glob = compileGlob(v)
	case famARN:
		p := compileARN(v, false)
		cv.arn = &p
	case famNumeric:
		n, ok := parseNumber(v)
		cv.num = n
		return ok
	case famDate:
		t, ok := parseDate(v)
		cv.t = t
		return ok
	case famBool, famNull:
		b, ok := parseBool(v)
		cv.b = b
		return ok
	case famBinary:
		b, err := base64.StdEncoding.DecodeString(v)
		cv.s = string(b)
		return err == nil
	case famIP:
		p, ok := parsePrefix(v)
		cv.net = p
		return ok
	}
	return true
}

// eval reports whether the condition holds for r, in a Deny statement when
// deny is set and in an Allow statement otherwise.
//
// An ambiguous key (Context.Add: several request values, such as the
// encryption context pairs "purpose" and "Purpose", fold onto one key name)
// is evaluated as a single-valued key once per value. In an Allow the
// condition holds only when it holds for every value, and in a Deny when it
// holds for any: whichever value one would pick, the decision is at least
// as strict, so a case variant can neither dodge a Deny nor widen an Allow.
// Treating the values as a multivalued key instead would not do: a plain
// StringEquals holds when any value matches, which widens an Allow, and a
// plain StringNotEquals when none does, which narrows a Deny.
func (c *condition) eval(r *Request, deny bool) bool {
	if c.bad {
		return false
	}
	v, present := r.lookup(c.key)
	if present && v.amb {
		for i := range v.list {
			if c.evalValues(r, values{one: v.list[i]}, true) == deny {
				return deny
			}
		}
		return !deny
	}
	return c.evalValues(r, v, present)
}

// evalValues reports whether the condition holds for the key's values v.
func (c *condition) evalValues(r *Request, v values, present bool) bool {
	if c.fam == famNull {
		isNull := !present || v.len() == 0
		for i := range c.vals {
			if c.vals[i].b == isNull {
				return true
			}
		}
		return false
	}
	if !present && c.ifExists {
		return true
	}
	n := 0
	if present {
		n = v.len()
	}
	if n == 0 {
		switch c.set {
		case setAll:
			return true
		case setAny:
			return false
		}
		return c.neg
	}

	vals := c.vals
	if c.hasVars {
		var unresolved bool
		vals, unresolved = c.resolve(r)
		if unresolved && c.neg {
			return false
		}
	}

	// Parse every request value before deciding, so that a malformed one
	// makes the condition false wherever it sits in the list.
	matched := 0
	for i := 0; i < n; i++ {
		m, ok := c.matchValue(&v, i, vals)
		if !ok {
			return false
		}
		if m {
			matched++
		}
	}
	switch c.set {
	case setAny:
		if c.neg {
			return matched < n // some value matches no policy value
		}
		return matched > 0
	case setAll:
		if c.neg {
			return matched == 0
		}
		return matched == n
	}
	if c.neg {
		return matched == 0
	}
	return matched > 0
}

// resolve substitutes policy variables in the condition's values. A value
// whose variable has no value is dropped; unresolved reports whether any
// was.
func (c *condition) resolve(r *Request) (out []condValue, unresolved bool) {
	out = make([]condValue, 0, len(c.vals))
	glob := c.fam == famStringLike || c.fam == famARN
	for _, cv := range c.vals {
		if cv.tmpl == nil {
			out = append(out, cv)
			continue
		}
		s, ok := cv.tmpl.resolve(r, glob)
		var nv condValue
		if !ok || !nv.set(c.fam, s) {
			unresolved = true
			continue
		}
		out = append(out, nv)
	}
	return out, unresolved
}

// matchValue reports whether the request's i'th value matches any of vals.
// ok is false when the request value does not parse for the operator.
func (c *condition) matchValue(v *values, i int, vals []condValue) (matched, ok bool) {
	switch c.fam {
	case famNumeric:
		var x float64
		if v.time != timeNone {
			x = float64(v.t.Unix())
		} else if x, ok = parseNumber(v.at(i)); !ok {
			return false, false
		}
		for j := range vals {
			if compare(x, vals[j].num, c.cmp) {
				return true, true
			}
		}
		return false, true
	case famDate:
		t := v.t
		if v.time == timeNone {
			if t, ok = parseDate(v.at(i)); !ok {
				return false, false
			}
		}
		for j := range vals {
			if compare(t.Compare(vals[j].t), 0, c.cmp) {
				return true, true
			}
		}
		return false, true
	case famBool:
		b, ok := parseBool(v.at(i))
		if !ok {
			return false, false
		}
		for j := range vals {
			if vals[j].b == b {
				return true, true
			}
		}
		return false, true
	case famIP:
		a, err := netip.ParseAddr(v.at(i))
		if err != nil {
			return false, false
		}
		a = a.WithZone("").Unmap()
		for j := range vals {
			if vals[j].net.Contains(a) {
				return true, true
			}
		}
		return false, true
	}
	s := v.at(i)
	for j := range vals {
		cv := &vals[j]
		var m bool
		switch c.fam {
		case famString, famBinary:
			m = s == cv.s
		case famStringFold:
			m = strings.EqualFold(s, cv.s)
		case famStringLike:
			m = cv.glob.match(s, false)
		case famARN:
			m = cv.arn.match(s)
		}
		if m {
			return true, true
		}
	}
	return false, true
}

func compare[T int | float64](a, b T, c comparison) bool {
	switch c {
	case cmpEq:
		return a == b
	case cmpLt:
		return a < b
	case cmpLe:
		return a <= b
	case cmpGt:
		return a > b
	case cmpGe:
		return a >= b
	}
	return false
}

// parseNumber accepts the decimal numbers AWS shows in Numeric conditions
// ("10", "-0.5", "1e3"), as JSON writes them. strconv alone would also take
// "Inf", "NaN", "0x1p3" and underscores.
func parseNumber(s string) (float64, bool) {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		start := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		return i - start
	}
	if digits() == 0 {
		return 0, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return 0, false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return 0, false
		}
	}
	if i != len(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// parseBool accepts "true" and "false" in any case.
func parseBool(s string) (bool, bool) {
	switch {
	case strings.EqualFold(s, "true"):
		return true, true
	case strings.EqualFold(s, "false"):
		return false, true
	}
	return false, false
}

// parseDate accepts the W3C profile of ISO 8601 the IAM User Guide refers
// Date conditions to (YYYY, YYYY-MM, YYYY-MM-DD, and date-times to the
// minute, second or fraction, with Z or an offset; a date-time without a
// zone is read as UTC), and epoch seconds. Four digits read as a year, not
// as 1970-01-01T00:33:20Z: no one writes the latter.
func parseDate(s string) (time.Time, bool) {
	if isEpoch(s) && len(s) != 4 {
		sec, frac, _ := strings.Cut(s, ".")
		n, err := strconv.ParseInt(sec, 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		var nanos int64
		if frac != "" {
			f, _ := strconv.ParseFloat("0."+frac, 64)
			nanos = int64(f * 1e9)
			if n < 0 || strings.HasPrefix(sec, "-") {
				nanos = -nanos
			}
		}
		return time.Unix(n, nanos), true
	}
	var layouts []string
	switch {
	case len(s) == 4:
		layouts = []string{"2006"}
	case len(s) == 7:
		layouts = []string{"2006-01"}
	case len(s) == 10:
		layouts = []string{"2006-01-02"}
	case strings.ContainsAny(s, "Zz+") || strings.LastIndexByte(s, '-') > 10:
		layouts = []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00"}
	default:
		layouts = []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04"}
	}
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// isEpoch reports whether s is [-]digits[.digits].
func isEpoch(s string) bool {
	s = strings.TrimPrefix(s, "-")
	sec, frac, hasFrac := strings.Cut(s, ".")
	if sec == "" || hasFrac && frac == "" {
		return false
	}
	for _, part := range []string{sec, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return false
			}
		}
	}
	return true
}

// parsePrefix reads a CIDR block, or a lone address as its /32 or /128
// ("If you specify an IP address without the associated routing prefix, IAM
// uses the default prefix value of /32").
func parsePrefix(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}
