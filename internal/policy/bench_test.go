package policy

import "testing"

// benchKeyPolicy is a ten-statement key policy of the kind AWS's guides
// build up: account delegation, administrators, users with an encryption
// context condition, grants for AWS resources, use through a service,
// and Denies on transport, network, deletion window and time.
const benchKeyPolicy = `{
  "Version": "2012-10-17",
  "Id": "bench",
  "Statement": [
    {"Sid": "EnableIAM", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
    {"Sid": "Admins", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/KeyAdmin"},
     "Action": ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"],
     "Resource": "*"},
    {"Sid": "Users", "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:role/App"]},
     "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"], "Resource": "*",
     "Condition": {"StringEquals": {"kms:EncryptionContext:Department": ["IT", "Finance"]}, "Bool": {"aws:SecureTransport": "true"}}},
    {"Sid": "Grants", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/App"},
     "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"], "Resource": "*",
     "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}},
    {"Sid": "ViaEBS", "Effect": "Allow", "Principal": {"AWS": "*"},
     "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"], "Resource": "*",
     "Condition": {"StringEquals": {"kms:CallerAccount": "111122223333", "kms:ViaService": "ec2.us-east-1.amazonaws.com"}}},
    {"Sid": "DenyInsecure", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    {"Sid": "DenyOutside", "Effect": "Deny", "Principal": "*", "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*"], "Resource": "*",
     "Condition": {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32"]}, "StringNotEqualsIfExists": {"kms:ViaService": "ec2.us-east-1.amazonaws.com"}}},
    {"Sid": "DenyShortWindow", "Effect": "Deny", "Principal": "*", "Action": "kms:ScheduleKeyDeletion", "Resource": "*",
     "Condition": {"NumericLessThan": {"kms:ScheduleKeyDeletionPendingWindowInDays": 30}}},
    {"Sid": "Temporary", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/Contractor"}, "Action": "kms:Decrypt", "Resource": "*",
     "Condition": {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}, "ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": ["Project", "Department"]}}},
    {"Sid": "Apps", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["kms:Encrypt", "kms:GenerateDataKey"], "Resource": "*",
     "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/app-*"}, "StringLike": {"kms:RequestAlias": "alias/app-*"}}}
  ]
}`

// benchRequest builds the Encrypt request the authz layer would: the
// caller, the key, and the condition keys KMS sets for Encrypt.
func benchRequest(r *Request) {
	r.Principal = alice()
	r.Action = "kms:Encrypt"
	r.Resource = keyARN
	r.Context.Time = reqTime
	r.Context.Set("kms:calleraccount", acct)
	r.Context.Set("kms:encryptionalgorithm", "SYMMETRIC_DEFAULT")
	r.Context.Set("aws:securetransport", "true")
	r.Context.Set("aws:sourceip", "192.0.2.10")
	r.Context.Set("kms:EncryptionContext:Department", "IT")
	r.Context.SetMulti("kms:encryptioncontextkeys", []string{"Department"})
}

func BenchmarkEvaluateKeyPolicy10(b *testing.B) {
	c := compileKey(b, benchKeyPolicy)
	var req Request
	benchRequest(&req)
	if got := c.Evaluate(&req); got.Effect != Allow || got.Sid != "Users" {
		b.Fatalf("bench request: %+v", got)
	}
	b.ReportAllocs()
	for b.Loop() {
		c.Evaluate(&req)
	}
}

// BenchmarkDecideEncrypt is the whole per-request cost: build the context,
// then decide with the key policy and two identity policies.
func BenchmarkDecideEncrypt(b *testing.B) {
	ps := Policies{
		Resource: compileKey(b, benchKeyPolicy),
		Identity: []*Compiled{
			compileIdentity(b, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt"],"Resource":"arn:aws:kms:*:111122223333:key/*"}]}`),
			compileIdentity(b, `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"kms:*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"}}}]}`),
		},
	}
	var req Request
	req.Context.Grow(8)
	b.ReportAllocs()
	for b.Loop() {
		req.Context.Reset()
		benchRequest(&req)
		if d := Decide(&ps, &req); !d.Allowed {
			b.Fatal(d.Reason)
		}
	}
}
