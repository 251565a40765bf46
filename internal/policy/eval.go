package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/trent-kms/trent/internal/ids"
)

// Effect is the outcome of evaluating one policy.
type Effect uint8

const (
	// NoMatch: no statement applies; the policy neither allows nor denies
	// (AWS's implicit deny).
	NoMatch Effect = iota
	Allow
	Deny
)

func (e Effect) String() string {
	switch e {
	case Allow:
		return "Allow"
	case Deny:
		return "Deny"
	}
	return "NoMatch"
}

// Via says how an Allow in a resource policy (a key policy) matched the
// caller, which decides what else the caller needs. The order matters:
// when several Allow statements apply, Evaluate reports the greatest Via.
type Via uint8

const (
	// ViaNone: the statement has no Principal element (identity
	// policies).
	ViaNone Via = iota
	// ViaAccount: the statement names the caller's account ("ACCOUNT" or
	// "arn:aws:iam::ACCOUNT:root"). In KMS that delegates to the account:
	// the caller's identity-based policies must allow the request too.
	ViaAccount
	// ViaRole: the statement names the role of the caller's session, or
	// matches a session through "*" or NotPrincipal. IAM's rule for
	// resource policies that name a role: the session's permissions
	// boundary and session policies still limit it.
	ViaRole
	// ViaPrincipal: the statement names the caller itself (user, session or
	// federated user ARN), or matches a user through "*" or NotPrincipal:
	// the key policy alone allows a caller of the key's account.
	ViaPrincipal
)

// Result is the outcome of evaluating a policy against a request.
type Result struct {
	Effect Effect
	// Statement is the index in Document.Statements of the statement that
	// decided: the first Deny that applies, else the Allow with the
	// greatest Via (the first among equals). -1 for NoMatch.
	Statement int
	Sid       string
	Via       Via // for Allow
}

// Compiled is a policy ready to evaluate: patterns, numbers, dates and
// network prefixes are parsed once. A Compiled is immutable and safe for
// concurrent use; callers cache it beside the policy text.
type Compiled struct {
	stmts []statement
	// refs are the condition keys the policy's conditions and policy
	// variables name, lower case, sorted, each once.
	refs []string
}

type statement struct {
	index   int
	sid     string
	deny    bool
	never   bool          // no Action/NotAction or no Resource/NotResource
	princ   *principalSet // nil: no Principal element (identity policy)
	notP    bool
	actions []pattern // lower case
	notA    bool
	res     []resourcePattern
	notR    bool
	conds   []condition
}

// resourcePattern is a Resource entry: compiled, or a template resolved per
// request when it holds policy variables.
type resourcePattern struct {
	pat  arnPattern
	tmpl template
}

// Compile prepares d for evaluation. It fails only for a Document that
// Parse or ParseIdentity would not have returned (an unknown Effect or
// condition operator): compiling a policy is never where a bad policy is
// reported to a client. Policy variables are substituted only when
// d.Version is 2012-10-17, as AWS does.
func Compile(d *Document) (*Compiled, error) {
	vars := d.Version == Version2012
	c := &Compiled{stmts: make([]statement, len(d.Statements))}
	for i := range d.Statements {
		s := &d.Statements[i]
		cs := &c.stmts[i]
		cs.index, cs.sid = i, s.Sid
		switch s.Effect {
		case "Allow":
		case "Deny":
			cs.deny = true
		default:
			return nil, fmt.Errorf("policy: statement %d has Effect %q", i, s.Effect)
		}

		var err error
		switch {
		case s.Principal != nil:
			cs.princ, err = compilePrincipals(s.Principal)
		case s.NotPrincipal != nil:
			cs.princ, err = compilePrincipals(s.NotPrincipal)
			cs.notP = true
		}
		if err != nil {
			return nil, fmt.Errorf("policy: statement %d: %w", i, err)
		}

		actions := s.Action
		if actions == nil {
			actions, cs.notA = s.NotAction, true
		}
		resources := s.Resource
		if resources == nil {
			resources, cs.notR = s.NotResource, true
		}
		// AWS accepts such a key policy statement and documents it as
		// having no effect.
		cs.never = actions == nil || resources == nil
		for _, a := range actions {
			cs.actions = append(cs.actions, compileGlob(policyGlob(asciiLower(a))))
		}
		for _, r := range resources {
			cs.res = append(cs.res, compileResource(r, vars))
		}

		// Sorted, so that evaluation does the same work in the same order
		// every time.
		for _, op := range sortedKeys(s.Condition) {
			keys := s.Condition[op]
			for _, k := range sortedKeys(keys) {
				cond, err := compileCondition(op, k, keys[k], vars)
				if err != nil {
					return nil, fmt.Errorf("policy: statement %d: %w", i, err)
				}
				cs.conds = append(cs.conds, cond)
			}
		}
	}
	c.refs = c.references()
	return c, nil
}

