package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/trent-kms/trent/internal/seal"
	"github.com/trent-kms/trent/internal/store/sqlite"
	"github.com/trent-kms/trent/internal/testenv"
	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

// The root-key rotation tests run `trent rotate-root` against the real
// binary under load and kill the server with SIGKILL at named steps of
// the rotation (TRENT_TEST_ROTATE_KILL_AT, internal/app/rotate.go): after
// each crash, a restart and a rerun, every ciphertext made before
// decrypts, every access key still signs, and the audit log verifies.

// rotCipher is one acknowledged Encrypt.
type rotCipher struct {
	keyID   string
	pt, ct  []byte
	context map[string]string
	region  string // where to decrypt it; "" for the node's own client
}

type rotFixture struct {
	n       *crashNode
	mu      sync.Mutex
	ciphers []rotCipher
	users   map[string]string // access key id → secret, of IAM users
}

func (f *rotFixture) add(c rotCipher) {
	f.mu.Lock()
	f.ciphers = append(f.ciphers, c)
	f.mu.Unlock()
}

// seed makes keys (some rotated, so several backing versions), ciphertexts
// and IAM users with access keys.
func (f *rotFixture) seed(t *testing.T) {
	ctx := t.Context()
	c := f.n.kms
	for i := range 4 {
		ck, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String(fmt.Sprint("rotate-root ", i))})
		if err != nil {
			t.Fatalf("CreateKey: %v", err)
		}
		for range i % 3 {
			if _, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: ck.KeyMetadata.KeyId}); err != nil {
				t.Fatalf("RotateKeyOnDemand: %v", err)
			}
		}
		if err := f.encrypt(c, *ck.KeyMetadata.KeyId); err != nil {
			t.Fatalf("Encrypt: %v", err)
		}
	}
	ic := f.n.proc.IAM(f.n.id, f.n.secret)
	for i := range 2 {
		name := fmt.Sprint("rotator-", i)
		if _, err := ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		ak, err := ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
		if err != nil {
			t.Fatalf("CreateAccessKey: %v", err)
		}
		f.users[*ak.AccessKey.AccessKeyId] = *ak.AccessKey.SecretAccessKey
	}
}

func (f *rotFixture) encrypt(c *kms.Client, keyID string) error {
	pt := []byte(rand.Text())
	ec := map[string]string{"n": rand.Text()[:6]}
	out, err := c.Encrypt(context.Background(), &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: pt, EncryptionContext: ec})
	if err != nil {
		return err
	}
	f.add(rotCipher{keyID, pt, out.CiphertextBlob, ec, ""})
	return nil
}

// kmsIn is a client of the node in region, signed by the root.
func (f *rotFixture) kmsIn(region string) *kms.Client {
	return kms.NewFromConfig(testenv.Config(f.n.proc.URL, region, f.n.id, f.n.secret, ""))
}

