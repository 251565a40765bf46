package iam

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsquery"
	"github.com/trent-kms/trent/internal/identity"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/store"
)

// The policy simulator. It decides with the engine real requests are
// decided with: the principal's policies come from PrincipalPolicies, and
// the decision from policy.DecideIdentity, or policy.Decide when a
// resource policy (a key policy) is given.

// simPolicy is one policy of a simulation with what the answer says of it.
type simPolicy struct {
	compiled *policy.Compiled
	doc      string
	id       string // SourcePolicyId
	typ      string // SourcePolicyType
}

// simulation is everything a simulation decides with.
type simulation struct {
	principal policy.Principal
	tags      []identity.Tag
	identity  []simPolicy
	boundary  *simPolicy
	resource  *simPolicy
	actions   []string
	resources []string
	entries   []awsquery.ContextEntry
}

// Source policy types as the simulator reports them. "IAM Policy" is
// recorded from AWS for a managed policy attached to a user, group or
// role; the others are AWS's documented categories in the same style.
const (
	sourceIAM      = "IAM Policy"
	sourceBoundary = "PermissionsBoundaryPolicy"
	sourceResource = "Resource Policy"
)

func (s *Service) simulatePrincipalPolicy(ctx context.Context, r *Request, in *awsquery.SimulatePrincipalPolicyInput) (*awsquery.SimulatePolicyOutput, error) {
	c := iamChecker()
	c.arn("policySourceArn", in.PolicySourceArn)
	checkSimulationInput(c, in.PolicyInputList, in.PermissionsBoundaryPolicyInputList, in.ActionNames, in.ResourceArns,
		in.ResourcePolicy, in.ResourceOwner, in.CallerArn, in.ResourceHandlingOption, in.ContextEntries, in.Marker, in.MaxItems)
	if err := c.err(); err != nil {
		return nil, err
	}
	sim := &simulation{actions: in.ActionNames, resources: in.ResourceArns, entries: in.ContextEntries}
	if err := s.simulationSource(ctx, r, *in.PolicySourceArn, sim); err != nil {
		return nil, err
	}
	if err := sim.addInputs(in.PolicyInputList, in.PermissionsBoundaryPolicyInputList, in.ResourcePolicy); err != nil {
		return nil, err
	}
	if in.CallerArn != nil {
		sim.principal.ARN = *in.CallerArn
	}
	return s.runSimulation(sim, in.Marker, in.MaxItems)
}

func (s *Service) simulateCustomPolicy(_ context.Context, r *Request, in *awsquery.SimulateCustomPolicyInput) (*awsquery.SimulatePolicyOutput, error) {
	c := iamChecker()
	checkSimulationInput(c, in.PolicyInputList, in.PermissionsBoundaryPolicyInputList, in.ActionNames, in.ResourceArns,
		in.ResourcePolicy, in.ResourceOwner, in.CallerArn, in.ResourceHandlingOption, in.ContextEntries, in.Marker, in.MaxItems)
	if err := c.err(); err != nil {
		return nil, err
	}
	// A custom simulation has no principal of its own: an IAM user of the
	// caller's account, named by CallerArn if given, whose only policies
	// are the ones passed in.
	sim := &simulation{
		principal: policy.Principal{Account: r.account(), Type: policy.PrincipalIAMUser, ARN: str(in.CallerArn)},
		actions:   in.ActionNames, resources: in.ResourceArns, entries: in.ContextEntries,
	}
	if a, ok := parseARN(sim.principal.ARN); ok {
		if _, _, name, ok := iamResource(a.resource); ok && a.service == "iam" {
			sim.principal.Username = name
		}
	}
	if err := sim.addInputs(in.PolicyInputList, in.PermissionsBoundaryPolicyInputList, in.ResourcePolicy); err != nil {
		return nil, err
	}
	return s.runSimulation(sim, in.Marker, in.MaxItems)
}

