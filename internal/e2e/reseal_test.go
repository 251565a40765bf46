package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/internal/seal"
	"github.com/trent-kms/trent/internal/seal/pkcs11"
	"github.com/trent-kms/trent/internal/store/sqlite"
)

// The reseal tests run `trent rekey` and `trent seal migrate` on stopped
// installations with the real binary: the root key stays the same (every
// stored wrapped value is byte for byte what it was), the old shares or
// key stop opening it, the new seal serves, and nothing plaintext is at
// rest under any seal.

// sealState is how a test opens an installation's current seal.
type sealState struct {
	typ     string
	keyFile string   // keyfile
	shares  []string // shamir: exactly threshold-many are used
	tok     hsmToken // pkcs11
	keyLbl  string
}

// serveArgs are the flags `trent serve` needs for the seal; env its
// environment.
func (s sealState) serve(t *testing.T, dir string) *trentProc {
	t.Helper()
	args := []string{"serve", "--data-dir", dir, "--listen", "127.0.0.1:0"}
	switch s.typ {
	case "keyfile":
		args = append(args, "--seal-key-file", s.keyFile)
	case "pkcs11":
		args = append(args, "--pkcs11-pin-file", s.tok.pinFile)
	}
	p := startTrentArgs(t, nil, args...)
	for _, share := range s.shares {
		if out, stderr, code := unseal(t, p.URL, share); code != 0 {
			t.Fatalf("unseal: exit %d\n%s%s", code, out, stderr)
		}
	}
	return p
}

// unsealer opens the stored sealed root key independently of the server.
func (s sealState) unsealer(t *testing.T) func(setting func(string) []byte, sealed []byte) ([]byte, error) {
	return func(setting func(string) []byte, sealed []byte) ([]byte, error) {
		switch s.typ {
		case "keyfile":
			kf, err := seal.OpenKeyFile(s.keyFile)
			if err != nil {
				return nil, err
			}
			return kf.Unseal(sealed)
		case "shamir":
			c, err := seal.ParseShamirConfig(setting("seal.shamir"))
			if err != nil {
				return nil, err
			}
			u := seal.NewShareUnsealer(c)
			for _, share := range s.shares {
				if err := u.Add(share); err != nil {
					return nil, err
				}
			}
			return u.Unseal(sealed)
		}
		ps, err := pkcs11.ParseSettings(setting("seal.pkcs11"))
		if err != nil {
			return nil, err
		}
		prov, err := pkcs11.Open(ps, s.tok.pin)
		if err != nil {
			return nil, err
		}
		defer prov.Close()
		return prov.Unseal(sealed)
	}
}

// wrappedValues returns every wrapped value the stopped installation
// stores (backing keys, access-key secrets, the audit signing key).
func wrappedValues(t *testing.T, dir string) [][]byte {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(dir, "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	var out [][]byte
	vs, err := st.WrappedKeyVersions(ctx, "", 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		out = append(out, v.Wrapped)
	}
	aks, err := st.ListAccessKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range aks {
		out = append(out, k.WrappedSecret)
	}
	if w, err := st.GetSetting(ctx, "audit.signing-key"); err == nil {
		out = append(out, w)
	}
	return out
}

func sameWrapped(t *testing.T, what string, before, after [][]byte) {
	t.Helper()
	if len(before) == 0 || !slices.EqualFunc(before, after, bytes.Equal) {
		t.Fatalf("%s changed the stored wrapped values (%d before, %d after)", what, len(before), len(after))
	}
}

// useKey creates a key and encrypts on the first call; later calls decrypt.
type useKey struct {
	id, secret string
	ct, pt     []byte
	marker     string
}

func (u *useKey) run(t *testing.T, p *trentProc) {
	t.Helper()
	c := p.Client(u.id, u.secret)
	ctx := t.Context()
	if u.ct == nil {
		u.marker = "reseal-marker-" + rand.Text()
		k, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String(u.marker)})
		if err != nil {
			t.Fatalf("CreateKey: %v", err)
		}
		u.pt = []byte(rand.Text())
		out, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: u.pt})
		if err != nil {
			t.Fatalf("Encrypt: %v", err)
		}
		u.ct = out.CiphertextBlob
		return
	}
	out, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: u.ct})
	if err != nil || !bytes.Equal(out.Plaintext, u.pt) {
		t.Fatalf("Decrypt of the ciphertext made before: %v", err)
	}
}