// seedMultiRegionAndImported adds what the rewrap must bind as kms does
// and step over where nothing is stored: a multi-Region key with a
// replica (each member keeps its own wrapped copy of every version, under
// its own ARN), a key with imported material, and one whose imported
// material was deleted (a version row with no wrapped value).
func (f *rotFixture) seedMultiRegionAndImported(t *testing.T) {
	ctx := t.Context()
	c := f.n.kms
	mrk, err := c.CreateKey(ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(true)})
	if err != nil {
		t.Fatalf("CreateKey MultiRegion: %v", err)
	}
	if _, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: mrk.KeyMetadata.KeyId}); err != nil {
		t.Fatalf("RotateKeyOnDemand of the multi-Region key: %v", err)
	}
	if _, err := c.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: mrk.KeyMetadata.KeyId, ReplicaRegion: aws.String("eu-west-1")}); err != nil {
		t.Fatalf("ReplicateKey: %v", err)
	}
	// Made in us-east-1, decrypted in eu-west-1 by the replica's own copy.
	pt := []byte(rand.Text())
	out, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: mrk.KeyMetadata.KeyId, Plaintext: pt})
	if err != nil {
		t.Fatalf("Encrypt with the multi-Region key: %v", err)
	}
	f.add(rotCipher{*mrk.KeyMetadata.KeyId, pt, out.CiphertextBlob, nil, "eu-west-1"})

	for i := range 2 {
		ck, err := c.CreateKey(ctx, &kms.CreateKeyInput{Origin: kmstypes.OriginTypeExternal})
		if err != nil {
			t.Fatalf("CreateKey EXTERNAL: %v", err)
		}
		id := ck.KeyMetadata.KeyId
		p, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: id,
			WrappingAlgorithm: kmstypes.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: kmstypes.WrappingKeySpecRsa2048})
		if err != nil {
			t.Fatalf("GetParametersForImport: %v", err)
		}
		pub, err := x509.ParsePKIXPublicKey(p.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		material := make([]byte, 32)
		rand.Read(material)
		if _, err := c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: id, ImportToken: p.ImportToken,
			EncryptedKeyMaterial: wrapMaterial(t, kmstypes.AlgorithmSpecRsaesOaepSha256, pub.(*rsa.PublicKey), material),
			ExpirationModel:      kmstypes.ExpirationModelTypeKeyMaterialDoesNotExpire}); err != nil {
			t.Fatalf("ImportKeyMaterial: %v", err)
		}
		if i == 0 {
			if err := f.encrypt(c, *id); err != nil {
				t.Fatalf("Encrypt: %v", err)
			}
			continue
		}
		if _, err := c.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: id}); err != nil {
			t.Fatalf("DeleteImportedKeyMaterial: %v", err)
		}
	}
}

// load encrypts, and now and then creates a key (which wraps a new
// backing key while the rotation runs), until stop is closed; what the
// server acknowledged is recorded.
func (f *rotFixture) load(t *testing.T, c *kms.Client, stop chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keyID := ""
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if keyID == "" || i%8 == g {
					ck, err := c.CreateKey(context.Background(), &kms.CreateKeyInput{})
					if err != nil {
						time.Sleep(5 * time.Millisecond) // the server is gone or going
						continue
					}
					keyID = *ck.KeyMetadata.KeyId
				}
				if err := f.encrypt(c, keyID); err != nil {
					time.Sleep(5 * time.Millisecond)
				}
			}
		}()
	}
	return &wg
}

// check decrypts every acknowledged ciphertext and signs with every access
// key.
func (f *rotFixture) check(t *testing.T, when string) {
	t.Helper()
	ctx := t.Context()
	f.mu.Lock()
	ciphers := append([]rotCipher(nil), f.ciphers...)
	f.mu.Unlock()
	for _, c := range ciphers {
		client := f.n.kms
		if c.region != "" {
			client = f.kmsIn(c.region)
		}
		out, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: c.ct, EncryptionContext: c.context})
		if err != nil {
			t.Fatalf("%s: Decrypt of a ciphertext of key %s: %v", when, c.keyID, err)
		}
		if !bytes.Equal(out.Plaintext, c.pt) {
			t.Fatalf("%s: Decrypt gave other plaintext", when)
		}
	}
	for id, secret := range f.users {
		s := sts.NewFromConfig(testenv.Config(f.n.proc.URL, "us-east-1", id, secret, ""))
		if _, err := s.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
			t.Fatalf("%s: GetCallerIdentity with access key %s: %v", when, id, err)
		}
	}
	if _, err := f.n.kms.ListKeys(ctx, &kms.ListKeysInput{}); err != nil {
		t.Fatalf("%s: the root access key: %v", when, err)
	}
	t.Logf("%s: %d ciphertexts decrypt, %d user access keys and the root's sign", when, len(ciphers), len(f.users))
}

func rotateRoot(t *testing.T, n *crashNode) (stdout, stderr string, code int) {
	t.Helper()
	return runCLI(t, "", []string{"AWS_ACCESS_KEY_ID=" + n.id, "AWS_SECRET_ACCESS_KEY=" + n.secret},
		"rotate-root", "--endpoint", n.proc.URL)
}