// references lists the condition keys c names: those its conditions test
// and those its policy variables (in condition values and resources)
// stand for.
func (c *Compiled) references() []string {
	var refs []string
	addVars := func(t template) {
		for _, p := range t {
			if p.name != "" {
				refs = append(refs, p.name)
			}
		}
	}
	for i := range c.stmts {
		st := &c.stmts[i]
		for _, r := range st.res {
			addVars(r.tmpl)
		}
		for _, cond := range st.conds {
			refs = append(refs, cond.key)
			for _, v := range cond.vals {
				addVars(v.tmpl)
			}
		}
	}
	slices.Sort(refs)
	return slices.Compact(refs)
}

// References reports whether c names the condition key key (lower case)
// in a condition or a policy variable: when it does not, the key's value
// cannot change any decision c takes part in, so a caller may leave out
// a key that is dear to compute. A nil Compiled names none.
func (c *Compiled) References(key string) bool {
	if c == nil {
		return false
	}
	_, found := slices.BinarySearch(c.refs, key)
	return found
}

// compileResource compiles a Resource entry. Variables are substituted only
// in the resource part of an ARN, after the fifth colon (IAM User Guide,
// "Where you can use policy variables").
func compileResource(r string, vars bool) resourcePattern {
	if vars {
		if start, _, ok := arnSplit(r); ok {
			if t := parseTemplate(r[start[5]:]); t != nil {
				return resourcePattern{tmpl: append(template{{lit: r[:start[5]]}}, t...)}
			}
		}
	}
	return resourcePattern{pat: compileARN(policyGlob(r), true)}
}

// Evaluate evaluates the policy against req. A nil Compiled matches
// nothing. Evaluate does not allocate unless the policy uses policy
// variables or a condition compares a derived time as a string.
func (c *Compiled) Evaluate(req *Request) Result {
	res := Result{Statement: -1}
	if c == nil {
		return res
	}
	for i := range c.stmts {
		s := &c.stmts[i]
		if s.never || !s.deny && res.Effect == Allow && (res.Via == ViaPrincipal || s.princ == nil) {
			continue // no Allow can do better; only a Deny still matters
		}
		if !s.matchAction(req.Action) {
			continue
		}
		via, ok := s.matchPrincipal(&req.Principal)
		if !ok || !s.matchResource(req) || !s.matchConditions(req) {
			continue
		}
		if s.deny {
			return Result{Effect: Deny, Statement: s.index, Sid: s.sid}
		}
		if res.Effect != Allow || via > res.Via {
			res = Result{Effect: Allow, Statement: s.index, Sid: s.sid, Via: via}
		}
	}
	return res
}

func (s *statement) matchAction(action string) bool {
	for i := range s.actions {
		if s.actions[i].match(action, true) {
			return !s.notA
		}
	}
	return s.notA
}

func (s *statement) matchResource(r *Request) bool {
	for i := range s.res {
		rp := &s.res[i]
		if rp.tmpl == nil {
			if rp.pat.match(r.Resource) {
				return !s.notR
			}
			continue
		}
		src, ok := rp.tmpl.resolve(r, true)
		if !ok {
			if s.notR {
				return false // see vars.go: an unresolved variable never widens a statement
			}
			continue
		}
		if p := compileARN(src, true); p.match(r.Resource) {
			return !s.notR
		}
	}
	return s.notR
}