// TestRekey: new shares (another count and threshold), the same root key;
// the old shares open nothing, a running server blocks rekey, and wrong
// shares change nothing.
func TestRekey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	in := initShamirDir(t, dir, "5", "3")
	old := sealState{typ: "shamir", shares: in.Shares[1:4]}
	u := &useKey{id: in.ID, secret: in.Secret}
	p := old.serve(t, dir)
	u.run(t, p)

	// Not while a server runs.
	_, stderr, code := runCLI(t, strings.Join(old.shares, "\n")+"\n", nil, "rekey", "--data-dir", dir)
	if code == 0 || !strings.Contains(stderr, "in use by a running Trent") {
		t.Fatalf("rekey beside a running server: exit %d\n%s", code, stderr)
	}
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}
	before := wrappedValues(t, dir)
	s0 := readStoredSecretsWith(t, dir, old.unsealer(t))

	// Too few, or a wrong share: refused, nothing changed.
	for _, stdin := range []string{
		strings.Join(in.Shares[:2], "\n") + "\n",
		in.Shares[0] + "\n" + in.Shares[1] + "\n" + strings.Replace(in.Shares[2], in.Shares[2][20:21], string('a'+(in.Shares[2][20]-'a'+1)%6), 1) + "\n",
	} {
		out, stderr, code := runCLI(t, stdin, nil, "rekey", "--data-dir", dir)
		if code == 0 || strings.Contains(out, "share") {
			t.Fatalf("rekey with bad shares: exit %d\n%s%s", code, out, stderr)
		}
		t.Logf("refused as it should be: %s", strings.TrimSpace(stderr))
	}

	out, stderr, code := runCLI(t, strings.Join(old.shares, "\n")+"\n", nil,
		"rekey", "--data-dir", dir, "--key-shares", "3", "--key-threshold", "2", "--format", "json")
	if code != 0 {
		t.Fatalf("rekey: exit %d\n%s%s", code, out, stderr)
	}
	m, keys := jsonKeys(t, out)
	if !slices.Equal(keys, []string{"seal_type", "unseal_shares"}) || m["seal_type"] != "shamir" {
		t.Fatalf("rekey --format json: %v", m)
	}
	var shares []string
	for _, s := range m["unseal_shares"].([]any) {
		shares = append(shares, s.(string))
	}
	if len(shares) != 3 {
		t.Fatalf("%d new shares, want 3", len(shares))
	}
	sameWrapped(t, "rekey", before, wrappedValues(t, dir))

	// The old shares open nothing; two new ones unseal, and the key works.
	p = startTrentArgs(t, nil, "serve", "--data-dir", dir, "--listen", "127.0.0.1:0")
	if _, stderr, code := unseal(t, p.URL, old.shares[0]); code == 0 || !strings.Contains(stderr, "not one of this installation's shares") {
		t.Fatalf("an old share after rekey: exit %d, %s", code, stderr)
	}
	next := sealState{typ: "shamir", shares: shares[1:]}
	for _, s := range next.shares {
		if out, stderr, code := unseal(t, p.URL, s); code != 0 {
			t.Fatalf("unseal with a new share: exit %d\n%s%s", code, out, stderr)
		}
	}
	u.run(t, p)
	p.Kill(t)
	s1 := readStoredSecretsWith(t, dir, next.unsealer(t))
	if !bytes.Equal(s0.root, s1.root) {
		t.Fatal("rekey changed the root key")
	}
	checkNothingAtRest(t, snapshotDir(t, dir), s1, append([][]byte{u.pt}, []byte(strings.Join(shares, ""))), u.marker, 1, 1)
}

