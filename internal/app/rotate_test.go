//go:build unix

package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/trent-kms/trent/internal/seal"
	"github.com/trent-kms/trent/internal/server"
	"github.com/trent-kms/trent/internal/store"
)

// TestRotateRootUnderConcurrentWrites rotates the root key of a running
// shamir node three times while requests create keys as fast as they
// can, each wrapping a new backing key with whatever generation is
// current. A value wrapped by the old generation and stored after the
// rewrap passed it would be lost at retirement; the barrier and the
// repeated passes must prevent that. After a restart every acknowledged
// key must encrypt.
func TestRotateRootUnderConcurrentWrites(t *testing.T) {
	n, srv, res := shamirNode(t)
	for _, s := range res.UnsealShares[:2] {
		if r := do(t, srv, http.MethodPost, "/sys/unseal", `{"share":"`+s+`"}`, nil); r.status != http.StatusOK {
			t.Fatalf("unseal: %d %s", r.status, r.body)
		}
	}
	createKey := map[string]string{"X-Amz-Target": "TrentService.CreateKey", "Content-Type": "application/x-amz-json-1.1"}
	encrypt := map[string]string{"X-Amz-Target": "TrentService.Encrypt", "Content-Type": "application/x-amz-json-1.1"}

	var (
		mu   sync.Mutex
		keys []string
		wg   sync.WaitGroup
	)
	stop := make(chan struct{})
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, err := trySigned(t.Context(), srv, "/", "{}", createKey, res.AccessKeyID, res.SecretAccessKey, "kms")
				if err != nil {
					t.Errorf("CreateKey during rotation: %v", err)
					return
				}
				if r.status != http.StatusOK {
					t.Errorf("CreateKey during rotation: %d %s", r.status, r.body)
					return
				}
				var out struct{ KeyMetadata struct{ KeyId string } }
				json.Unmarshal([]byte(r.body), &out)
				mu.Lock()
				keys = append(keys, out.KeyMetadata.KeyId)
				mu.Unlock()
			}
		}()
	}
	body, _ := json.Marshal(map[string][]string{"unseal_shares": res.UnsealShares[1:]})
	for i := range 3 {
		r := signed(t, srv, "/sys/rotate-root", string(body), nil, res.AccessKeyID, res.SecretAccessKey, "kms")
		if r.status != http.StatusOK {
			t.Fatalf("rotate-root %d: %d %s", i+1, r.status, r.body)
		}
		var st struct {
			Generation int `json:"root_generation"`
		}
		json.Unmarshal([]byte(r.body), &st)
		if st.Generation != i+1 {
			t.Fatalf("rotate-root %d answered generation %d", i+1, st.Generation)
		}
	}
	close(stop)
	wg.Wait()
	if len(keys) < 20 {
		t.Fatalf("only %d keys created during the rotations: no concurrency to speak of", len(keys))
	}

	// Restart: only the newest generation is stored.
	dir := n.DataDir
	srv.Close()
	n.Close()
	n2, err := Start(t.Context(), Config{DataDir: dir, Logger: n.log})
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Close()
	for _, s := range res.UnsealShares[:2] {
		if _, err := n2.SubmitShare(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	srv2 := httptest.NewServer(n2.Handler())
	defer srv2.Close()
	for _, id := range keys {
		r := signed(t, srv2, "/", fmt.Sprintf(`{"KeyId":%q,"Plaintext":"aGk="}`, id), encrypt, res.AccessKeyID, res.SecretAccessKey, "kms")
		if r.status != http.StatusOK {
			t.Fatalf("Encrypt with key %s (created during a rotation) after restart: %d %s", id, r.status, r.body)
		}
	}
	t.Logf("%d keys created during 3 rotations, all usable after a restart", len(keys))
}

// TestRotateRootAlone: a rotation needs the data dir to itself — another
// process holding it would keep wrapping with the old root key — and
// refuses while another holder has it open, with nothing changed; alone,
// it runs, and the node holds the dir shared again afterwards.
func TestRotateRootAlone(t *testing.T) {
	ctx := t.Context()
	o := initCases[0].opts(newBase(t))
	if err := Init(ctx, o, nil); err != nil {
		t.Fatal(err)
	}
	cfg := Config{DataDir: o.DataDir, SealKeyFile: o.SealKeyFile, Logger: slog.New(slog.DiscardHandler)}
	n1, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n1.Close()
	n2, err := Start(ctx, cfg) // another holder, as `trent account create` would be
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := n1.rotateRoot(ctx, n1.App(), nil); !errors.Is(err, server.ErrConflict) || !strings.Contains(err.Error(), "another process has the data dir open") {
		t.Fatalf("rotation beside another holder = %v", err)
	}
	if rs, err := loadRootState(ctx, n1.st); err != nil || rs.next != nil || rs.gen != 0 {
		t.Fatalf("a refused rotation changed the root state: %+v, %v", rs, err)
	}
	n2.Close()
	if gen, k, err := n1.rotateRoot(ctx, n1.App(), nil); err != nil || gen != 1 || k < 2 {
		t.Fatalf("rotation alone = generation %d, %d rewrapped, %v", gen, k, err)
	}
	// Shared again: another holder may open the dir; reseal may not.
	n3, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("opening the dir after the rotation: %v", err)
	}
	n3.Close()
	if err := Reseal(ctx, ResealOptions{DataDir: o.DataDir, SealKeyFile: o.SealKeyFile,
		To: InitOptions{Seal: SealShamir, KeyShares: 1, KeyThreshold: 1}}, nil); err == nil {
		t.Fatal("reseal ran beside a node after its rotation")
	}
}