// checkSimulationInput checks the members both simulations share.
// ResourceOwner and ResourceHandlingOption are checked as the model
// constrains them but do not change a simulation's outcome.
func checkSimulationInput(c *checker, policies, boundaries, actions, resources []string, resourcePolicy, resourceOwner, callerArn, handling *string,
	entries []awsquery.ContextEntry, marker *string, maxItems *int32) {
	for i := range policies {
		c.document(fmt.Sprintf("policyInputList.%d.member", i+1), &policies[i])
	}
	c.listLength("permissionsBoundaryPolicyInputList", len(boundaries), 1)
	for i := range boundaries {
		c.document(fmt.Sprintf("permissionsBoundaryPolicyInputList.%d.member", i+1), &boundaries[i])
	}
	for i := range actions {
		c.length(fmt.Sprintf("actionNames.%d.member", i+1), &actions[i], 3, 128)
	}
	for i := range resources {
		c.length(fmt.Sprintf("resourceArns.%d.member", i+1), &resources[i], 1, 2048)
	}
	c.document("resourcePolicy", resourcePolicy)
	c.length("resourceOwner", resourceOwner, 1, 2048)
	c.length("callerArn", callerArn, 1, 2048)
	c.length("resourceHandlingOption", handling, 1, 64)
	for i, e := range entries {
		at := fmt.Sprintf("contextEntries.%d.member.", i+1)
		c.length(at+"contextKeyName", e.ContextKeyName, 5, 256)
		c.enum(at+"contextKeyType", e.ContextKeyType, "string", "stringList", "numeric", "numericList", "boolean",
			"booleanList", "ip", "ipList", "binary", "binaryList", "date", "dateList")
	}
	c.paging(marker, maxItems)
}

// simulationSource loads the user, group or role PolicySourceArn names:
// its policies, through the same PrincipalPolicies real requests use, and
// its principal.
func (s *Service) simulationSource(ctx context.Context, r *Request, source string, sim *simulation) error {
	a, ok := parseARN(source)
	if !ok || a.service != "iam" || a.account != r.account() {
		return invalidInput("Invalid ARN %s: Could not be parsed!", clip(source))
	}
	typ, _, name, ok := iamResource(a.resource)
	if !ok {
		return invalidInput("Invalid ARN %s: Could not be parsed!", clip(source))
	}
	var (
		caller *identity.Caller
		pp     *PrincipalPolicies
		err    error
	)
	switch typ {
	case "user":
		u, err := s.loadUser(ctx, a.account, name)
		if err != nil {
			return err
		}
		caller = userCaller(u)
	case "role":
		role, err := s.loadRole(ctx, a.account, name)
		if err != nil {
			return err
		}
		caller = &identity.Caller{
			Principal: policy.Principal{ARN: role.ARN, Account: role.Account, Type: policy.PrincipalAssumedRole,
				UserID: role.ID, RoleARN: role.ARN},
			Tags: callerTags(role.Tags),
		}
	case "group":
		// A group is not a principal: its own policies only.
		grp, err := s.loadGroup(ctx, a.account, name)
		if err != nil {
			return err
		}
		g := &gatherer{s: s, pp: &PrincipalPolicies{}}
		if err := g.entity(ctx, store.EntityRef{Kind: store.KindGroup, Account: a.account, Name: grp.Name}, grp.ARN); err != nil {
			return err
		}
		sim.principal = policy.Principal{Account: a.account, Type: policy.PrincipalIAMUser}
		sim.addPrincipalPolicies(g.pp)
		return nil
	default:
		return invalidInput("Invalid ARN %s: Could not be parsed!", clip(source))
	}
	if pp, err = s.PrincipalPolicies(ctx, caller); err != nil {
		return internal("gather policies", err)
	}
	sim.principal, sim.tags = caller.Principal, caller.Tags
	sim.addPrincipalPolicies(pp)
	return nil
}

func (sim *simulation) addPrincipalPolicies(pp *PrincipalPolicies) {
	for i, c := range pp.Identity {
		src := pp.Sources[i]
		sim.identity = append(sim.identity, simPolicy{compiled: c, doc: src.Document, id: src.Name, typ: sourceIAM})
	}
	if pp.Boundary != nil {
		sim.boundary = &simPolicy{compiled: pp.Boundary, id: "PermissionsBoundary", typ: sourceBoundary}
	}
}

// addInputs adds the policies passed in the request: identity policies,
// a boundary that replaces the principal's, a resource policy.
func (sim *simulation) addInputs(policies, boundaries []string, resource *string) error {
	for i, doc := range policies {
		c, err := compileInput(doc)
		if err != nil {
			return err
		}
		sim.identity = append(sim.identity, simPolicy{compiled: c, doc: doc, id: fmt.Sprintf("PolicyInputList.%d", i+1), typ: sourceIAM})
	}
	for i, doc := range boundaries {
		c, err := compileInput(doc)
		if err != nil {
			return err
		}
		sim.boundary = &simPolicy{compiled: c, doc: doc, id: fmt.Sprintf("PermissionsBoundaryPolicyInputList.%d", i+1), typ: sourceBoundary}
	}
	if resource != nil {
		d, err := policy.Parse(*resource)
		if err != nil {
			return invalidInput("%s", apierr.As(err).Message)
		}
		c, err := policy.Compile(d)
		if err != nil {
			return internal("compile resource policy", err)
		}
		sim.resource = &simPolicy{compiled: c, doc: *resource, id: "ResourcePolicy", typ: sourceResource}
	}
	return nil
}

