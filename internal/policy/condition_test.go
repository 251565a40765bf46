package policy

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

const (
	acct     = "111122223333"
	other    = "444455556666"
	keyARN   = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	aliceARN = "arn:aws:iam::111122223333:user/alice"
	roleARN  = "arn:aws:iam::111122223333:role/ops/Admin"
	sessARN  = "arn:aws:sts::111122223333:assumed-role/Admin/alice-session"
)

var reqTime = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func alice() Principal {
	return Principal{ARN: aliceARN, Account: acct, Type: PrincipalIAMUser, UserID: "AIDAEXAMPLEALICE", Username: "alice"}
}

func adminSession() Principal {
	return Principal{ARN: sessARN, Account: acct, Type: PrincipalAssumedRole, UserID: "AROAEXAMPLEADMIN:alice-session", RoleARN: roleARN}
}

func rootOf(account string) Principal {
	return Principal{ARN: "arn:aws:iam::" + account + ":root", Account: account, Type: PrincipalRoot, UserID: account}
}

func userOf(account, name string) Principal {
	return Principal{ARN: "arn:aws:iam::" + account + ":user/" + name, Account: account, Type: PrincipalIAMUser, UserID: "AIDA" + name, Username: name}
}

// kv is one context key for a test: single-valued unless multi.
type kv struct {
	key   string
	vals  []string
	multi bool
}

func one(key, v string) kv                { return kv{key: key, vals: []string{v}} }
func multi(key string, vals ...string) kv { return kv{key: key, vals: vals, multi: true} }
func newRequest(p Principal, kvs ...kv) *Request {
	r := &Request{Principal: p, Action: "kms:Encrypt", Resource: keyARN}
	r.Context.Time = reqTime
	for _, e := range kvs {
		if e.multi {
			r.Context.SetMulti(e.key, e.vals)
		} else {
			r.Context.Set(e.key, e.vals[0])
		}
	}
	return r
}

// identityWith is an identity policy allowing everything under cond.
func identityWith(version, cond string) string {
	v := ""
	if version != "" {
		v = `"Version":"` + version + `",`
	}
	return `{` + v + `"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":` + cond + `}]}`
}

