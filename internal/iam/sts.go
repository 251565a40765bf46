package iam

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsquery"
	"github.com/trent-kms/trent/internal/identity"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/store"
)

// The STS operations.

const (
	minSessionDuration      = 900
	defaultRoleSession      = 3600
	maxRoleSession          = 43200
	chainedRoleSessionLimit = 3600
	defaultUserSession      = 43200
	maxUserSession          = 129600
	maxRootSession          = 3600
	maxSessionPolicyARNs    = 10
	maxSessionPolicyLength  = 2048

	// packedBudget is the allotted space of a session's policies and
	// tags: the session policy without whitespace, the policy ARNs and
	// the tag keys and values, in bytes. AWS packs and compresses these
	// into a binary form of undisclosed size and reports the share used
	// as PackedPolicySize; Trent does not compress, and picks a budget
	// that holds a full 2048-character session policy with ten policy
	// ARNs and a few dozen short tags.
	packedBudget = 4096
)

// STS messages; "recorded" ones are AWS's in shared/reference/aws-recorded.
const (
	msgSessionWithSession  = "Cannot call GetSessionToken with session credentials"
	msgRootAssumeRole      = "Roles may not be assumed by root accounts."
	msgExceedsMaxSession   = "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
	msgExceedsChainLimit   = "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
	msgTransitiveNotInTags = "The specified transitive tag key must be included in the requested tags."                                                       // recorded
	msgTransitiveConflict  = "One of the specified transitive tag keys can't be set because it conflicts with a transitive tag key from the calling session." // recorded
	msgPackedTooLarge      = "Packed policy consumes %d%% of allotted space, please use smaller policy for the session."
	msgMFA                 = "MultiFactorAuthentication failed, unable to validate MFA code. Please verify your MFA serial number is valid and associated with this user."
	msgNoSuchSessionPolicy = "The policy %s does not exist or is not attachable."
	msgInvalidKeyID        = "The access key ID is not valid."
	msgSourceIdentityFixed = "The source identity of the calling session cannot be changed."
)

func (s *Service) getCallerIdentity(_ context.Context, r *Request, _ *awsquery.GetCallerIdentityInput) (*awsquery.GetCallerIdentityOutput, error) {
	p := r.Caller.Principal
	return &awsquery.GetCallerIdentityOutput{UserId: p.UserID, Account: p.Account, Arn: p.ARN}, nil
}

func (s *Service) getAccessKeyInfo(ctx context.Context, _ *Request, in *awsquery.GetAccessKeyInfoInput) (*awsquery.GetAccessKeyInfoOutput, error) {
	c := stsChecker()
	c.str("accessKeyId", in.AccessKeyId, 16, 128, `[\w]*`, func(s string) bool { return all(s, isWord) })
	if err := c.err(); err != nil {
		return nil, err
	}
	id := *in.AccessKeyId
	k, err := s.st.GetAccessKey(ctx, id)
	switch {
	case err == nil:
		return &awsquery.GetAccessKeyInfoOutput{Account: k.Account}, nil
	case !isNotFound(err):
		return nil, internal("get access key", err)
	}
	// Not stored: a temporary key, or a key of no one. AWS answers the
	// account encoded in any id of the current format without checking
	// that the key exists, and so does Trent.
	if strings.HasPrefix(id, prefixLongTerm) || strings.HasPrefix(id, prefixTemporary) {
		if account, ok := accountOfAccessKeyID(id); ok {
			return &awsquery.GetAccessKeyInfoOutput{Account: account}, nil
		}
	}
	return nil, iamErr(awsquery.InvalidParameterValue, msgInvalidKeyID)
}