// compileInput compiles a policy given to the simulator. IAM's simulator
// models InvalidInput, not MalformedPolicyDocument, for a bad one.
func compileInput(doc string) (*policy.Compiled, error) {
	d, err := policy.ParseIdentity(doc)
	if err != nil {
		return nil, invalidInput("%s", apierr.As(err).Message)
	}
	c, err := policy.Compile(d)
	if err != nil {
		return nil, internal("compile simulated policy", err)
	}
	return c, nil
}

// context builds the request context of the simulation: the caller's
// principal tags, the time, and the ContextEntries as given.
func (s *Service) simulationContext(sim *simulation) policy.Context {
	var ctx policy.Context
	ctx.Time = s.clock.Now()
	for _, t := range sim.tags {
		ctx.Set("aws:PrincipalTag/"+t.Key, t.Value)
	}
	for _, e := range sim.entries {
		key := str(e.ContextKeyName)
		if strings.HasSuffix(str(e.ContextKeyType), "List") || len(e.ContextKeyValues) != 1 {
			ctx.SetMulti(key, e.ContextKeyValues)
		} else {
			ctx.Set(key, e.ContextKeyValues[0])
		}
	}
	return ctx
}

func (s *Service) runSimulation(sim *simulation, marker *string, maxItems *int32) (*awsquery.SimulatePolicyOutput, error) {
	p, err := newPager(marker, maxItems)
	if err != nil {
		return nil, err
	}
	resources := sim.resources
	perResource := len(resources) > 0
	if !perResource {
		resources = []string{"*"}
	}
	pols := policy.Policies{}
	for _, sp := range sim.identity {
		pols.Identity = append(pols.Identity, sp.compiled)
	}
	if sim.boundary != nil {
		pols.Boundary = sim.boundary.compiled
	}
	if sim.resource != nil {
		pols.Resource = sim.resource.compiled
	}
	var results []awsquery.EvaluationResult
	for _, action := range sim.actions {
		for _, res := range resources {
			req := policy.Request{Principal: sim.principal, Action: action, Resource: res, Context: s.simulationContext(sim)}
			var d policy.Decision
			if sim.resource != nil {
				d = policy.Decide(&pols, &req)
			} else {
				d = policy.DecideIdentity(&pols, &req)
			}
			er := awsquery.EvaluationResult{
				EvalActionName: action, EvalResourceName: res, EvalDecision: evalDecision(d),
				MatchedStatements:           sim.matched(d),
				MissingContextValues:        sim.missing(&req),
				OrganizationsDecisionDetail: &awsquery.OrganizationsDecisionDetail{AllowedByOrganizations: true},
			}
			if sim.boundary != nil {
				er.PermissionsBoundaryDecisionDetail = &awsquery.PermissionsBoundaryDecisionDetail{
					AllowedByPermissionsBoundary: sim.boundary.compiled.Evaluate(&req).Effect == policy.Allow,
				}
			}
			if perResource {
				er.ResourceSpecificResults = []awsquery.ResourceSpecificResult{{
					EvalResourceName: res, EvalResourceDecision: er.EvalDecision,
					MatchedStatements: er.MatchedStatements, MissingContextValues: er.MissingContextValues,
				}}
			}
			results = append(results, er)
		}
	}
	start, end, next, err := p.indexes(len(results))
	if err != nil {
		return nil, err
	}
	return &awsquery.SimulatePolicyOutput{EvaluationResults: results[start:end], IsTruncated: next != "", Marker: next}, nil
}

func evalDecision(d policy.Decision) string {
	switch d.Reason {
	case policy.DeniedByResource, policy.DeniedByIdentity, policy.DeniedByBoundary, policy.DeniedBySession:
		return "explicitDeny"
	}
	if d.Allowed {
		return "allowed"
	}
	return "implicitDeny"
}

// matched names the statement that decided, with its place in its
// policy's text.
func (sim *simulation) matched(d policy.Decision) []awsquery.Statement {
	var sp *simPolicy
	switch d.Reason {
	case policy.AllowedByIdentity, policy.DeniedByIdentity:
		if d.Policy >= 0 && d.Policy < len(sim.identity) {
			sp = &sim.identity[d.Policy]
		}
	case policy.DeniedByBoundary:
		sp = sim.boundary
	case policy.AllowedByResource, policy.DeniedByResource:
		sp = sim.resource
	case policy.AllowedAsRoot:
		if d.Statement.Statement >= 0 {
			sp = sim.resource
		}
	}
	if sp == nil || d.Statement.Statement < 0 {
		return nil
	}
	st := awsquery.Statement{SourcePolicyId: sp.id, SourcePolicyType: sp.typ}
	if ps := statementPositions(sp.doc); d.Statement.Statement < len(ps) {
		p := ps[d.Statement.Statement]
		st.StartPosition, st.EndPosition = &p[0], &p[1]
	}
	return []awsquery.Statement{st}
}

