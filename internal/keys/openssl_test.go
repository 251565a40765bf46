package keys

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/testenv/testcmd"
)

// These tests check Trent's keys, signatures and ciphertexts with the openssl
// command-line tool, a second implementation of every format and algorithm
// it knows. They are skipped if openssl is not installed; features the
// installed version lacks (Ed25519ph before 3.2, ML-DSA before 3.5) are
// skipped with a message saying so.

type opensslTool struct {
	path         string
	major, minor int
	dir          string
	t            testing.TB // bounds run's children (testcmd)
}

func requireOpenSSL(t *testing.T) *opensslTool {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	out, err := testcmd.Command(t, path, "version").Output()
	if err != nil {
		t.Skipf("openssl version: %v", err)
	}
	m := regexp.MustCompile(`^OpenSSL (\d+)\.(\d+)`).FindSubmatch(out)
	if m == nil {
		t.Skipf("not OpenSSL: %s", out)
	}
	major, _ := strconv.Atoi(string(m[1]))
	minor, _ := strconv.Atoi(string(m[2]))
	if major < 3 {
		t.Skipf("OpenSSL %d.%d is older than 3.0", major, minor)
	}
	t.Logf("%s", bytes.TrimSpace(out))
	return &opensslTool{path: path, major: major, minor: minor, dir: t.TempDir(), t: t}
}

func (o *opensslTool) atLeast(major, minor int) bool {
	return o.major > major || o.major == major && o.minor >= minor
}

// file writes data to a new file in the tool's directory and returns its path.
func (o *opensslTool) file(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(o.dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (o *opensslTool) pubPEM(t *testing.T, name string, spki []byte) string {
	return o.file(t, name, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}))
}