func (s *Service) getSessionToken(ctx context.Context, r *Request, in *awsquery.GetSessionTokenInput) (*awsquery.GetSessionTokenOutput, error) {
	c := stsChecker()
	c.intRange("durationSeconds", in.DurationSeconds, minSessionDuration, maxUserSession)
	checkMFAInput(c, in.SerialNumber, in.TokenCode)
	if err := c.err(); err != nil {
		return nil, err
	}
	caller := r.Caller
	if caller.Session != nil || caller.Principal.Type != policy.PrincipalRoot && caller.Principal.Type != policy.PrincipalIAMUser {
		return nil, iamErr(awsquery.AccessDenied, msgSessionWithSession)
	}
	if in.SerialNumber != nil || in.TokenCode != nil {
		// Trent has no MFA devices, so no code can be validated.
		return nil, iamErr(awsquery.AccessDenied, msgMFA)
	}
	d := defaultUserSession
	if in.DurationSeconds != nil {
		d = int(*in.DurationSeconds)
	}
	p := caller.Principal
	if p.Type == policy.PrincipalRoot {
		// The root's sessions last at most an hour; AWS shortens a longer
		// request rather than refusing it (STS API Reference).
		d = min(d, maxRootSession)
	}
	now := s.now()
	sess := &session{
		AccessKeyID: newAccessKeyID(prefixTemporary, p.Account), Secret: newSecret(), Account: p.Account,
		Type: p.Type, Issued: now.Unix(), Expires: now.Add(time.Duration(d) * time.Second).Unix(),
	}
	if p.Type == policy.PrincipalIAMUser {
		sess.UserName, sess.UserID = p.Username, p.UserID
	}
	token, err := sealSession(s.root, sess)
	if err != nil {
		return nil, internal("seal session", err)
	}
	return &awsquery.GetSessionTokenOutput{Credentials: credentials(sess, token)}, nil
}

func credentials(sess *session, token string) awsquery.Credentials {
	return awsquery.Credentials{AccessKeyId: sess.AccessKeyID, SecretAccessKey: sess.Secret, SessionToken: token, Expiration: sess.expires()}
}

func checkMFAInput(c *checker, serial, code *string) {
	c.str("serialNumber", serial, 9, 256, `[\w+=/:,.@-]*`, func(s string) bool {
		return all(s, func(r rune) bool { return isWord(r) || strings.ContainsRune("+=/:,.@-", r) })
	})
	c.str("tokenCode", code, 6, 6, `[\d]*`, func(s string) bool {
		return all(s, func(r rune) bool { return r >= '0' && r <= '9' })
	})
}

