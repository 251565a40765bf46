package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/trent-kms/trent/internal/app"
	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/testenv"
	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

// auditEvents reads every event line of the audit files under dataDir,
// oldest first.
func auditEvents(t *testing.T, dataDir string) []map[string]any {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(app.AuditDir(dataDir), "audit-*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var evs []map[string]any
	for _, f := range files { // the names sort by time
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// The file being written is preallocated: its lines end at the
		// first zero byte (internal/audit/doc.go).
		if i := bytes.IndexByte(b, 0); i >= 0 {
			b = b[:i]
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			m := map[string]any{}
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("%s: a line is not JSON: %v", f, err)
			}
			evs = append(evs, m)
		}
	}
	return evs
}

// auditBytes is everything in the audit directory, for secret scans.
func auditBytes(t *testing.T, dataDir string) []byte {
	t.Helper()
	var all []byte
	err := filepath.WalkDir(app.AuditDir(dataDir), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		all = append(all, b...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return all
}

func field(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

// TestAuditOneEventPerRequest sends allowed, denied, invalid and
// unauthenticated requests to KMS, IAM and STS and finds exactly one event
// for each, in CloudTrail's shape, with what AWS logs and nothing secret.
func TestAuditOneEventPerRequest(t *testing.T) {
	defer catch(t)
	e := testenv.Start(t)
	ctx := context.Background()
	before := len(auditEvents(t, e.DataDir))

	secret := []byte("audit-plaintext-marker-" + strings.Repeat("Q", 24))
	key := must(e.KMS.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("audited")}))
	keyARN := *key.KeyMetadata.Arn
	enc := must(e.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyARN), Plaintext: secret, EncryptionContext: map[string]string{"dept": "audit"}}))
	must(e.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"dept": "audit"}}))
	dk := must(e.KMS.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(keyARN), KeySpec: kmstypes.DataKeySpecAes256}))
	_, err := e.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("00000000-0000-0000-0000-000000000000")})
	if errCode(err) != "NotFoundException" {
		t.Fatalf("DescribeKey of nothing: %v", err)
	}
	status, _, _ := e.Post(t, "ListKeys", []byte(`{}`), false) // unsigned
	if status != 400 {
		t.Fatalf("unsigned ListKeys: %d", status)
	}
	admin := iamClient(e, e.AccessKeyID, e.Secret)
	must(admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("audited")}))
	ak := must(admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("audited")}))
	user := e.Client(*ak.AccessKey.AccessKeyId, *ak.AccessKey.SecretAccessKey)
	if _, err := user.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyARN), Plaintext: secret}); errCode(err) != denied {
		t.Fatalf("user Encrypt: %v", err)
	}
	must(stsClient(e, e.AccessKeyID, e.Secret, "").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	const requests = 10

	evs := auditEvents(t, e.DataDir)[before:]
	if len(evs) != requests {
		names := []string{}
		for _, ev := range evs {
			names = append(names, ev["eventName"].(string))
		}
		t.Fatalf("%d events for %d requests: %v", len(evs), requests, names)
	}
	want := []struct {
		source, name, errorCode, identity string
		readOnly                          bool
	}{
		{"kms.amazonaws.com", "CreateKey", "", "Root", false},
		{"kms.amazonaws.com", "Encrypt", "", "Root", true},         // cryptographic: readOnly, as AWS marks it
		{"kms.amazonaws.com", "Decrypt", "", "Root", true},         // cryptographic: readOnly, as AWS marks it
		{"kms.amazonaws.com", "GenerateDataKey", "", "Root", true}, // cryptographic: readOnly, as AWS marks it
		{"kms.amazonaws.com", "DescribeKey", "NotFoundException", "Root", true},
		{"kms.amazonaws.com", "ListKeys", "MissingAuthenticationTokenException", "Unknown", false},
		{"iam.amazonaws.com", "CreateUser", "", "Root", false},
		{"iam.amazonaws.com", "CreateAccessKey", "", "Root", false},
		{"kms.amazonaws.com", "Encrypt", "AccessDeniedException", "IAMUser", true}, // cryptographic: readOnly, as AWS marks it
		{"sts.amazonaws.com", "GetCallerIdentity", "", "Root", true},
	}
	for i, w := range want {
		ev := evs[i]
		got := []any{ev["eventSource"], ev["eventName"], ev["errorCode"], field(ev, "userIdentity", "type"), ev["readOnly"]}
		errCodeWant := any(nil)
		if w.errorCode != "" {
			errCodeWant = w.errorCode
		}
		exp := []any{w.source, w.name, errCodeWant, w.identity, w.readOnly}
		for j := range got {
			if got[j] != exp[j] {
				t.Errorf("event %d (%s): got %v, want %v", i, w.name, got, exp)
				break
			}
		}
		if ev["eventType"] != "AwsApiCall" || ev["eventVersion"] == nil || ev["eventID"] == nil || ev["requestID"] == nil {
			t.Errorf("event %d lacks CloudTrail's fixed fields: %v", i, ev)
		}
	}
	// What AWS logs of an Encrypt: the key, the context; no plaintext, no
	// response elements.
	encEv := evs[1]
	if field(encEv, "requestParameters", "encryptionContext", "dept") != "audit" || field(encEv, "requestParameters", "keyId") != keyARN {
		t.Errorf("Encrypt requestParameters = %v", encEv["requestParameters"])
	}
	if encEv["responseElements"] != nil {
		t.Errorf("Encrypt responseElements = %v, want null", encEv["responseElements"])
	}
	res, _ := encEv["resources"].([]any)
	if len(res) != 1 || field(res[0].(map[string]any), "ARN") != keyARN || field(res[0].(map[string]any), "type") != "AWS::KMS::Key" {
		t.Errorf("Encrypt resources = %v", encEv["resources"])
	}
	// Decrypt without KeyId names the key the ciphertext named.
	if res, _ := evs[2]["resources"].([]any); len(res) != 1 || field(res[0].(map[string]any), "ARN") != keyARN {
		t.Errorf("Decrypt resources = %v", evs[2]["resources"])
	}
	// CreateKey shows the new key's metadata.
	if field(evs[0], "responseElements", "keyMetadata", "arn") != keyARN {
		t.Errorf("CreateKey responseElements = %v", evs[0]["responseElements"])
	}
	if field(evs[8], "userIdentity", "userName") != "audited" {
		t.Errorf("the denied Encrypt's userIdentity = %v", evs[8]["userIdentity"])
	}

	// No secret in any audit file, in any encoding.
	all := auditBytes(t, e.DataDir)
	for name, s := range map[string][]byte{
		"plaintext":          secret,
		"data key plaintext": dk.Plaintext,
		"user secret":        []byte(*ak.AccessKey.SecretAccessKey),
		"root secret":        []byte(e.Secret),
	} {
		for enc, b := range map[string][]byte{
			"raw": s, "base64": []byte(base64.StdEncoding.EncodeToString(s)), "hex": []byte(hex.EncodeToString(s)),
		} {
			if bytes.Contains(all, b) {
				t.Errorf("the audit files hold the %s (%s)", name, enc)
			}
		}
	}
	if !bytes.Contains(all, []byte(keyARN)) {
		t.Error("the audit files do not hold the key's ARN: the scan sees nothing")
	}
}