// missing lists the condition keys that statements applying to the
// request's action and resource test, and that the request neither sets
// nor derives: what the simulator calls MissingContextValues.
func (sim *simulation) missing(req *policy.Request) []string {
	var out []string
	seen := map[string]bool{}
	check := func(doc string, parse func(string) (*policy.Document, error)) {
		d, err := parse(doc)
		if err != nil {
			return
		}
		for _, st := range d.Statements {
			if len(st.Condition) == 0 || !appliesIgnoringConditions(d.Version, st, req) {
				continue
			}
			for _, keys := range st.Condition {
				for key := range keys {
					lk := strings.ToLower(key)
					if seen[lk] || derivedKey(lk, req.Principal) {
						continue
					}
					if _, ok := req.Context.Get(key); ok {
						continue
					}
					seen[lk] = true
					out = append(out, key)
				}
			}
		}
	}
	for _, sp := range sim.identity {
		check(sp.doc, policy.ParseIdentity)
	}
	if sim.boundary != nil && sim.boundary.doc != "" {
		check(sim.boundary.doc, policy.ParseIdentity)
	}
	if sim.resource != nil {
		check(sim.resource.doc, policy.Parse)
	}
	slices.Sort(out)
	return out
}

// appliesIgnoringConditions reports whether the statement's action,
// resource and principal match the request, its conditions aside.
func appliesIgnoringConditions(version string, st policy.Statement, req *policy.Request) bool {
	st.Condition = nil
	if st.Effect == "Deny" {
		st.Effect = "Allow" // a lone statement: only whether it applies matters
	}
	c, err := policy.Compile(&policy.Document{Version: version, Statements: []policy.Statement{st}})
	if err != nil {
		return false
	}
	return c.Evaluate(req).Effect != policy.NoMatch
}

// derivedKey reports whether the policy engine derives the key from the
// request itself (policy.Context's documentation).
func derivedKey(lower string, p policy.Principal) bool {
	switch lower {
	case "aws:currenttime", "aws:epochtime", "aws:userid", "aws:principalarn", "aws:principalaccount", "aws:principaltype":
		return true
	case "aws:username":
		return p.Type == policy.PrincipalIAMUser && p.Username != ""
	}
	return false
}

// statementPositions returns, for each statement of a policy document in
// order, where it starts and ends in the text, as AWS's simulator reports
// it: line and column (from 1) just after the statement's opening brace and
// just after its closing brace (recorded from AWS: a statement whose "{"
// is the 40th character of line 1 starts at column 41). Columns count
// bytes. A document that does not parse yields none.
func statementPositions(doc string) [][2]awsquery.Position {
	dec := json.NewDecoder(strings.NewReader(doc))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil
		}
		before := int(dec.InputOffset())
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil
		}
		if key != "Statement" {
			continue
		}
		start := before + skipSeparators(doc[before:])
		switch {
		case bytes.HasPrefix(raw, []byte("{")):
			return [][2]awsquery.Position{{position(doc, start+1), position(doc, int(dec.InputOffset()))}}
		case bytes.HasPrefix(raw, []byte("[")):
			return arrayPositions(doc, start)
		}
		return nil
	}
	return nil
}

// arrayPositions finds the objects of the JSON array that starts at
// doc[start].
func arrayPositions(doc string, start int) [][2]awsquery.Position {
	dec := json.NewDecoder(strings.NewReader(doc[start:]))
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return nil
	}
	var out [][2]awsquery.Position
	for dec.More() {
		before := start + int(dec.InputOffset())
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil
		}
		open := before + skipSeparators(doc[before:])
		out = append(out, [2]awsquery.Position{position(doc, open+1), position(doc, start+int(dec.InputOffset()))})
	}
	return out
}

// skipSeparators counts the whitespace and commas before the next value.
func skipSeparators(s string) int {
	i := 0
	for i < len(s) && strings.IndexByte(" \t\r\n,:", s[i]) >= 0 {
		i++
	}
	return i
}

// position converts a byte offset of doc to a line and column, from 1.
func position(doc string, off int) awsquery.Position {
	off = min(off, len(doc))
	line := 1 + strings.Count(doc[:off], "\n")
	col := off - strings.LastIndexByte(doc[:off], '\n')
	return awsquery.Position{Line: int32(line), Column: int32(col)}
}