func (s *Service) assumeRole(ctx context.Context, r *Request, in *awsquery.AssumeRoleInput) (*awsquery.AssumeRoleOutput, error) {
	c := stsChecker()
	c.arn("roleArn", in.RoleArn)
	c.str("roleSessionName", in.RoleSessionName, 2, 64, patSessionName, validSessionName)
	c.listLength("policyArns", len(in.PolicyArns), maxSessionPolicyARNs)
	for i, pa := range in.PolicyArns {
		c.arn(fmt.Sprintf("policyArns.%d.member.arn", i+1), pa.Arn)
	}
	c.str("policy", in.Policy, 1, maxSessionPolicyLength, patDocument, validDocumentChars)
	c.intRange("durationSeconds", in.DurationSeconds, minSessionDuration, maxRoleSession)
	c.tags("tags", in.Tags)
	c.listLength("transitiveTagKeys", len(in.TransitiveTagKeys), maxTags)
	for i := range in.TransitiveTagKeys {
		c.str(fmt.Sprintf("transitiveTagKeys.%d.member", i+1), &in.TransitiveTagKeys[i], 1, 128, patTagKey, validTagKey)
	}
	c.str("externalId", in.ExternalId, 2, 1224, patExternalID, validExternalID)
	checkMFAInput(c, in.SerialNumber, in.TokenCode)
	c.str("sourceIdentity", in.SourceIdentity, 2, 64, patSessionName, validSessionName)
	if err := c.err(); err != nil {
		return nil, err
	}
	roleArn, name := *in.RoleArn, *in.RoleSessionName
	if _, ok := parseARN(roleArn); !ok {
		return nil, iamErr(awsquery.ValidationError, "%s is invalid", clip(roleArn)) // recorded
	}
	caller := r.Caller
	if caller.Principal.Type == policy.PrincipalRoot {
		return nil, iamErr(awsquery.AccessDenied, msgRootAssumeRole)
	}
	if in.SerialNumber != nil || in.TokenCode != nil {
		return nil, iamErr(awsquery.AccessDenied, msgMFA)
	}
	tags, transitive, err := sessionTags(caller, in.Tags, in.TransitiveTagKeys)
	if err != nil {
		return nil, err
	}
	sourceIdentity := str(in.SourceIdentity)
	if caller.Session != nil && caller.Session.SourceIdentity != "" {
		// A source identity, once set, stays for the chain (IAM User Guide,
		// "Monitor and control actions taken with assumed roles").
		if sourceIdentity != "" && sourceIdentity != caller.Session.SourceIdentity {
			return nil, iamErr(awsquery.ValidationError, msgSourceIdentityFixed)
		}
		sourceIdentity = caller.Session.SourceIdentity
	}

	denied := iamErr(awsquery.AccessDenied, "User: %s is not authorized to perform: sts:AssumeRole on resource: %s",
		caller.Principal.ARN, roleArn)
	role, ok, err := s.roleFromARN(ctx, roleArn)
	if err != nil {
		return nil, err
	}
	if !ok {
		// AWS does not say whether the role exists.
		return nil, denied
	}
	allowed, err := s.trustAllows(r, role, in, tags, transitive, sourceIdentity)
	if err != nil {
		return nil, err
	}
	if !allowed {
		return nil, denied
	}

	d := defaultRoleSession
	if in.DurationSeconds != nil {
		d = int(*in.DurationSeconds)
	}
	chained := caller.Principal.Type == policy.PrincipalAssumedRole
	switch {
	case chained && d > chainedRoleSessionLimit:
		return nil, iamErr(awsquery.ValidationError, msgExceedsChainLimit)
	case d > role.MaxSessionDuration:
		return nil, iamErr(awsquery.ValidationError, msgExceedsMaxSession)
	}

	var policyARNs []string
	for _, pa := range in.PolicyArns {
		arn := str(pa.Arn)
		if err := checkPolicyARN(&arn); err != nil {
			return nil, err
		}
		if _, err := s.st.GetPolicy(ctx, role.Account, arn); err != nil {
			return nil, errMap{notFound: iamErr(awsquery.InvalidParameterValue, msgNoSuchSessionPolicy, arn)}.wrap("get session policy", err)
		}
		policyARNs = append(policyARNs, arn)
	}
	if in.Policy != nil {
		if _, err := policy.ParseIdentity(*in.Policy); err != nil {
			return nil, err
		}
	}

	packed := 0
	if in.Policy != nil {
		packed += nonWhitespaceLen(*in.Policy)
	}
	for _, a := range policyARNs {
		packed += len(a)
	}
	for _, t := range tags {
		packed += len(t[0]) + len(t[1])
	}
	pct := (packed*100 + packedBudget - 1) / packedBudget
	if packed > packedBudget {
		return nil, iamErr(awsquery.PackedPolicyTooLarge, msgPackedTooLarge, pct)
	}

	now := s.now()
	sess := &session{
		AccessKeyID: newAccessKeyID(prefixTemporary, role.Account), Secret: newSecret(), Account: role.Account,
		Type: policy.PrincipalAssumedRole, RoleARN: role.ARN, RoleID: role.ID, Name: name,
		Issued: now.Unix(), Expires: now.Add(time.Duration(d) * time.Second).Unix(),
		Policy: str(in.Policy), PolicyARNs: policyARNs, Tags: tags, Transitive: transitive,
		SourceIdentity: sourceIdentity,
	}
	token, err := sealSession(s.root, sess)
	if errors.Is(err, errTokenTooLarge) {
		return nil, iamErr(awsquery.PackedPolicyTooLarge, msgPackedTooLarge, max(pct, 101))
	}
	if err != nil {
		return nil, internal("seal session", err)
	}
	out := &awsquery.AssumeRoleOutput{
		Credentials: credentials(sess, token),
		AssumedRoleUser: awsquery.AssumedRoleUser{
			AssumedRoleId: role.ID + ":" + name,
			Arn:           AssumedRoleARN(role.Account, role.Name, name),
		},
		SourceIdentity: sourceIdentity,
	}
	// AWS reports the packed size only when the request carried session
	// policies or tags (recorded: a plain AssumeRole has none of the three).
	if in.Policy != nil || len(policyARNs) > 0 || len(tags) > 0 {
		size := int32(len(token))
		use := int32(min(100, len(token)*100/maxSessionTokenLength))
		pp := int32(pct)
		out.PackedPolicySize, out.SessionTokenSize, out.SessionTokenUtilization = &pp, &size, &use
	}
	return out, nil
}