func (s *statement) matchConditions(r *Request) bool {
	for i := range s.conds {
		if !s.conds[i].eval(r, s.deny) {
			return false
		}
	}
	return true
}

// principalSet is a compiled Principal or NotPrincipal element. Service,
// Federated and CanonicalUser principals are kept out: Trent's callers are
// IAM principals, which they never match.
type principalSet struct {
	any      bool // "*" or {"AWS": "*"}
	accounts []account
	arns     []string // users, sessions, federated users
	roles    []string
}

type account struct {
	partition string // "" for a bare account id, which matches any partition
	id        string
}

func compilePrincipals(m map[string][]string) (*principalSet, error) {
	ps := &principalSet{}
	for typ, list := range m {
		switch typ {
		case "Service", "Federated", "CanonicalUser":
			continue
		case "AWS":
		default:
			return nil, fmt.Errorf("unknown principal type %q", typ)
		}
		for _, p := range list {
			switch {
			case p == "*":
				ps.any = true
			case ids.IsAccountID(p):
				ps.accounts = append(ps.accounts, account{id: p})
			default:
				a, ok := splitARN(p)
				switch {
				case !ok:
					return nil, fmt.Errorf("invalid AWS principal %q", p)
				case a.service == "iam" && a.resource == "root":
					ps.accounts = append(ps.accounts, account{partition: a.partition, id: a.account})
				case a.service == "iam" && strings.HasPrefix(a.resource, "role/"):
					ps.roles = append(ps.roles, p)
				default:
					ps.arns = append(ps.arns, p)
				}
			}
		}
	}
	slices.Sort(ps.arns)
	slices.Sort(ps.roles)
	return ps, nil
}

// matchPrincipal reports whether the statement applies to p, and how.
//
// NotPrincipal follows the IAM User Guide ("AWS JSON policy elements:
// NotPrincipal"): a caller is excluded only when every identity it has is
// listed, which is why AWS tells authors of a Deny to list the account and,
// for a session, the role and the session too. Which direction to resolve
// an incomplete list is AWS's for Deny (the Deny still applies) and Trent's
// for Allow, where AWS advises against NotPrincipal altogether: the Allow
// applies only to callers none of whose identities is listed. Both choices
// deny more, never less.
func (s *statement) matchPrincipal(p *Principal) (Via, bool) {
	ps := s.princ
	if ps == nil {
		return ViaNone, true
	}
	session := p.Type == PrincipalAssumedRole
	arnListed := p.Type != PrincipalRoot && slices.Contains(ps.arns, p.ARN)
	roleListed := session && p.RoleARN != "" && slices.Contains(ps.roles, p.RoleARN)
	accountListed := ps.matchAccount(p)
	wildcard := ViaPrincipal
	if session {
		wildcard = ViaRole
	}
	if s.notP {
		if ps.any {
			return ViaNone, false
		}
		all := accountListed && (p.Type == PrincipalRoot || arnListed) && (!session || roleListed)
		none := !accountListed && !arnListed && !roleListed
		if s.deny {
			return ViaNone, !all
		}
		return wildcard, none
	}
	switch {
	case arnListed:
		return ViaPrincipal, true
	case ps.any:
		return wildcard, true
	case roleListed:
		return ViaRole, true
	case accountListed:
		return ViaAccount, true
	}
	return ViaNone, false
}

func (ps *principalSet) matchAccount(p *Principal) bool {
	if p.Account == "" {
		return false
	}
	for _, a := range ps.accounts {
		if a.id == p.Account && (a.partition == "" || a.partition == arnPartition(p.ARN)) {
			return true
		}
	}
	return false
}

// arnPartition returns the partition field of an ARN, or "".
func arnPartition(s string) string {
	rest, ok := strings.CutPrefix(s, "arn:")
	if !ok {
		return ""
	}
	part, _, _ := strings.Cut(rest, ":")
	return part
}
