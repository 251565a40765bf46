package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	trentkms "github.com/trent-kms/trent/internal/kms"
	"github.com/trent-kms/trent/internal/seal"
	"github.com/trent-kms/trent/internal/store/sqlite"
	"github.com/trent-kms/trent/internal/testenv"
)

// The at-rest tests look at a data directory the way someone who copied it
// would: every byte of every file. They recover the secrets independently
// of the server — unsealing the root key with the dev seal key file and
// unwrapping every stored backing key and access-key secret, as
// internal/app and internal/kms do — and check that none of them, nor any
// plaintext a client sent, is in those bytes.

// atRestWorkload makes keys, rotations, ciphertexts and data keys through
// the API and returns the plaintexts the server saw, and the marker put in
// every key's description (stored in plaintext by design).
func atRestWorkload(t *testing.T, c *kms.Client) (plaintexts [][]byte, marker string) {
	t.Helper()
	ctx := t.Context()
	marker = "atrest-marker-" + rand.Text()
	for i := range 3 {
		ck, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String(fmt.Sprintf("%s %d", marker, i))})
		if err != nil {
			t.Fatalf("CreateKey: %v", err)
		}
		id := ck.KeyMetadata.KeyId
		for range i { // key i is rotated i times
			if _, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: id}); err != nil {
				t.Fatalf("RotateKeyOnDemand: %v", err)
			}
		}
		pt := make([]byte, 64)
		rand.Read(pt)
		if _, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: pt}); err != nil {
			t.Fatalf("Encrypt: %v", err)
		}
		dk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: id, NumberOfBytes: aws.Int32(32)})
		if err != nil {
			t.Fatalf("GenerateDataKey: %v", err)
		}
		plaintexts = append(plaintexts, pt, dk.Plaintext)
	}
	return plaintexts, marker
}

// snapshotDir reads every regular file under dir.
func snapshotDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files[rel] = b
		return nil
	})
	if err != nil {
		t.Fatalf("read data dir: %v", err)
	}
	return files
}

// storedSecrets opens the data directory's store and returns, unwrapped,
// the root key, every backing key version, and every access-key secret,
// plus one wrapped backing key as it is stored.
type storedSecrets struct {
	root        []byte
	backingKeys map[string][]byte // "key id v1" → material
	accessKeys  map[string][]byte // access key id → secret
	wrapped     []byte
}

func readStoredSecrets(t *testing.T, dir string) storedSecrets {
	t.Helper()
	return readStoredSecretsWith(t, dir, func(_ func(string) []byte, sealed []byte) ([]byte, error) {
		kf, err := seal.OpenKeyFile(filepath.Join(dir, "dev-seal.key"))
		if err != nil {
			t.Fatalf("open dev seal key: %v", err)
		}
		return kf.Unseal(sealed)
	})
}