// TestAuditSessionSecretsAndVerify: a role session's secret and token
// never reach the log, and `trent audit verify` checks the log a server
// wrote, offline, after it stopped.
func TestAuditSessionSecretsAndVerify(t *testing.T) {
	defer catch(t)
	dir := t.TempDir()
	e := testenv.Start(t, testenv.WithDataDir(dir))
	ctx := context.Background()
	_, _, sessionSecret, sessionToken := atRestIdentities(t, e)
	must(e.KMS.ListKeys(ctx, &kms.ListKeysInput{}))
	e.Close()

	all := auditBytes(t, dir)
	for name, s := range map[string]string{"session secret": sessionSecret, "session token": sessionToken} {
		if bytes.Contains(all, []byte(s)) || bytes.Contains(all, []byte(s[:32])) {
			t.Errorf("the audit files hold the %s", name)
		}
	}
	out, err := testcmd.Command(t, trentBinary(t), "audit", "verify", "--data-dir", dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "verified") {
		t.Fatalf("trent audit verify: %v\n%s", err, out)
	}
	// One edited byte is found.
	files, _ := filepath.Glob(filepath.Join(app.AuditDir(dir), "audit-*.jsonl"))
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte(`"AssumeRole"`))
	if i < 0 {
		t.Fatal("no AssumeRole event")
	}
	b[i+1] = 'a'
	if err := os.WriteFile(files[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := testcmd.Command(t, trentBinary(t), "audit", "verify", "--data-dir", dir).CombinedOutput(); err == nil {
		t.Fatalf("verify passed an edited log:\n%s", out)
	}
}

// failingFS is the real disk whose writes fail while fail is set, as a
// full or broken disk's do.
type failingFS struct {
	audit.OS
	fail *atomic.Bool
}

func (f failingFS) Create(path string) (audit.File, error) {
	file, err := f.OS.Create(path)
	if err != nil {
		return nil, err
	}
	return failingFile{file, f.fail}, nil
}

type failingFile struct {
	audit.File
	fail *atomic.Bool
}

var errDiskFull = errors.New("no space left on device (injected)")

func (f failingFile) Write(p []byte) (int, error) {
	if f.fail.Load() {
		return 0, errDiskFull
	}
	return f.File.Write(p)
}

func (f failingFile) Sync() error {
	if f.fail.Load() {
		return errDiskFull
	}
	return f.File.Sync()
}

// TestAuditFailsClosed: while the log cannot write, requests get a 5xx and
// nothing is performed; when it can again, Trent serves without a restart
// and the log verifies.
func TestAuditFailsClosed(t *testing.T) {
	defer catch(t)
	var fail atomic.Bool
	dir := t.TempDir()
	e := testenv.Start(t, testenv.WithDataDir(dir), testenv.WithAuditFS(failingFS{fail: &fail}))
	ctx := context.Background()
	must(e.KMS.ListKeys(ctx, &kms.ListKeysInput{}))

	fail.Store(true)
	_, err := e.KMS.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("while failing")})
	if code := errCode(err); code != "KMSInternalException" && code != "DependencyTimeoutException" {
		t.Fatalf("CreateKey while the log fails: %v, want a 5xx", err)
	}
	// Refused before anything runs: the key of a second attempt does not
	// exist either.
	_, err = e.KMS.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("while failing 2")})
	if errCode(err) == allowed {
		t.Fatal("CreateKey succeeded while the audit log could not write")
	}
	fail.Store(false)
	var keys *kms.ListKeysOutput
	// The writer retries within a second; up to 30 s on a loaded machine.
	for range 1500 {
		if keys, err = e.KMS.ListKeys(ctx, &kms.ListKeysInput{}); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("the log did not recover: %v", err)
	}
	for _, k := range keys.Keys {
		d := must(e.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId}))
		if *d.KeyMetadata.Description == "while failing 2" {
			t.Error("the second CreateKey ran although the log was refusing requests")
		}
	}
	e.Close()
	if out, err := testcmd.Command(t, trentBinary(t), "audit", "verify", "--data-dir", dir).CombinedOutput(); err != nil {
		t.Fatalf("verify after the failure: %v\n%s", err, out)
	}
}