// rootKeys returns, unsealed with the dev key file, the root keys the
// stopped installation's store holds: the current one and, during a
// rotation, the next, with their generations.
func rootKeys(t *testing.T, dir string) (keys [][]byte, gens []uint32) {
	t.Helper()
	kf, err := seal.OpenKeyFile(filepath.Join(dir, "dev-seal.key"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(filepath.Join(dir, "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, name := range []string{"seal.root", "seal.root.next"} {
		sealed, err := st.GetSetting(context.Background(), name)
		if err != nil {
			continue
		}
		raw, err := kf.Unseal(sealed)
		if err != nil {
			t.Fatalf("unseal %s: %v", name, err)
		}
		g := uint32(0)
		if b, err := st.GetSetting(context.Background(), name+".generation"); err == nil {
			g = binary.BigEndian.Uint32(b)
		}
		keys, gens = append(keys, raw), append(gens, g)
	}
	return keys, gens
}

// TestRotateRootKilledAtEachStep kills the server at each step of a
// rotation under load; each restart finds every secret readable, and a
// rerun finishes the job.
func TestRotateRootKilledAtEachStep(t *testing.T) {
	n := newCrashNode(t)
	f := &rotFixture{n: n, users: map[string]string{}}
	f.seed(t)
	f.seedMultiRegionAndImported(t)
	f.check(t, "before any rotation")
	var allRoots [][]byte
	collect := func() {
		ks, _ := rootKeys(t, n.dir)
		allRoots = append(allRoots, ks...)
	}
	if err := n.proc.Stop(t); err != nil {
		t.Fatal(err)
	}
	collect()

	steps := []string{"next-stored", "rewrapped-1", "rewrapped-5", "before-commit", "committed", "rewrapped-3"}
	for _, step := range steps {
		n.proc = startTrent(t, append(n.env, "TRENT_TEST_ROTATE_KILL_AT="+step), "--data-dir", n.dir)
		n.kms = n.proc.Client(n.id, n.secret)
		stop := make(chan struct{})
		wg := f.load(t, n.kms, stop)
		time.Sleep(100 * time.Millisecond) // load in flight when the rotation starts
		_, stderr, code := rotateRoot(t, n)
		close(stop)
		wg.Wait()
		if code == 0 {
			t.Fatalf("rotate-root succeeded though the server was to die at %q", step)
		}
		select {
		case <-n.proc.done:
		case <-time.After(30 * time.Second):
			t.Fatalf("the server did not die at %q (rotate-root: %s)", step, stderr)
		}
		if !strings.Contains(n.proc.err.Error(), "killed") {
			t.Fatalf("server ended with %v at %q, want SIGKILL", n.proc.err, step)
		}
		collect()
		ks, gens := rootKeys(t, n.dir)
		n.start(t)
		f.check(t, fmt.Sprintf("after a kill at %q (root generations %v held: %d keys)", step, gens, len(ks)))
		// One server at a time: a rotation refuses to run beside another.
		if err := n.proc.Stop(t); err != nil {
			t.Fatal(err)
		}
	}
	n.start(t)

	// A rerun without the hook finishes the job.
	out, stderr, code := rotateRoot(t, n)
	if code != 0 {
		t.Fatalf("rotate-root: exit %d\n%s%s", code, out, stderr)
	}
	t.Log(strings.TrimSpace(out))
	f.check(t, "after the last rotation")
	if err := n.proc.Stop(t); err != nil {
		t.Fatal(err)
	}
	ks, gens := rootKeys(t, n.dir)
	if len(ks) != 1 || gens[0] < 2 {
		t.Fatalf("after the rotations the store holds root generations %v, want one, at least 2", gens)
	}
	collect()
	n.start(t)
	f.check(t, "after a clean restart")
	if err := n.proc.Stop(t); err != nil {
		t.Fatal(err)
	}
	if out, err := testcmd.Command(t, trentBinary(t), "audit", "verify", "--data-dir", n.dir).CombinedOutput(); err != nil {
		t.Fatalf("audit verify after the crashes and rotations: %v\n%s", err, out)
	}

	// Nothing of any root key, old or new, nor of any secret, at rest.
	s := readStoredSecretsWith(t, n.dir, func(_ func(string) []byte, sealed []byte) ([]byte, error) {
		kf, err := seal.OpenKeyFile(filepath.Join(n.dir, "dev-seal.key"))
		if err != nil {
			return nil, err
		}
		return kf.Unseal(sealed)
	})
	var extra [][]byte
	for _, r := range allRoots {
		if !bytes.Equal(r, s.root) {
			extra = append(extra, r)
		}
	}
	if len(extra) < 2 {
		t.Fatalf("only %d retired root keys collected; the test rotated at least twice", len(extra))
	}
	// (The clients' plaintexts are other tests' concern: at-rest scans of
	// them are in atrest_test.go.)
	extra = append(extra, auditSigningKey(t, n.dir, s.root, gens[0]))
	files := snapshotDir(t, n.dir)
	delete(files, "dev-seal.key") // the dev seal's own key file, plaintext by design
	checkNothingAtRest(t, files, s, extra, "rotate-root 0", len(s.backingKeys), 3)
}

// auditSigningKey unwraps the stored audit signing key (PKCS #8 DER)
// with the root key raw of generation gen.
func auditSigningKey(t *testing.T, dir string, raw []byte, gen uint32) []byte {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(dir, "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w, err := st.GetSetting(context.Background(), "audit.signing-key")
	if err != nil {
		t.Fatal(err)
	}
	if g, err := seal.WrappedGeneration(w); err != nil || g != gen {
		t.Fatalf("the audit signing key is wrapped by generation %d (%v), want %d", g, err, gen)
	}
	root, err := seal.NewRootKeyGeneration(raw, gen)
	if err != nil {
		t.Fatal(err)
	}
	der, err := root.Unwrap(w, []byte("trent/audit-signing-key/v1"))
	if err != nil {
		t.Fatalf("unwrap the audit signing key: %v", err)
	}
	return der
}

// TestRotateRootRefused: rotate-root needs the first account's root user.
func TestRotateRootRefused(t *testing.T) {
	n := newCrashNode(t)
	ic := n.proc.IAM(n.id, n.secret)
	if _, err := ic.CreateUser(t.Context(), &iam.CreateUserInput{UserName: aws.String("admin")}); err != nil {
		t.Fatal(err)
	}
	ak, err := ic.CreateAccessKey(t.Context(), &iam.CreateAccessKeyInput{UserName: aws.String("admin")})
	if err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runCLI(t, "", []string{"AWS_ACCESS_KEY_ID=" + *ak.AccessKey.AccessKeyId, "AWS_SECRET_ACCESS_KEY=" + *ak.AccessKey.SecretAccessKey},
		"rotate-root", "--endpoint", n.proc.URL)
	if code == 0 || !strings.Contains(stderr, "only the root user") {
		t.Fatalf("rotate-root by an IAM user: exit %d, %s", code, stderr)
	}
	_, stderr, code = runCLI(t, "", []string{"AWS_ACCESS_KEY_ID=" + n.id, "AWS_SECRET_ACCESS_KEY=wrong" + n.secret},
		"rotate-root", "--endpoint", n.proc.URL)
	if code == 0 {
		t.Fatalf("rotate-root with a wrong secret succeeded: %s", stderr)
	}
	if err := n.proc.Stop(t); err != nil {
		t.Fatal(err)
	}
	if ks, gens := rootKeys(t, n.dir); len(ks) != 1 || gens[0] != 0 {
		t.Fatalf("a refused rotate-root left root generations %v", gens)
	}
}

// TestRotateRootEverySeal rotates the root key of a production key-file,
// a shamir and a pkcs11 installation (a dev one is
// TestRotateRootKilledAtEachStep's):
// the seal seals the new root key (a shamir installation needs its shares
// for that, and refuses wrong ones), data made before decrypts after a
// restart, the same shares or PIN unseal, and nothing is at rest.
func TestRotateRootEverySeal(t *testing.T) {
	t.Run("shamir", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		in := initShamirDir(t, dir, "3", "2")
		rotateRootOf(t, dir, sealState{typ: "shamir", shares: in.Shares[1:]}, in.ID, in.Secret,
			[]string{in.Shares[0] + "\n" + in.Shares[0] + "\n", in.Shares[0] + "\n"})
	})
	t.Run("keyfile", func(t *testing.T) {
		tmp := t.TempDir()
		dir, keyFile := filepath.Join(tmp, "data"), filepath.Join(tmp, "seal.key")
		out, stderr, code := runCLI(t, "", nil, "init", "--data-dir", dir, "--seal-key-file", keyFile, "--format", "json")
		if code != 0 {
			t.Fatalf("init: exit %d\n%s%s", code, out, stderr)
		}
		m, _ := jsonKeys(t, out)
		rotateRootOf(t, dir, sealState{typ: "keyfile", keyFile: keyFile}, m["access_key_id"].(string), m["secret_access_key"].(string), nil)
	})
	t.Run("pkcs11", func(t *testing.T) {
		// The token the test binary's own SoftHSM2 sees (it reads its
		// token list once per process): the at-rest scan unseals in-process.
		needSoftHSM(t)
		tok := hsm.inProcess
		dir := filepath.Join(t.TempDir(), "data")
		keyLabel := "rotate-" + rand.Text()[:8]
		in := initPKCS11Dir(t, tok, dir, keyLabel)
		rotateRootOf(t, dir, sealState{typ: "pkcs11", tok: tok, keyLbl: keyLabel}, in.ID, in.Secret, nil)
	})
}

// rotateRootOf uses a key, rotates the root key (first with each of the
// bad standard inputs, which must be refused and change nothing), and
// checks the result as TestRotateRootEverySeal says.
func rotateRootOf(t *testing.T, dir string, s sealState, id, secret string, badStdin []string) {
	u := &useKey{id: id, secret: secret}
	p := s.serve(t, dir)
	u.run(t, p)
	env := []string{"AWS_ACCESS_KEY_ID=" + id, "AWS_SECRET_ACCESS_KEY=" + secret}
	for _, stdin := range badStdin {
		if out, stderr, code := runCLI(t, stdin, env, "rotate-root", "--endpoint", p.URL); code == 0 {
			t.Fatalf("rotate-root with bad shares: exit 0\n%s", out)
		} else {
			t.Logf("refused as it should be: %s", strings.TrimSpace(stderr))
		}
	}
	u.run(t, p)
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}
	s0 := readStoredSecretsWith(t, dir, s.unsealer(t))
	if g := storedSetting(t, dir, "seal.root"); len(badStdin) > 0 && !bytes.Equal(s.mustUnseal(t, dir, g), s0.root) {
		t.Fatal("refused rotations changed the root key")
	}

	p = s.serve(t, dir)
	stdin := strings.Join(s.shares, "\n") + "\n"
	if s.typ != "shamir" {
		stdin = ""
	}
	out, stderr, code := runCLI(t, stdin, env, "rotate-root", "--endpoint", p.URL, "--format", "json")
	if code != 0 {
		t.Fatalf("rotate-root: exit %d\n%s%s", code, out, stderr)
	}
	m, _ := jsonKeys(t, out)
	if m["root_generation"] != float64(1) || m["rewrapped"].(float64) < 3 {
		t.Fatalf("rotate-root printed %v", m)
	}
	u.run(t, p) // the running server uses the new root key at once
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}
	p = s.serve(t, dir) // the same shares or PIN unseal it
	u.run(t, p)
	p.Kill(t)
	s1 := readStoredSecretsWith(t, dir, s.unsealer(t))
	if bytes.Equal(s0.root, s1.root) {
		t.Fatal("rotate-root kept the root key")
	}
	for name, m := range s0.backingKeys {
		if !bytes.Equal(s1.backingKeys[name], m) {
			t.Fatalf("rotate-root changed backing key %s", name)
		}
	}
	checkNothingAtRest(t, snapshotDir(t, dir), s1, [][]byte{s0.root, u.pt}, u.marker, 1, 1)
}

func (s sealState) mustUnseal(t *testing.T, dir string, sealed []byte) []byte {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(dir, "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	raw, err := s.unsealer(t)(func(name string) []byte {
		v, _ := st.GetSetting(context.Background(), name)
		return v
	}, sealed)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