// TestSealMigrateEveryDirection migrates one installation around
// keyfile → shamir → pkcs11 → keyfile → pkcs11 → shamir → keyfile: all
// six directions. After each step the root key and every stored wrapped
// value are as they were, the new seal serves, the old seal's credentials
// are refused, and nothing plaintext is at rest.
func TestSealMigrateEveryDirection(t *testing.T) {
	// The token the test binary's own SoftHSM2 sees (it reads its
	// token list once per process): the at-rest scan unseals in-process.
	needSoftHSM(t)
	tok := hsm.inProcess
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "data")
	keyFile := filepath.Join(tmp, "seal-0.key")
	out, stderr, code := runCLI(t, "", nil, "init", "--data-dir", dir, "--seal-key-file", keyFile, "--format", "json")
	if code != 0 {
		t.Fatalf("init: exit %d\n%s%s", code, out, stderr)
	}
	m, _ := jsonKeys(t, out)
	u := &useKey{id: m["access_key_id"].(string), secret: m["secret_access_key"].(string)}
	cur := sealState{typ: "keyfile", keyFile: keyFile}
	p := cur.serve(t, dir)
	u.run(t, p)
	if err := p.Stop(t); err != nil {
		t.Fatal(err)
	}
	s0 := readStoredSecretsWith(t, dir, cur.unsealer(t))
	before := wrappedValues(t, dir)

	for i, to := range []string{"shamir", "pkcs11", "keyfile", "pkcs11", "shamir", "keyfile"} {
		step := cur.typ + " → " + to
		args := []string{"seal", "migrate", "--data-dir", dir, "--to", to, "--format", "json"}
		stdin := ""
		switch cur.typ {
		case "keyfile":
			args = append(args, "--seal-key-file", cur.keyFile)
		case "shamir":
			stdin = strings.Join(cur.shares, "\n") + "\n"
		case "pkcs11":
			args = append(args, "--pkcs11-pin-file", tok.pinFile)
		}
		next := sealState{typ: to}
		switch to {
		case "keyfile":
			next.keyFile = filepath.Join(tmp, "seal-"+string(rune('1'+i))+".key")
			args = append(args, "--new-seal-key-file", next.keyFile)
		case "shamir":
			args = append(args, "--key-shares", "3", "--key-threshold", "2")
		case "pkcs11":
			next.tok, next.keyLbl = tok, "migrate-"+rand.Text()[:8]
			args = append(args, "--pkcs11-module", tok.module, "--pkcs11-token-label", tok.label, "--pkcs11-key-label", next.keyLbl)
			if cur.typ != "pkcs11" {
				args = append(args, "--new-pkcs11-pin-file", tok.pinFile)
			}
		}
		out, stderr, code := runCLI(t, stdin, nil, args...)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", step, code, out, stderr)
		}
		m, _ := jsonKeys(t, out)
		if m["seal_type"] != to {
			t.Fatalf("%s: printed %v", step, m)
		}
		if to == "shamir" {
			for _, s := range m["unseal_shares"].([]any) {
				next.shares = append(next.shares, s.(string))
			}
			next.shares = next.shares[:2]
		}
		sameWrapped(t, step, before, wrappedValues(t, dir))
		s := readStoredSecretsWith(t, dir, next.unsealer(t))
		if !bytes.Equal(s.root, s0.root) {
			t.Fatalf("%s changed the root key", step)
		}
		// The old seal no longer opens the installation.
		if _, err := cur.unsealer(t)(func(string) []byte { return nil }, storedSetting(t, dir, "seal.root")); err == nil && cur.typ != "shamir" {
			t.Fatalf("%s: the old %s seal still opens the stored root key", step, cur.typ)
		}
		p := next.serve(t, dir)
		u.run(t, p)
		p.Kill(t)
		checkNothingAtRest(t, snapshotDir(t, dir), s, [][]byte{u.pt, []byte(tok.pin)}, u.marker, 1, 1)
		t.Logf("%s: same root key, same wrapped values, serves, nothing at rest", step)
		cur = next
	}
}

func storedSetting(t *testing.T, dir, name string) []byte {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(dir, "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	v, err := st.GetSetting(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestAccountCreateShamir: `trent account create` on a shamir
// installation takes threshold-many unseal shares on standard input.
func TestAccountCreateShamir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	in := initShamirDir(t, dir, "3", "2")
	if out, stderr, code := runCLI(t, in.Shares[0]+"\n", nil, "account", "create", "--data-dir", dir); code == 0 {
		t.Fatalf("account create with one of two shares: exit 0\n%s", out)
	} else if !strings.Contains(stderr, "2 current unseal shares are needed") {
		t.Fatalf("account create with one share: %s", stderr)
	}
	out, stderr, code := runCLI(t, in.Shares[2]+"\n"+in.Shares[0]+"\n", nil, "account", "create", "--data-dir", dir, "--id", "555566667777", "--format", "json")
	if code != 0 {
		t.Fatalf("account create: exit %d\n%s%s", code, out, stderr)
	}
	m, _ := jsonKeys(t, out)
	p := sealState{typ: "shamir", shares: in.Shares[:2]}.serve(t, dir)
	_, _, s := clients(p.URL, m["access_key_id"].(string), m["secret_access_key"].(string))
	id, err := s.GetCallerIdentity(t.Context(), nil)
	if err != nil || *id.Account != "555566667777" {
		t.Fatalf("GetCallerIdentity with the new account's key: %v", err)
	}
}