func compileIdentity(t testing.TB, doc string) *Compiled {
	t.Helper()
	d, err := ParseIdentity(doc)
	if err != nil {
		t.Fatalf("ParseIdentity: %v\n%s", err, doc)
	}
	c, err := Compile(d)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func compileKey(t testing.TB, doc string) *Compiled {
	t.Helper()
	d, err := Parse(doc)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, doc)
	}
	c, err := Compile(d)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConditions(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name    string
		cond    string
		p       Principal // zero: alice
		ctx     []kv
		noTime  bool   // leave Context.Time zero
		version string // "" means 2012-10-17; "none" means no Version
		want    bool
	}{
		// String operators.
		{name: "StringEquals match", cond: `{"StringEquals":{"kms:CallerAccount":"111122223333"}}`, ctx: []kv{one("kms:CallerAccount", acct)}, want: true},
		{name: "StringEquals is case-sensitive", cond: `{"StringEquals":{"aws:ResourceTag/Env":"Prod"}}`, ctx: []kv{one("aws:ResourceTag/Env", "prod")}, want: false},
		{name: "StringEquals absent key", cond: `{"StringEquals":{"kms:ViaService":"ec2.us-east-1.amazonaws.com"}}`, want: false},
		{name: "StringEquals values are OR'd", cond: `{"StringEquals":{"kms:ViaService":["rds.us-east-1.amazonaws.com","ec2.us-east-1.amazonaws.com"]}}`, ctx: []kv{one("kms:ViaService", "ec2.us-east-1.amazonaws.com")}, want: true},
		{name: "StringEquals has no wildcards", cond: `{"StringEquals":{"kms:ViaService":"*"}}`, ctx: []kv{one("kms:ViaService", "ec2.us-east-1.amazonaws.com")}, want: false},
		{name: "StringNotEquals absent key is true", cond: `{"StringNotEquals":{"kms:ViaService":"ec2.us-east-1.amazonaws.com"}}`, want: true},
		{name: "StringNotEquals different", cond: `{"StringNotEquals":{"kms:CallerAccount":"111122223333"}}`, ctx: []kv{one("kms:CallerAccount", other)}, want: true},
		{name: "StringNotEquals equal", cond: `{"StringNotEquals":{"kms:CallerAccount":"111122223333"}}`, ctx: []kv{one("kms:CallerAccount", acct)}, want: false},
		{name: "StringNotEquals values are NOR'd", cond: `{"StringNotEquals":{"aws:PrincipalTag/role":["audit","security"]}}`, ctx: []kv{one("aws:PrincipalTag/role", "security")}, want: false},
		{name: "StringNotEquals none of the values", cond: `{"StringNotEquals":{"aws:PrincipalTag/role":["audit","security"]}}`, ctx: []kv{one("aws:PrincipalTag/role", "dev")}, want: true},
		{name: "StringEqualsIgnoreCase", cond: `{"StringEqualsIgnoreCase":{"aws:ResourceTag/Env":"PROD"}}`, ctx: []kv{one("aws:ResourceTag/Env", "prod")}, want: true},
		{name: "StringNotEqualsIgnoreCase same but case", cond: `{"StringNotEqualsIgnoreCase":{"aws:ResourceTag/Env":"PROD"}}`, ctx: []kv{one("aws:ResourceTag/Env", "Prod")}, want: false},
		{name: "StringLike star", cond: `{"StringLike":{"kms:RequestAlias":"alias/prod-*"}}`, ctx: []kv{one("kms:RequestAlias", "alias/prod-db")}, want: true},
		{name: "StringLike question mark", cond: `{"StringLike":{"kms:RequestAlias":"alias/db?"}}`, ctx: []kv{one("kms:RequestAlias", "alias/db1")}, want: true},
		{name: "StringLike question mark is one character", cond: `{"StringLike":{"kms:RequestAlias":"alias/db?"}}`, ctx: []kv{one("kms:RequestAlias", "alias/db12")}, want: false},
		{name: "StringLike question mark is one rune", cond: `{"StringLike":{"aws:ResourceTag/Owner":"Jos?"}}`, ctx: []kv{one("aws:ResourceTag/Owner", "José")}, want: true},
		{name: "StringLike no match", cond: `{"StringLike":{"kms:RequestAlias":"alias/prod-*"}}`, ctx: []kv{one("kms:RequestAlias", "alias/test-db")}, want: false},
		{name: "StringLike is case-sensitive", cond: `{"StringLike":{"kms:RequestAlias":"alias/Prod*"}}`, ctx: []kv{one("kms:RequestAlias", "alias/prod")}, want: false},
		{name: "StringLike empty value matches empty", cond: `{"StringLike":{"s3:prefix":["","home/"]}}`, ctx: []kv{one("s3:prefix", "")}, want: true},
		{name: "StringLike backslash is an ordinary character", cond: `{"StringLike":{"x:y":"a\\*"}}`, ctx: []kv{one("x:y", `a\bc`)}, want: true},
		{name: "StringLike backslash does not escape", cond: `{"StringLike":{"x:y":"a\\*"}}`, ctx: []kv{one("x:y", "a*")}, want: false},
		{name: "StringNotLike match", cond: `{"StringNotLike":{"kms:RequestAlias":"alias/prod-*"}}`, ctx: []kv{one("kms:RequestAlias", "alias/prod-db")}, want: false},
		{name: "StringNotLike absent key is true", cond: `{"StringNotLike":{"kms:RequestAlias":"alias/prod-*"}}`, want: true},
		{name: "StringEqualsIfExists absent", cond: `{"StringEqualsIfExists":{"kms:ViaService":"ec2.us-east-1.amazonaws.com"}}`, want: true},
		{name: "StringEqualsIfExists present mismatch", cond: `{"StringEqualsIfExists":{"kms:ViaService":"ec2.us-east-1.amazonaws.com"}}`, ctx: []kv{one("kms:ViaService", "rds.us-east-1.amazonaws.com")}, want: false},
		{name: "StringNotEqualsIfExists absent", cond: `{"StringNotEqualsIfExists":{"kms:ViaService":"ec2.us-east-1.amazonaws.com"}}`, want: true},
		{name: "keys under one operator are AND'd", cond: `{"StringEquals":{"kms:CallerAccount":"111122223333","kms:ViaService":"ec2.us-east-1.amazonaws.com"}}`, ctx: []kv{one("kms:CallerAccount", acct)}, want: false},
		{name: "keys under one operator all hold", cond: `{"StringEquals":{"kms:CallerAccount":"111122223333","kms:ViaService":"ec2.us-east-1.amazonaws.com"}}`, ctx: []kv{one("kms:CallerAccount", acct), one("kms:ViaService", "ec2.us-east-1.amazonaws.com")}, want: true},
		{name: "operators are AND'd", cond: `{"StringEquals":{"kms:CallerAccount":"111122223333"},"Bool":{"aws:SecureTransport":"true"}}`, ctx: []kv{one("kms:CallerAccount", acct), one("aws:SecureTransport", "false")}, want: false},
		{name: "key names are case-insensitive", cond: `{"StringEquals":{"KMS:CALLERaccount":"111122223333"}}`, ctx: []kv{one("kms:calleraccount", acct)}, want: true},
		{name: "encryption context key name is case-insensitive", cond: `{"StringEquals":{"kms:EncryptionContext:Department":"IT"}}`, ctx: []kv{one("kms:EncryptionContext:department", "IT")}, want: true},
		{name: "encryption context value is case-sensitive", cond: `{"StringEquals":{"kms:EncryptionContext:Department":"IT"}}`, ctx: []kv{one("kms:EncryptionContext:Department", "it")}, want: false},
		{name: "encryption context key with colons", cond: `{"ArnLike":{"kms:EncryptionContext:aws:logs:arn":"arn:aws:logs:us-east-1:111122223333:*"}}`, ctx: []kv{one("kms:EncryptionContext:aws:logs:arn", "arn:aws:logs:us-east-1:111122223333:log-group:app")}, want: true},
		{name: "tag key is case-insensitive", cond: `{"StringEquals":{"aws:ResourceTag/project":"Alpha"}}`, ctx: []kv{one("aws:ResourceTag/Project", "Alpha")}, want: true},
		{name: "non-ASCII tag key folds", cond: `{"StringEquals":{"aws:ResourceTag/ÉQUIPE":"a"}}`, ctx: []kv{one("aws:ResourceTag/équipe", "a")}, want: true},

		// Numeric operators.
		{name: "NumericEquals across forms", cond: `{"NumericEquals":{"kms:RotationPeriodInDays":"365"}}`, ctx: []kv{one("kms:RotationPeriodInDays", "365.0")}, want: true},
		{name: "NumericEquals JSON number with exponent", cond: `{"NumericEquals":{"kms:RotationPeriodInDays":1e3}}`, ctx: []kv{one("kms:RotationPeriodInDays", "1000")}, want: true},
		{name: "NumericLessThan", cond: `{"NumericLessThan":{"kms:ScheduleKeyDeletionPendingWindowInDays":30}}`, ctx: []kv{one("kms:ScheduleKeyDeletionPendingWindowInDays", "7")}, want: true},
		{name: "NumericLessThan equal", cond: `{"NumericLessThan":{"kms:ScheduleKeyDeletionPendingWindowInDays":30}}`, ctx: []kv{one("kms:ScheduleKeyDeletionPendingWindowInDays", "30")}, want: false},
		{name: "NumericLessThanEquals equal", cond: `{"NumericLessThanEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":30}}`, ctx: []kv{one("kms:ScheduleKeyDeletionPendingWindowInDays", "30")}, want: true},
		{name: "NumericGreaterThan", cond: `{"NumericGreaterThan":{"kms:RotationPeriodInDays":90}}`, ctx: []kv{one("kms:RotationPeriodInDays", "90")}, want: false},
		{name: "NumericGreaterThanEquals", cond: `{"NumericGreaterThanEquals":{"kms:RotationPeriodInDays":90}}`, ctx: []kv{one("kms:RotationPeriodInDays", "90")}, want: true},
		{name: "NumericGreaterThan negative decimals", cond: `{"NumericGreaterThan":{"x:n":"-1.5"}}`, ctx: []kv{one("x:n", "-1.25")}, want: true},
		{name: "NumericNotEquals different", cond: `{"NumericNotEquals":{"kms:RotationPeriodInDays":[90,180]}}`, ctx: []kv{one("kms:RotationPeriodInDays", "365")}, want: true},
		{name: "NumericNotEquals one of the values", cond: `{"NumericNotEquals":{"kms:RotationPeriodInDays":[90,180]}}`, ctx: []kv{one("kms:RotationPeriodInDays", "180")}, want: false},
		{name: "NumericNotEquals absent key is true", cond: `{"NumericNotEquals":{"kms:RotationPeriodInDays":90}}`, want: true},
		{name: "Numeric malformed request value", cond: `{"NumericLessThan":{"kms:RotationPeriodInDays":90}}`, ctx: []kv{one("kms:RotationPeriodInDays", "ninety")}, want: false},
		{name: "NumericNotEquals malformed request value is not true", cond: `{"NumericNotEquals":{"kms:RotationPeriodInDays":90}}`, ctx: []kv{one("kms:RotationPeriodInDays", "ninety")}, want: false},
		{name: "Numeric malformed policy value", cond: `{"NumericLessThan":{"kms:RotationPeriodInDays":"ninety"}}`, ctx: []kv{one("kms:RotationPeriodInDays", "7")}, want: false},
		{name: "Numeric hex is not a number", cond: `{"NumericEquals":{"x:n":"0x10"}}`, ctx: []kv{one("x:n", "16")}, want: false},
		{name: "Numeric NaN is not a number", cond: `{"NumericNotEquals":{"x:n":"NaN"}}`, ctx: []kv{one("x:n", "1")}, want: false},
		{name: "NumericLessThanIfExists absent", cond: `{"NumericLessThanIfExists":{"x:n":5}}`, want: true},

		// Date operators.
		{name: "DateLessThan current time", cond: `{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}`, want: true},
		{name: "DateGreaterThan current time", cond: `{"DateGreaterThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}`, want: false},
		{name: "DateEquals instant across zones", cond: `{"DateEquals":{"aws:CurrentTime":"2024-05-01T14:00:00+02:00"}}`, want: true},
		{name: "DateEquals fraction of a second", cond: `{"DateEquals":{"aws:CurrentTime":"2024-05-01T12:00:00.000Z"}}`, want: true},
		{name: "DateGreaterThanEquals date only", cond: `{"DateGreaterThanEquals":{"aws:CurrentTime":"2024-05-01"}}`, want: true},
		{name: "DateLessThanEquals year only", cond: `{"DateLessThanEquals":{"aws:CurrentTime":"2024"}}`, want: false},
		{name: "DateLessThan minutes without seconds", cond: `{"DateLessThan":{"aws:CurrentTime":"2024-05-01T12:01Z"}}`, want: true},
		{name: "DateLessThan epoch policy value", cond: `{"DateLessThan":{"aws:CurrentTime":"1714564801"}}`, want: true},
		{name: "DateEquals epoch time key", cond: `{"DateEquals":{"aws:EpochTime":"2024-05-01T12:00:00Z"}}`, want: true},
		{name: "NumericGreaterThan epoch time key", cond: `{"NumericGreaterThan":{"aws:EpochTime":1714564799}}`, want: true},
		{name: "StringLike current time as text", cond: `{"StringLike":{"aws:CurrentTime":"2024-05-01T*"}}`, want: true},
		{name: "StringEquals epoch time as text", cond: `{"StringEquals":{"aws:EpochTime":"1714564800"}}`, want: true},
		{name: "current time absent without a clock", cond: `{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}`, noTime: true, want: false},
		{name: "DateNotEquals absent is true", cond: `{"DateNotEquals":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}`, noTime: true, want: true},
		{name: "explicit current time wins", cond: `{"DateGreaterThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}`, ctx: []kv{one("aws:CurrentTime", "2031-01-01T00:00:00Z")}, want: true},
		{name: "Date key from the context", cond: `{"DateGreaterThan":{"aws:TokenIssueTime":"2024-01-01T00:00:00Z"}}`, ctx: []kv{one("aws:TokenIssueTime", "2024-04-30T08:00:00Z")}, want: true},
		{name: "Date malformed policy value", cond: `{"DateLessThan":{"aws:CurrentTime":"next year"}}`, want: false},
		{name: "Date malformed request value", cond: `{"DateNotEquals":{"aws:TokenIssueTime":"2024-01-01T00:00:00Z"}}`, ctx: []kv{one("aws:TokenIssueTime", "yesterday")}, want: false},

		// Bool.
		{name: "Bool true", cond: `{"Bool":{"aws:SecureTransport":"true"}}`, ctx: []kv{one("aws:SecureTransport", "true")}, want: true},
		{name: "Bool JSON boolean", cond: `{"Bool":{"aws:SecureTransport":false}}`, ctx: []kv{one("aws:SecureTransport", "true")}, want: false},
		{name: "Bool request value case", cond: `{"Bool":{"kms:GrantIsForAWSResource":"true"}}`, ctx: []kv{one("kms:GrantIsForAWSResource", "TRUE")}, want: true},
		{name: "Bool malformed request value", cond: `{"Bool":{"aws:SecureTransport":"true"}}`, ctx: []kv{one("aws:SecureTransport", "yes")}, want: false},
		{name: "Bool absent", cond: `{"Bool":{"aws:MultiFactorAuthPresent":"false"}}`, want: false},
		{name: "BoolIfExists absent", cond: `{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}`, want: true},

		// Binary.
		{name: "BinaryEquals", cond: `{"BinaryEquals":{"x:blob":"` + b64("\x00\x01binary") + `"}}`, ctx: []kv{one("x:blob", "\x00\x01binary")}, want: true},
		{name: "BinaryEquals mismatch", cond: `{"BinaryEquals":{"x:blob":"` + b64("abc") + `"}}`, ctx: []kv{one("x:blob", "abd")}, want: false},
		{name: "BinaryEquals malformed base64", cond: `{"BinaryEquals":{"x:blob":"not base64!"}}`, ctx: []kv{one("x:blob", "abc")}, want: false},

		// IP address.
		{name: "IpAddress in IPv4 block", cond: `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, ctx: []kv{one("aws:SourceIp", "203.0.113.77")}, want: true},
		{name: "IpAddress outside", cond: `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, ctx: []kv{one("aws:SourceIp", "198.51.100.7")}, want: false},
		{name: "IpAddress IPv6 block", cond: `{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:DB8:1234:5678::/64"]}}`, ctx: []kv{one("aws:SourceIp", "2001:db8:1234:5678::9")}, want: true},
		{name: "IpAddress lone address is /32", cond: `{"IpAddress":{"aws:SourceIp":"203.0.113.5"}}`, ctx: []kv{one("aws:SourceIp", "203.0.113.6")}, want: false},
		{name: "IpAddress unmasked block", cond: `{"IpAddress":{"aws:SourceIp":"203.0.113.9/24"}}`, ctx: []kv{one("aws:SourceIp", "203.0.113.200")}, want: true},
		{name: "IpAddress IPv4-mapped request", cond: `{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}`, ctx: []kv{one("aws:SourceIp", "::ffff:192.0.2.5")}, want: true},
		{name: "IpAddress IPv4 block does not hold IPv6", cond: `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, ctx: []kv{one("aws:SourceIp", "2001:db8::1")}, want: false},
		{name: "NotIpAddress outside", cond: `{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, ctx: []kv{one("aws:SourceIp", "198.51.100.7")}, want: true},
		{name: "NotIpAddress absent is true", cond: `{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, want: true},
		{name: "IpAddress malformed request", cond: `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, ctx: []kv{one("aws:SourceIp", "localhost")}, want: false},
		{name: "NotIpAddress malformed request is not true", cond: `{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, ctx: []kv{one("aws:SourceIp", "localhost")}, want: false},
		{name: "IpAddress malformed policy block", cond: `{"IpAddress":{"aws:SourceIp":"203.0.113.0/33"}}`, ctx: []kv{one("aws:SourceIp", "203.0.113.1")}, want: false},

		// ARN operators.
		{name: "ArnLike wildcard region", cond: `{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:111122223333:topic"}}`, ctx: []kv{one("aws:SourceArn", "arn:aws:sns:eu-west-1:111122223333:topic")}, want: true},
		{name: "ArnLike star stays in its field", cond: `{"ArnLike":{"aws:SourceArn":"arn:aws:someservice:*:111122223333:finance/*"}}`, ctx: []kv{one("aws:SourceArn", "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt")}, want: false},
		{name: "StringLike star crosses fields", cond: `{"StringLike":{"aws:SourceArn":"arn:aws:someservice:*:111122223333:finance/*"}}`, ctx: []kv{one("aws:SourceArn", "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt")}, want: true},
		{name: "ArnEquals exact", cond: `{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:111122223333:topic"}}`, ctx: []kv{one("aws:SourceArn", "arn:aws:sns:us-east-1:111122223333:topic")}, want: true},
		{name: "ArnEquals is case-sensitive", cond: `{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:111122223333:Topic"}}`, ctx: []kv{one("aws:SourceArn", "arn:aws:sns:us-east-1:111122223333:topic")}, want: false},
		{name: "ArnLike resource field keeps colons", cond: `{"ArnLike":{"aws:SourceArn":"arn:aws:logs:us-east-1:111122223333:log-group:*"}}`, ctx: []kv{one("aws:SourceArn", "arn:aws:logs:us-east-1:111122223333:log-group:app:log-stream:x")}, want: true},
		{name: "ArnNotEquals different", cond: `{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/Other"}}`, want: true},
		{name: "ArnNotLike absent is true", cond: `{"ArnNotLike":{"aws:SourceArn":"arn:aws:sns:*:*:*"}}`, want: true},
		{name: "ArnLike request value not an ARN", cond: `{"ArnLike":{"aws:SourceArn":"arn:*:*:*:*:*"}}`, ctx: []kv{one("aws:SourceArn", "topic")}, want: false},
		{name: "ArnLike principal ARN of a session is the role", cond: `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/ops/*"}}`, p: adminSession(), want: true},

		// Null.
		{name: "Null true on absent key", cond: `{"Null":{"aws:TokenIssueTime":"true"}}`, want: true},
		{name: "Null true on present key", cond: `{"Null":{"aws:TokenIssueTime":"true"}}`, ctx: []kv{one("aws:TokenIssueTime", "2024-05-01T00:00:00Z")}, want: false},
		{name: "Null false on present key", cond: `{"Null":{"kms:EncryptionContextKeys":false}}`, ctx: []kv{multi("kms:EncryptionContextKeys", "Dept")}, want: true},
		{name: "Null false on absent key", cond: `{"Null":{"kms:EncryptionContextKeys":"false"}}`, want: false},
		{name: "Null true on empty multivalued key", cond: `{"Null":{"aws:TagKeys":"true"}}`, ctx: []kv{multi("aws:TagKeys")}, want: true},
		{name: "Null malformed value", cond: `{"Null":{"aws:TagKeys":"maybe"}}`, want: false},
		{name: "Null on a derived key", cond: `{"Null":{"aws:username":"false"}}`, want: true},

		// Set operators.
		{name: "ForAnyValue one matches", cond: `{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":["Dept","Project"]}}`, ctx: []kv{multi("kms:EncryptionContextKeys", "Owner", "Project")}, want: true},
		{name: "ForAnyValue none matches", cond: `{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":["Dept","Project"]}}`, ctx: []kv{multi("kms:EncryptionContextKeys", "Owner")}, want: false},
		{name: "ForAnyValue absent key is false", cond: `{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"Dept"}}`, want: false},
		{name: "ForAnyValue empty key is false", cond: `{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"Dept"}}`, ctx: []kv{multi("kms:EncryptionContextKeys")}, want: false},
		{name: "ForAnyValue IfExists absent", cond: `{"ForAnyValue:StringEqualsIfExists":{"kms:EncryptionContextKeys":"Dept"}}`, want: true},
		{name: "ForAllValues all match", cond: `{"ForAllValues:StringLike":{"aws:TagKeys":["Created*","Owner"]}}`, ctx: []kv{multi("aws:TagKeys", "CreatedBy", "CreatedAt", "Owner")}, want: true},
		{name: "ForAllValues one does not", cond: `{"ForAllValues:StringLike":{"aws:TagKeys":["Created*","Owner"]}}`, ctx: []kv{multi("aws:TagKeys", "CreatedBy", "Cost")}, want: false},
		{name: "ForAllValues absent key is true", cond: `{"ForAllValues:StringEquals":{"aws:TagKeys":"Owner"}}`, want: true},
		{name: "ForAllValues empty key is true", cond: `{"ForAllValues:StringEquals":{"aws:TagKeys":"Owner"}}`, ctx: []kv{multi("aws:TagKeys")}, want: true},
		{name: "ForAllValues StringNotLike all outside", cond: `{"ForAllValues:StringNotLike":{"aws:TagKeys":"key1*"}}`, ctx: []kv{multi("aws:TagKeys", "key2:audit")}, want: true},
		{name: "ForAllValues StringNotLike one inside", cond: `{"ForAllValues:StringNotLike":{"aws:TagKeys":"key1*"}}`, ctx: []kv{multi("aws:TagKeys", "key1:hr", "key2:audit")}, want: false},
		{name: "ForAllValues StringNotLike absent is true", cond: `{"ForAllValues:StringNotLike":{"aws:TagKeys":"key1*"}}`, want: true},
		{name: "ForAnyValue StringNotEquals some outside", cond: `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["a","b"]}}`, ctx: []kv{multi("aws:TagKeys", "a", "c")}, want: true},
		{name: "ForAnyValue StringNotEquals all inside", cond: `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["a","b"]}}`, ctx: []kv{multi("aws:TagKeys", "a", "b")}, want: false},
		{name: "ForAllValues on a single-valued key", cond: `{"ForAllValues:StringEquals":{"kms:CallerAccount":["111122223333","444455556666"]}}`, ctx: []kv{one("kms:CallerAccount", acct)}, want: true},
		{name: "multivalued key under a plain operator", cond: `{"StringEquals":{"kms:GrantOperations":"Decrypt"}}`, ctx: []kv{multi("kms:GrantOperations", "Encrypt", "Decrypt")}, want: true},
		{name: "multivalued key under a negated operator", cond: `{"StringNotEquals":{"kms:GrantOperations":"Decrypt"}}`, ctx: []kv{multi("kms:GrantOperations", "Encrypt", "Decrypt")}, want: false},
		{name: "IfExists on a present empty key checks it", cond: `{"StringEqualsIfExists":{"aws:TagKeys":"Owner"}}`, ctx: []kv{multi("aws:TagKeys")}, want: false},
		{name: "negated IfExists on a present empty key", cond: `{"StringNotEqualsIfExists":{"aws:TagKeys":"Owner"}}`, ctx: []kv{multi("aws:TagKeys")}, want: true},

		// Policy variables.
		{name: "variable aws:username", cond: `{"StringEquals":{"s3:prefix":"${aws:username}"}}`, ctx: []kv{one("s3:prefix", "alice")}, want: true},
		{name: "variable inside a pattern", cond: `{"StringLike":{"s3:prefix":"home/${aws:username}/*"}}`, ctx: []kv{one("s3:prefix", "home/alice/docs")}, want: true},
		{name: "variable of another user", cond: `{"StringLike":{"s3:prefix":"home/${aws:username}/*"}}`, ctx: []kv{one("s3:prefix", "home/bob/docs")}, want: false},
		{name: "variable key is case-insensitive", cond: `{"StringEquals":{"aws:ResourceTag/team":"${AWS:PrincipalTag/Team}"}}`, ctx: []kv{one("aws:ResourceTag/Team", "blue"), one("aws:PrincipalTag/team", "blue")}, want: true},
		{name: "variable default", cond: `{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team, 'company-wide'}"}}`, ctx: []kv{one("aws:ResourceTag/team", "company-wide")}, want: true},
		{name: "variable default unused", cond: `{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team, 'company-wide'}"}}`, ctx: []kv{one("aws:ResourceTag/team", "company-wide"), one("aws:PrincipalTag/team", "red")}, want: false},
		{name: "unresolved variable matches nothing", cond: `{"StringEquals":{"s3:prefix":["${aws:username}","shared"]}}`, p: adminSession(), ctx: []kv{one("s3:prefix", "shared")}, want: true},
		{name: "unresolved variable alone", cond: `{"StringLike":{"s3:prefix":"${aws:username}*"}}`, p: adminSession(), ctx: []kv{one("s3:prefix", "x")}, want: false},
		{name: "unresolved variable under a negated operator", cond: `{"StringNotEquals":{"s3:prefix":"${aws:username}"}}`, p: adminSession(), ctx: []kv{one("s3:prefix", "x")}, want: false},
		{name: "multivalued key is no variable", cond: `{"StringEquals":{"x:y":"${aws:TagKeys}"}}`, ctx: []kv{one("x:y", "a"), multi("aws:TagKeys", "a")}, want: false},
		{name: "special variable star is literal", cond: `{"StringLike":{"x:y":"a${*}"}}`, ctx: []kv{one("x:y", "a*")}, want: true},
		{name: "special variable star matches only a star", cond: `{"StringLike":{"x:y":"a${*}"}}`, ctx: []kv{one("x:y", "ab")}, want: false},
		{name: "special variables question mark and dollar", cond: `{"StringEquals":{"x:y":"${?}${$}"}}`, ctx: []kv{one("x:y", "?$")}, want: true},
		{name: "substituted value is literal in a pattern", cond: `{"StringLike":{"x:y":"${x:z}"}}`, ctx: []kv{one("x:y", "abc"), one("x:z", "a*")}, want: false},
		{name: "variables are literal before 2012-10-17", cond: `{"StringEquals":{"x:y":"${aws:username}"}}`, version: Version2008, ctx: []kv{one("x:y", "${aws:username}")}, want: true},
		{name: "variables are literal without a Version", cond: `{"StringEquals":{"x:y":"${aws:username}"}}`, version: "none", ctx: []kv{one("x:y", "alice")}, want: false},
		{name: "no variables in Numeric", cond: `{"NumericEquals":{"x:n":"${x:m}"}}`, ctx: []kv{one("x:n", "1"), one("x:m", "1")}, want: false},
		{name: "variable in ArnLike", cond: `{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:${aws:PrincipalAccount}:*"}}`, ctx: []kv{one("aws:SourceArn", "arn:aws:sns:us-east-1:111122223333:t")}, want: true},
		{name: "variable in Bool", cond: `{"Bool":{"x:flag":"${x:want}"}}`, ctx: []kv{one("x:flag", "true"), one("x:want", "true")}, want: true},
		{name: "unterminated variable is literal", cond: `{"StringEquals":{"x:y":"${aws:username"}}`, ctx: []kv{one("x:y", "${aws:username")}, want: true},
		{name: "variable aws:userid of a session", cond: `{"StringLike":{"x:y":"${aws:userid}"}}`, p: adminSession(), ctx: []kv{one("x:y", "AROAEXAMPLEADMIN:alice-session")}, want: true},
		{name: "variable aws:PrincipalType", cond: `{"StringEquals":{"x:y":"${aws:PrincipalType}"}}`, p: rootOf(acct), ctx: []kv{one("x:y", "Account")}, want: true},
		{name: "variable aws:CurrentTime", cond: `{"StringEquals":{"x:y":"${aws:CurrentTime}"}}`, ctx: []kv{one("x:y", "2024-05-01T12:00:00Z")}, want: true},

		// Derived keys.
		{name: "aws:username absent for a session", cond: `{"Null":{"aws:username":"true"}}`, p: adminSession(), want: true},
		{name: "aws:PrincipalArn of a user", cond: `{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/alice"}}`, want: true},
		{name: "aws:PrincipalAccount", cond: `{"StringEquals":{"aws:PrincipalAccount":"111122223333"}}`, want: true},
		{name: "aws:PrincipalType of a user", cond: `{"StringEquals":{"aws:PrincipalType":"User"}}`, want: true},
		{name: "set key wins over derived", cond: `{"StringEquals":{"aws:username":"mallory"}}`, ctx: []kv{one("aws:username", "mallory")}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			version := Version2012
			switch tt.version {
			case "":
			case "none":
				version = ""
			default:
				version = tt.version
			}
			c := compileIdentity(t, identityWith(version, tt.cond))
			p := tt.p
			if p == (Principal{}) {
				p = alice()
			}
			req := newRequest(p, tt.ctx...)
			if tt.noTime {
				req.Context.Time = time.Time{}
			}
			got := c.Evaluate(req)
			if (got.Effect == Allow) != tt.want {
				t.Fatalf("Evaluate = %v, want condition %v", got.Effect, tt.want)
			}
			if again := c.Evaluate(req); again != got {
				t.Fatalf("second evaluation differs: %+v then %+v", got, again)
			}
		})
	}
	if len(tests) < 100 {
		t.Errorf("only %d condition cases", len(tests))
	}
}

func TestCompileRejectsWhatParseWould(t *testing.T) {
	bad := []*Document{
		{Statements: []Statement{{Effect: "allow", Action: []string{"*"}, Resource: []string{"*"}}}},
		{Statements: []Statement{{Effect: "Allow", Action: []string{"*"}, Resource: []string{"*"}, Condition: map[string]map[string][]string{"StringEqual": {"a:b": {"c"}}}}}},
		{Statements: []Statement{{Effect: "Allow", Action: []string{"*"}, Resource: []string{"*"}, Condition: map[string]map[string][]string{"NullIfExists": {"a:b": {"true"}}}}}},
		{Statements: []Statement{{Effect: "Allow", Principal: map[string][]string{"User": {"x"}}, Action: []string{"*"}, Resource: []string{"*"}}}},
		{Statements: []Statement{{Effect: "Allow", Principal: map[string][]string{"AWS": {"alice"}}, Action: []string{"*"}, Resource: []string{"*"}}}},
	}
	for i, d := range bad {
		if _, err := Compile(d); err == nil {
			t.Errorf("document %d compiled", i)
		} else if !strings.HasPrefix(err.Error(), "policy: ") {
			t.Errorf("document %d: error %q", i, err)
		}
	}
}