// sessionTags combines the tags a role session gets: the transitive tags
// of the calling session (role chaining) and the request's tags, with the
// transitive keys of both.
func sessionTags(caller *identity.Caller, in []awsquery.Tag, transitiveIn []string) (tags [][2]string, transitive []string, err error) {
	req, err := requestTags(in, awsquery.InvalidParameterValue)
	if err != nil {
		return nil, nil, err
	}
	for _, k := range transitiveIn {
		found := false
		for _, t := range req {
			if strings.EqualFold(t.Key, k) {
				found = true
				break
			}
		}
		if !found {
			return nil, nil, iamErr(awsquery.InvalidParameterValue, msgTransitiveNotInTags)
		}
	}
	if caller.Session != nil {
		for _, k := range caller.Session.TransitiveTagKeys {
			for _, t := range req {
				if strings.EqualFold(t.Key, k) {
					return nil, nil, iamErr(awsquery.InvalidParameterValue, msgTransitiveConflict)
				}
			}
			v, _ := caller.Tag(k)
			tags = append(tags, [2]string{k, v})
			transitive = append(transitive, k)
		}
	}
	for _, t := range req {
		tags = append(tags, [2]string{t.Key, t.Value})
	}
	transitive = append(transitive, transitiveIn...)
	if len(tags) > maxTags {
		return nil, nil, iamErr(awsquery.LimitExceeded, msgTooManyTags)
	}
	return tags, transitive, nil
}

// trustAllows evaluates the role's trust policy, a resource policy on the
// role, for the caller's sts:AssumeRole and, when the request sets them,
// sts:TagSession and sts:SetSourceIdentity (IAM User Guide, "Passing
// session tags in AWS STS" and "Monitor and control actions taken with
// assumed roles"). Whether the caller's own identity policies allow
// sts:AssumeRole is the authorization layer's question, asked before this.
func (s *Service) trustAllows(r *Request, role store.Role, in *awsquery.AssumeRoleInput, tags [][2]string, transitive []string, sourceIdentity string) (bool, error) {
	trust, err := compileTrust(role.AssumeRolePolicy)
	if err != nil {
		// The policy was validated when stored: fail closed, and say so.
		s.log.Error("iam: stored trust policy does not compile", "role", role.ARN, "err", apierr.ForLog(err))
		return false, nil
	}
	req := policy.Request{Principal: r.Caller.Principal, Resource: role.ARN}
	ctx := &req.Context
	ctx.Time = s.clock.Now()
	for _, t := range r.Caller.Tags {
		ctx.Set("aws:PrincipalTag/"+t.Key, t.Value)
	}
	// The session's tags as the request passes them: its own and, when
	// chaining roles, the transitive ones of the calling session.
	if len(tags) > 0 {
		keys := make([]string, 0, len(tags))
		for _, t := range tags {
			ctx.Set("aws:RequestTag/"+t[0], t[1])
			keys = append(keys, t[0])
		}
		ctx.SetMulti("aws:TagKeys", keys)
	}
	if len(in.TransitiveTagKeys) > 0 {
		ctx.SetMulti("sts:TransitiveTagKeys", in.TransitiveTagKeys)
	}
	if in.ExternalId != nil {
		ctx.Set("sts:ExternalId", *in.ExternalId)
	}
	ctx.Set("sts:RoleSessionName", *in.RoleSessionName)
	if sourceIdentity != "" {
		ctx.Set("sts:SourceIdentity", sourceIdentity)
	}
	if r.SourceIP != "" {
		ctx.Set("aws:SourceIp", r.SourceIP)
	}
	if r.Region != "" {
		ctx.Set("aws:RequestedRegion", r.Region)
	}
	if sess := r.Caller.Session; sess != nil {
		// Temporary credentials without MFA; long-term keys leave the key
		// absent (IAM User Guide, aws:MultiFactorAuthPresent).
		ctx.Set("aws:MultiFactorAuthPresent", "false")
		ctx.Set("aws:TokenIssueTime", sess.Issued.UTC().Format(time.RFC3339))
	}

	actions := []string{"sts:AssumeRole"}
	if len(tags) > 0 {
		actions = append(actions, "sts:TagSession")
	}
	if in.SourceIdentity != nil {
		actions = append(actions, "sts:SetSourceIdentity")
	}
	for _, a := range actions {
		req.Action = a
		if trust.Evaluate(&req).Effect != policy.Allow {
			return false, nil
		}
	}
	return true, nil
}

// compileTrust compiles a trust policy for evaluation. Its statements have
// no Resource, which the evaluator would read as matching nothing: they
// apply to the role they belong to, so they get "*".
func compileTrust(doc string) (*policy.Compiled, error) {
	d, err := policy.Parse(doc)
	if err != nil {
		return nil, err
	}
	for i := range d.Statements {
		st := &d.Statements[i]
		if st.Resource == nil && st.NotResource == nil {
			st.Resource = []string{"*"}
		}
	}
	return policy.Compile(d)
}