// TestRotateRootResumesShamir: a shamir node that stopped after storing
// the next root key (as a crash right after step 1 leaves it) unseals
// with the same shares into both generations, serves keys made before,
// and a rerun resumes that rotation rather than starting another.
func TestRotateRootResumesShamir(t *testing.T) {
	n, srv, res := shamirNode(t)
	for _, s := range res.UnsealShares[:2] {
		if r := do(t, srv, http.MethodPost, "/sys/unseal", `{"share":"`+s+`"}`, nil); r.status != http.StatusOK {
			t.Fatalf("unseal: %d %s", r.status, r.body)
		}
	}
	createKey := map[string]string{"X-Amz-Target": "TrentService.CreateKey", "Content-Type": "application/x-amz-json-1.1"}
	encrypt := map[string]string{"X-Amz-Target": "TrentService.Encrypt", "Content-Type": "application/x-amz-json-1.1"}
	r := signed(t, srv, "/", "{}", createKey, res.AccessKeyID, res.SecretAccessKey, "kms")
	var out struct{ KeyMetadata struct{ KeyId string } }
	if err := json.Unmarshal([]byte(r.body), &out); err != nil || r.status != http.StatusOK {
		t.Fatalf("CreateKey: %d %s", r.status, r.body)
	}

	// Step 1 of a rotation, then a stop.
	ctx := t.Context()
	rs, err := loadRootState(ctx, n.st)
	if err != nil {
		t.Fatal(err)
	}
	p, done, err := openSeal(ctx, &n.cfg, n.Mode, n.SealType, n.st, res.UnsealShares[1:], rs.sealed)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := seal.GenerateRootKey()
	next, err := p.Seal(raw)
	done()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.st.(store.Rewrap).UpdateSettings(ctx, map[string][]byte{settingNextRoot: next, settingNextRootGeneration: encodeGeneration(1)}, nil); err != nil {
		t.Fatal(err)
	}
	dir := n.DataDir
	srv.Close()
	n.Close()

	n2, err := Start(ctx, Config{DataDir: dir, Logger: n.log})
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Close()
	for _, s := range res.UnsealShares[1:] {
		if _, err := n2.SubmitShare(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if gens := n2.App().root.Generations(); len(gens) != 2 {
		t.Fatalf("unsealed mid-rotation with generations %v, want both", gens)
	}
	srv2 := httptest.NewServer(n2.Handler())
	defer srv2.Close()
	enc := fmt.Sprintf(`{"KeyId":%q,"Plaintext":"aGk="}`, out.KeyMetadata.KeyId)
	if r := signed(t, srv2, "/", enc, encrypt, res.AccessKeyID, res.SecretAccessKey, "kms"); r.status != http.StatusOK {
		t.Fatalf("Encrypt mid-rotation: %d %s", r.status, r.body)
	}
	gen, _, err := n2.rotateRoot(ctx, n2.App(), res.UnsealShares[:2])
	if err != nil || gen != 1 {
		t.Fatalf("resumed rotation = generation %d, %v; want 1 (the stored next key)", gen, err)
	}
	if rs, err := loadRootState(ctx, n2.st); err != nil || rs.next != nil || !bytes.Equal(rs.sealed, next) {
		t.Fatalf("after the resumed rotation the store's root is not the one step 1 stored (%v)", err)
	}
	if r := signed(t, srv2, "/", enc, encrypt, res.AccessKeyID, res.SecretAccessKey, "kms"); r.status != http.StatusOK {
		t.Fatalf("Encrypt after the rotation: %d %s", r.status, r.body)
	}
}