// run runs openssl and returns its stdout; err includes stderr.
func (o *opensslTool) run(args ...string) ([]byte, error) {
	cmd := testcmd.Command(o.t, o.path, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("openssl %s: %v: %s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.Bytes(), nil
}

var opensslDigest = map[string]string{
	"RSASSA_PKCS1_V1_5_SHA_256": "sha256", "RSASSA_PKCS1_V1_5_SHA_384": "sha384", "RSASSA_PKCS1_V1_5_SHA_512": "sha512",
	"RSASSA_PSS_SHA_256": "sha256", "RSASSA_PSS_SHA_384": "sha384", "RSASSA_PSS_SHA_512": "sha512",
	"ECDSA_SHA_256": "sha256", "ECDSA_SHA_384": "sha384", "ECDSA_SHA_512": "sha512",
}

// opensslVerify verifies a signature made by Sign with openssl.
func (o *opensslTool) verify(t *testing.T, spec, alg, msgType string, spki, msg, sig []byte) error {
	t.Helper()
	pub := o.pubPEM(t, "pub.pem", spki)
	in := o.file(t, "msg.bin", msg)
	sigFile := o.file(t, "sig.bin", sig)
	md := opensslDigest[alg]
	var pss []string
	if strings.HasPrefix(alg, "RSASSA_PSS_") {
		salt := strconv.Itoa(awsDigestSize[alg])
		pss = []string{"rsa_padding_mode:pss", "rsa_pss_saltlen:" + salt, "rsa_mgf1_md:" + md}
	}
	var args []string
	switch {
	case alg == "ED25519_SHA_512":
		args = []string{"pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", in, "-sigfile", sigFile}
	case alg == "ED25519_PH_SHA_512":
		args = []string{"pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", in, "-sigfile", sigFile, "-pkeyopt", "instance:Ed25519ph"}
	case alg == "ML_DSA_SHAKE_256":
		args = []string{"pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", in, "-sigfile", sigFile}
	case msgType == "RAW":
		args = []string{"dgst", "-" + md, "-verify", pub, "-signature", sigFile}
		for _, p := range pss {
			args = append(args, "-sigopt", p)
		}
		args = append(args, in)
	default: // DIGEST: openssl verifies the given digest without hashing it
		args = []string{"pkeyutl", "-verify", "-pubin", "-inkey", pub, "-in", in, "-sigfile", sigFile, "-pkeyopt", "digest:" + md}
		for _, p := range pss {
			args = append(args, "-pkeyopt", p)
		}
	}
	out, err := o.run(args...)
	if err != nil {
		return err
	}
	if !bytes.Contains(out, []byte("Verified OK")) && !bytes.Contains(out, []byte("Signature Verified Successfully")) {
		return fmt.Errorf("openssl did not report success: %s", out)
	}
	return nil
}

func TestOpenSSLVerifiesSignatures(t *testing.T) {
	o := requireOpenSSL(t)
	cases := []struct{ spec, alg, msgType string }{
		{"ECC_NIST_P256", "ECDSA_SHA_256", "RAW"},
		{"ECC_NIST_P256", "ECDSA_SHA_256", "DIGEST"},
		{"ECC_NIST_P384", "ECDSA_SHA_384", "RAW"},
		{"ECC_NIST_P521", "ECDSA_SHA_512", "RAW"},
		{"ECC_NIST_P521", "ECDSA_SHA_512", "DIGEST"},
		{"ECC_SECG_P256K1", "ECDSA_SHA_256", "RAW"},
		{"ECC_SECG_P256K1", "ECDSA_SHA_256", "DIGEST"},
		{"ECC_NIST_EDWARDS25519", "ED25519_SHA_512", "RAW"},
		{"RSA_3072", "RSASSA_PSS_SHA_384", "RAW"},
		{"RSA_4096", "RSASSA_PKCS1_V1_5_SHA_512", "RAW"},
		{"RSA_4096", "RSASSA_PSS_SHA_512", "DIGEST"},
	}
	for _, alg := range awsRSASigning {
		cases = append(cases, struct{ spec, alg, msgType string }{"RSA_2048", alg, "RAW"},
			struct{ spec, alg, msgType string }{"RSA_2048", alg, "DIGEST"})
	}
	msg := []byte("verified by openssl")
	for _, c := range cases {
		t.Run(c.spec+"/"+c.alg+"/"+c.msgType, func(t *testing.T) {
			priv := testKey(t, c.spec)
			spki, err := PublicKeyDER(c.spec, priv)
			if err != nil {
				t.Fatal(err)
			}
			m := msg
			if c.msgType == "DIGEST" {
				h := stdHashes[c.alg].New()
				h.Write(msg)
				m = h.Sum(nil)
			}
			sig, err := Sign(c.spec, c.alg, c.msgType, priv, m)
			if err != nil {
				t.Fatal(err)
			}
			if err := o.verify(t, c.spec, c.alg, c.msgType, spki, m, sig); err != nil {
				t.Fatal(err)
			}
			// The harness is not vacuous: openssl refuses a damaged signature.
			if err := o.verify(t, c.spec, c.alg, c.msgType, spki, m, flipBit(sig, len(sig)-2)); err == nil {
				t.Fatal("openssl accepted a damaged signature")
			}
		})
	}
	t.Run("ED25519_PH_SHA_512", func(t *testing.T) {
		if !o.atLeast(3, 2) {
			t.Skipf("OpenSSL %d.%d has no Ed25519ph (3.2+)", o.major, o.minor)
		}
		priv := testKey(t, "ECC_NIST_EDWARDS25519")
		spki, _ := PublicKeyDER("ECC_NIST_EDWARDS25519", priv)
		d := bytes.Repeat([]byte{0x5a}, 64)
		sig, err := Sign("ECC_NIST_EDWARDS25519", "ED25519_PH_SHA_512", "DIGEST", priv, d)
		if err != nil {
			t.Fatal(err)
		}
		// openssl's Ed25519ph hashes its input: the DIGEST is the message M.
		if err := o.verify(t, "ECC_NIST_EDWARDS25519", "ED25519_PH_SHA_512", "DIGEST", spki, d, sig); err != nil {
			t.Fatal(err)
		}
	})
}

func (o *opensslTool) hasMLDSA() bool {
	out, err := o.run("list", "-signature-algorithms")
	return err == nil && bytes.Contains(bytes.ToUpper(out), []byte("ML-DSA-44"))
}

// TestOpenSSLMLDSA checks the ML-DSA encodings with openssl: structurally
// with asn1parse on any version, and fully (parse keys, verify signatures)
// where openssl knows ML-DSA.
func TestOpenSSLMLDSA(t *testing.T) {
	o := requireOpenSSL(t)
	for _, spec := range []string{"ML_DSA_44", "ML_DSA_65", "ML_DSA_87"} {
		t.Run(spec, func(t *testing.T) {
			priv := testKey(t, spec)
			spki, _ := PublicKeyDER(spec, priv)
			oid := mldsaOIDs[spec].String()
			out, err := o.run("asn1parse", "-inform", "DER", "-in", o.file(t, "spki.der", spki))
			if err != nil {
				t.Fatal(err)
			}
			if !regexp.MustCompile(`OBJECT\s+:(`+regexp.QuoteMeta(oid)+`|ML-DSA-\d\d)\n`).Match(out) || !bytes.Contains(out, []byte("BIT STRING")) {
				t.Fatalf("asn1parse of the SPKI:\n%s", out)
			}
			out, err = o.run("asn1parse", "-inform", "DER", "-in", o.file(t, "priv.der", priv), "-strparse", "18")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(out, []byte("l=  32 prim: cont [ 0 ]")) {
				t.Fatalf("asn1parse of the seed:\n%s", out)
			}
			if !o.hasMLDSA() {
				t.Skipf("OpenSSL %d.%d has no ML-DSA (3.5+): checked the encodings' structure only", o.major, o.minor)
			}
			pubOut, err := o.run("pkey", "-inform", "DER", "-in", o.file(t, "priv.der", priv), "-pubout", "-outform", "DER")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(pubOut, spki) {
				t.Fatal("openssl derives another public key from the PKCS#8 seed")
			}
			msg := []byte("ML-DSA by openssl")
			sig, err := Sign(spec, "ML_DSA_SHAKE_256", "RAW", priv, msg)
			if err != nil {
				t.Fatal(err)
			}
			if err := o.verify(t, spec, "ML_DSA_SHAKE_256", "RAW", spki, msg, sig); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestOpenSSLSecp256k1PKCS8: openssl reads the secp256k1 PKCS#8 (from
// GeneratePrivate and DataKeyPair), finds it valid and derives the same SPKI;
// a key openssl generates parses here to the same public key.
func TestOpenSSLSecp256k1PKCS8(t *testing.T) {
	o := requireOpenSSL(t)
	dkPriv, dkPub, err := DataKeyPair("ECC_SECG_P256K1")
	if err != nil {
		t.Fatal(err)
	}
	stored := testKey(t, "ECC_SECG_P256K1")
	storedPub, _ := PublicKeyDER("ECC_SECG_P256K1", stored)
	for name, c := range map[string][2][]byte{"data key pair": {dkPriv, dkPub}, "GeneratePrivate": {stored, storedPub}} {
		f := o.file(t, "k1.der", c[0])
		out, err := o.run("pkey", "-inform", "DER", "-in", f, "-check", "-noout")
		if err != nil || !bytes.Contains(out, []byte("Key is valid")) {
			t.Fatalf("%s: openssl pkey -check: %s %v", name, out, err)
		}
		pub, err := o.run("pkey", "-inform", "DER", "-in", f, "-pubout", "-outform", "DER")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(pub, c[1]) {
			t.Fatalf("%s: openssl's SPKI %x\nours %x", name, pub, c[1])
		}
	}

	sec1 := filepath.Join(o.dir, "ossl-sec1.der")
	p8 := filepath.Join(o.dir, "ossl-p8.der")
	if _, err := o.run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1", "-outform", "DER", "-out", sec1); err != nil {
		t.Fatal(err)
	}
	if _, err := o.run("pkcs8", "-topk8", "-nocrypt", "-inform", "DER", "-in", sec1, "-outform", "DER", "-out", p8); err != nil {
		t.Fatal(err)
	}
	der, err := os.ReadFile(p8)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := PublicKeyDER("ECC_SECG_P256K1", der)
	if err != nil {
		t.Fatalf("openssl's secp256k1 PKCS#8 does not parse: %v", err)
	}
	theirs, err := o.run("pkey", "-inform", "DER", "-in", p8, "-pubout", "-outform", "DER")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ours, theirs) {
		t.Fatal("public keys differ")
	}
	if !bytes.Equal(der, marshalSecp256k1PKCS8(secp256k1PrivFromBytes(testSecp256k1PKCS8Independently(t, der)))) {
		t.Error("openssl's PKCS#8 is not byte-for-byte what marshalSecp256k1PKCS8 writes")
	}
}

// TestOpenSSLRSAOAEP: openssl decrypts EncryptRSA's ciphertexts and
// DecryptRSA decrypts openssl's.
func TestOpenSSLRSAOAEP(t *testing.T) {
	o := requireOpenSSL(t)
	priv := testKey(t, "RSA_2048")
	spki, _ := PublicKeyDER("RSA_2048", priv)
	keyFile := o.file(t, "rsa.der", priv)
	pubFile := o.pubPEM(t, "rsa.pem", spki)
	for alg, md := range map[string]string{"RSAES_OAEP_SHA_1": "sha1", "RSAES_OAEP_SHA_256": "sha256"} {
		opts := []string{"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:" + md, "-pkeyopt", "rsa_mgf1_md:" + md}
		pt := bytes.Repeat([]byte{0x42}, MaxPlaintext("RSA_2048", alg))
		ct, err := EncryptRSA("RSA_2048", alg, priv, pt)
		if err != nil {
			t.Fatal(err)
		}
		got, err := o.run(append([]string{"pkeyutl", "-decrypt", "-inkey", keyFile, "-keyform", "DER", "-in", o.file(t, "ct.bin", ct)}, opts...)...)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("%s: openssl decrypt: %v", alg, err)
		}
		ct, err = o.run(append([]string{"pkeyutl", "-encrypt", "-pubin", "-inkey", pubFile, "-in", o.file(t, "pt.bin", pt)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := DecryptRSA("RSA_2048", alg, priv, ct); err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("%s: DecryptRSA of openssl's ciphertext: %v", alg, err)
		}
	}
}

// TestOpenSSLECDH: openssl derives the same shared secret from its own key
// and Trent's public key.
func TestOpenSSLECDH(t *testing.T) {
	o := requireOpenSSL(t)
	for spec, curve := range map[string]string{"ECC_NIST_P256": "P-256", "ECC_NIST_P384": "P-384", "ECC_NIST_P521": "P-521"} {
		priv := testKey(t, spec)
		ourPub, _ := PublicKeyDER(spec, priv)
		peerKey := filepath.Join(o.dir, "peer.pem")
		if _, err := o.run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:"+curve, "-out", peerKey); err != nil {
			t.Fatal(err)
		}
		peerSPKI, err := o.run("pkey", "-in", peerKey, "-pubout", "-outform", "DER")
		if err != nil {
			t.Fatal(err)
		}
		want, err := o.run("pkeyutl", "-derive", "-inkey", peerKey, "-peerkey", o.pubPEM(t, "ours.pem", ourPub))
		if err != nil {
			t.Fatal(err)
		}
		got, err := DeriveSharedSecret(spec, priv, peerSPKI)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: %x, %v; openssl %x", spec, got, err, want)
		}
	}
}

func TestOpenSSLHMAC(t *testing.T) {
	o := requireOpenSSL(t)
	msg := []byte("HMAC by openssl")
	in := o.file(t, "msg.bin", msg)
	for spec, md := range map[string]string{"HMAC_224": "sha224", "HMAC_256": "sha256", "HMAC_384": "sha384", "HMAC_512": "sha512"} {
		key := testKey(t, spec)
		want, err := o.run("dgst", "-"+md, "-mac", "HMAC", "-macopt", "hexkey:"+hex.EncodeToString(key), "-binary", in)
		if err != nil {
			t.Fatal(err)
		}
		alg := MacAlgorithms(spec)[0]
		if got, err := GenerateMac(spec, alg, key, msg); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %x, %v; openssl %x", spec, got, err, want)
		}
	}
}

// TestPycaCrossCheck has pyca/cryptography (its bundled OpenSSL) load the
// ML-DSA, secp256k1 and Ed25519 private keys, derive the same SPKI, and verify
// signatures. It runs where python3 has a cryptography with ML-DSA (48+).
func TestPycaCrossCheck(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	if out, err := testcmd.Command(t, python, "-c", "from cryptography.hazmat.primitives.asymmetric import mldsa").CombinedOutput(); err != nil {
		t.Skipf("pyca/cryptography with ML-DSA not available: %s", bytes.TrimSpace(out))
	}
	type check struct {
		Name  string `json:"name"`
		PKCS8 string `json:"pkcs8"`
		SPKI  string `json:"spki"`
		Msg   string `json:"msg"`
		Sig   string `json:"sig"`
		Alg   string `json:"alg"`
	}
	var checks []check
	msg := []byte("checked by pyca/cryptography")
	dkPriv, _, err := DataKeyPair("ECC_SECG_P256K1")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		spec, alg string
		priv      []byte
	}{
		{"ML_DSA_44", "ML_DSA_SHAKE_256", testKey(t, "ML_DSA_44")},
		{"ML_DSA_65", "ML_DSA_SHAKE_256", testKey(t, "ML_DSA_65")},
		{"ML_DSA_87", "ML_DSA_SHAKE_256", testKey(t, "ML_DSA_87")},
		{"ECC_SECG_P256K1", "ECDSA_SHA_256", testKey(t, "ECC_SECG_P256K1")},
		{"ECC_SECG_P256K1", "ECDSA_SHA_256", dkPriv},
		{"ECC_NIST_EDWARDS25519", "ED25519_SHA_512", testKey(t, "ECC_NIST_EDWARDS25519")},
	} {
		spki, err := PublicKeyDER(c.spec, c.priv)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := Sign(c.spec, c.alg, "RAW", c.priv, msg)
		if err != nil {
			t.Fatal(err)
		}
		checks = append(checks, check{fmt.Sprintf("%s#%d", c.spec, len(checks)), hex.EncodeToString(c.priv),
			hex.EncodeToString(spki), hex.EncodeToString(msg), hex.EncodeToString(sig), c.alg})
		// The harness is not vacuous: a damaged signature must be reported.
		checks = append(checks, check{fmt.Sprintf("%s#%d damaged", c.spec, len(checks)), "",
			hex.EncodeToString(spki), hex.EncodeToString(msg), hex.EncodeToString(flipBit(sig, 5)), c.alg})
	}
	in, err := json.Marshal(checks)
	if err != nil {
		t.Fatal(err)
	}
	cmd := testcmd.Command(t, python, filepath.Join("testdata", "pyca_check.py"))
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pyca_check.py: %v", err)
	}
	var results map[string]string
	if err := json.Unmarshal(out, &results); err != nil {
		t.Fatal(err)
	}
	version, _ := testcmd.Command(t, python, "-c", "import cryptography; from cryptography.hazmat.backends.openssl.backend import backend as b; print('cryptography', cryptography.__version__, b.openssl_version_text())").Output()
	t.Logf("%s", bytes.TrimSpace(version))
	for _, c := range checks {
		got := results[c.Name]
		if strings.HasSuffix(c.Name, "damaged") {
			if got == "ok" || got == "" {
				t.Errorf("%s: pyca accepted a damaged signature (%q)", c.Name, got)
			}
		} else if got != "ok" {
			t.Errorf("%s: %s", c.Name, got)
		}
	}
}