// readStoredSecretsWith is readStoredSecrets for any seal: unseal opens the
// sealed root key, reading other settings through setting if it needs.
func readStoredSecretsWith(t *testing.T, dir string, unseal func(setting func(string) []byte, sealed []byte) ([]byte, error)) storedSecrets {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(dir, "trent.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	defer st.Close()
	setting := func(name string) []byte {
		v, err := st.GetSetting(ctx, name)
		if err != nil {
			t.Fatalf("setting %s: %v", name, err)
		}
		return v
	}
	raw, err := unseal(setting, setting("seal.root"))
	if err != nil {
		t.Fatalf("unseal root key: %v", err)
	}
	s := storedSecrets{root: bytes.Clone(raw), backingKeys: map[string][]byte{}, accessKeys: map[string][]byte{}}
	// An installation whose root key was rotated wraps with its
	// generation (internal/app/rootkey.go).
	var gen uint32
	if g, err := st.GetSetting(ctx, "seal.root.generation"); err == nil && len(g) == 4 {
		gen = binary.BigEndian.Uint32(g)
	}
	root, err := seal.NewRootKeyGeneration(raw, gen)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Destroy()

	// Every stored backing key of every account and region (multi-Region
	// replicas included), as root-key rotation walks them.
	afterKey, afterVersion := "", uint32(0)
	for {
		vs, err := st.WrappedKeyVersions(ctx, afterKey, afterVersion, 256)
		if err != nil {
			t.Fatalf("WrappedKeyVersions: %v", err)
		}
		if len(vs) == 0 {
			break
		}
		for _, v := range vs {
			material, err := root.Unwrap(v.Wrapped, trentkms.BackingKeyAAD(v.Region, v.Account, v.KeyID, v.Version))
			if err != nil {
				t.Fatalf("unwrap key %s version %d: %v", v.KeyID, v.Version, err)
			}
			if len(material) < 16 {
				t.Fatalf("key %s version %d: %d bytes of material", v.KeyID, v.Version, len(material))
			}
			s.backingKeys[fmt.Sprintf("key %s v%d", v.KeyID, v.Version)] = material
			s.wrapped = v.Wrapped
		}
		afterKey, afterVersion = vs[len(vs)-1].KeyID, vs[len(vs)-1].Version
	}
	aks, err := st.ListAccessKeys(ctx)
	if err != nil {
		t.Fatalf("ListAccessKeys: %v", err)
	}
	for _, ak := range aks {
		// The binding internal/iam gives a wrapped secret.
		secret, err := root.Unwrap(ak.WrappedSecret, []byte("trent/access-key/"+ak.ID))
		if err != nil {
			t.Fatalf("unwrap access key %s: %v", ak.ID, err)
		}
		s.accessKeys[ak.ID] = secret
	}
	return s
}

// encodings returns the forms a secret might be written in by mistake.
func encodings(b []byte) map[string][]byte {
	return map[string][]byte{
		"raw":        b,
		"hex":        []byte(hex.EncodeToString(b)),
		"HEX":        []byte(strings.ToUpper(hex.EncodeToString(b))),
		"base64":     []byte(base64.StdEncoding.EncodeToString(b)),
		"base64 raw": []byte(base64.RawStdEncoding.EncodeToString(b)),
		"base64 url": []byte(base64.RawURLEncoding.EncodeToString(b)),
	}
}

// checkNothingAtRest scans the snapshot for every secret and fails the test
// on any hit. It also checks that the scan can see what is stored: the
// marker (plaintext by design) and a wrapped key (binary) must be found.
func checkNothingAtRest(t *testing.T, files map[string][]byte, s storedSecrets, plaintexts [][]byte, marker string, wantBackingKeys, wantAccessKeys int) {
	t.Helper()
	if len(s.backingKeys) != wantBackingKeys {
		t.Fatalf("%d backing keys in the store, want %d", len(s.backingKeys), wantBackingKeys)
	}
	if len(s.accessKeys) < wantAccessKeys {
		t.Fatalf("%d access keys in the store, want at least %d", len(s.accessKeys), wantAccessKeys)
	}
	needles := map[string][]byte{}
	add := func(name string, secret []byte) {
		for enc, b := range encodings(secret) {
			needles[name+" ("+enc+")"] = b
		}
		// Any half of a raw secret is as bad as all of it.
		if len(secret) >= 32 {
			for i := 0; i+16 <= len(secret); i++ {
				needles[fmt.Sprintf("%s (raw bytes %d-%d)", name, i, i+16)] = secret[i : i+16]
			}
		}
	}
	add("root key", s.root)
	for name, m := range s.backingKeys {
		add("backing "+name, m)
	}
	for id, secret := range s.accessKeys {
		add("secret of access key "+id, secret) // the ASCII secret
		if b, err := base64.StdEncoding.DecodeString(string(secret)); err == nil && len(b) >= 16 {
			add("decoded secret of access key "+id, b) // and its bytes
		}
	}
	for i, pt := range plaintexts {
		add(fmt.Sprintf("plaintext %d", i), pt)
	}

	var total int
	for name, b := range files {
		total += len(b)
		for what, needle := range needles {
			if i := bytes.Index(b, needle); i >= 0 {
				t.Errorf("%s found in %s at offset %d", what, name, i)
			}
		}
	}
	t.Logf("scanned %d files, %d bytes, for %d needles", len(files), total, len(needles))

	found := func(needle []byte) bool {
		for _, b := range files {
			if bytes.Contains(b, needle) {
				return true
			}
		}
		return false
	}
	if !found([]byte(marker)) {
		t.Errorf("the key description %q is not in the data dir: the scan sees nothing", marker)
	}
	if !found(s.wrapped) {
		t.Errorf("a wrapped backing key is not in the data dir: the scan does not see binary values")
	}
}

// TestNothingPlaintextAtRestAfterClose serves a data directory in-process,
// closes it cleanly (the store checkpoints its WAL) and scans it.
func TestNothingPlaintextAtRestAfterClose(t *testing.T) {
	testenv.SkipOnPostgres(t, "scans the SQLite file and its WAL in the data dir for plaintext")
	dir := t.TempDir()
	env := testenv.Start(t, testenv.WithDataDir(dir))
	if _, _, err := env.App.Directory.CreateAccessKey(t.Context(), env.Account); err != nil {
		t.Fatalf("CreateAccessKey: %v", err)
	}
	plaintexts, marker := atRestWorkload(t, env.KMS)
	// An IAM user's access key and a role session's secret and token:
	// the first is stored wrapped, the others never.
	userID, userSecret, sessionSecret, sessionToken := atRestIdentities(t, env)
	plaintexts = append(plaintexts, []byte(sessionSecret), []byte(sessionToken))
	env.Close()

	files := snapshotDir(t, dir) // before the store is opened again
	s := readStoredSecrets(t, dir)
	if got := s.accessKeys[env.AccessKeyID]; string(got) != env.Secret {
		t.Fatalf("the store's secret of access key %s is not the one the server handed out", env.AccessKeyID)
	}
	if got := s.accessKeys[userID]; string(got) != userSecret {
		t.Fatalf("the store's secret of the IAM user's access key %s is not the one IAM handed out", userID)
	}
	checkNothingAtRest(t, files, s, plaintexts, marker, 3+0+1+2, 3)
}

// atRestIdentities makes an IAM user with an access key, lets it assume a
// role, and returns the user's key and the session's secret and token.
func atRestIdentities(t *testing.T, env *testenv.Env) (userID, userSecret, sessionSecret, sessionToken string) {
	t.Helper()
	defer catch(t)
	ctx := t.Context()
	admin := iamClient(env, env.AccessKeyID, env.Secret)
	must(admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("atrest")}))
	must(admin.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("atrest"), PolicyName: aws.String("p"),
		PolicyDocument: aws.String(policyDoc(`{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}`))}))
	k := must(admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("atrest")}))
	must(admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("atrest"),
		AssumeRolePolicyDocument: aws.String(policyDoc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + env.Account + `:root"},"Action":"sts:AssumeRole"}`))}))
	out := must(stsClient(env, *k.AccessKey.AccessKeyId, *k.AccessKey.SecretAccessKey, "").AssumeRole(ctx,
		&sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + env.Account + ":role/atrest"), RoleSessionName: aws.String("atrest")}))
	return *k.AccessKey.AccessKeyId, *k.AccessKey.SecretAccessKey, *out.Credentials.SecretAccessKey, *out.Credentials.SessionToken
}

// TestNothingPlaintextAtRestAfterKill runs the binary, kills it with
// SIGKILL — the WAL is not checkpointed, the store not closed — and scans
// what it left.
func TestNothingPlaintextAtRestAfterKill(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // made 0700 by trent
	// No root key in the environment: the dev server makes an access key
	// and prints its secret.
	p := startTrent(t, []string{"TRENT_ROOT_ACCESS_KEY_ID=", "TRENT_ROOT_SECRET_ACCESS_KEY="}, "--data-dir", dir)
	id, secret := printedCredentials(t, p.WaitStderr(t, "AWS_SECRET_ACCESS_KEY="))
	plaintexts, marker := atRestWorkload(t, p.Client(id, secret))
	p.Kill(t)

	files := snapshotDir(t, dir)
	var wal bool
	for name, b := range files {
		if strings.HasSuffix(name, "-wal") && len(b) > 0 {
			wal = true
		}
	}
	if !wal {
		t.Errorf("no WAL left after SIGKILL (files: %v): the test does not see an uncheckpointed store", keysOf(files))
	}
	s := readStoredSecrets(t, dir)
	if got := s.accessKeys[id]; string(got) != secret {
		t.Fatalf("the store's secret of access key %s is not the one the server printed", id)
	}
	checkNothingAtRest(t, files, s, plaintexts, marker, 3+0+1+2, 1)
}

// printedCredentials finds the access key the dev server printed:
// "export AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… AWS_REGION=…".
func printedCredentials(t *testing.T, stderr string) (id, secret string) {
	t.Helper()
	for _, f := range strings.Fields(stderr) {
		if v, ok := strings.CutPrefix(f, "AWS_ACCESS_KEY_ID="); ok {
			id = v
		}
		if v, ok := strings.CutPrefix(f, "AWS_SECRET_ACCESS_KEY="); ok {
			secret = v
		}
	}
	if id == "" || secret == "" {
		t.Fatalf("no credentials in trent's output:\n%s", stderr)
	}
	return id, secret
}

func keysOf(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
