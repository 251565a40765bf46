package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/identity"
	"github.com/trent-kms/trent/internal/jsonstrict"
	"github.com/trent-kms/trent/internal/kms"
	"github.com/trent-kms/trent/internal/seal"
	"github.com/trent-kms/trent/internal/server"
	"github.com/trent-kms/trent/internal/store"
)

// Root-key rotation (`trent rotate-root`, POST /sys/rotate-root) runs in
// the server, while it serves:
//
//  1. make the next generation's root key, seal it with the installation's
//     seal and store it beside the current one (settingNextRoot) — or, if
//     an interrupted rotation left one there, unseal that one;
//  2. add it to the in-memory root key and wrap every new value with it;
//  3. wait for the requests and jobs already running (they may hold a
//     value wrapped by the old generation, not yet stored);
//  4. rewrap every stored secret still of the old generation, one row at
//     a time, each with a conditional update;
//  5. when a pass finds none left, commit in one transaction: the new
//     sealed root key becomes the current one, the old one is deleted;
//     then drop the old generation from memory.
//
// A crash anywhere leaves each secret wrapped by the old or the new
// generation, and the store holding both sealed (until step 5, which
// happens only when nothing is left under the old one): the next start
// unseals both, and running the rotation again finishes the job.

// rotateRequest is the body of POST /sys/rotate-root: for a shamir
// installation, threshold-many unseal shares (sealing the new root key
// needs the key they rebuild, which Trent does not keep).
type rotateRequest struct {
	UnsealShares []string `json:"unseal_shares"`
}

// parseRotateRequest decodes the body strictly: empty, or one object with
// no unknown member and nothing after it. Its error never quotes the body,
// which may hold shares.
func parseRotateRequest(body []byte) (rotateRequest, error) {
	var req rotateRequest
	if err := jsonstrict.Decode(body, &req); err != nil && err != io.EOF {
		return rotateRequest{}, fmt.Errorf("%w: the body must be {} or {\"unseal_shares\": [\"…\", …]}", server.ErrRefused)
	}
	return req, nil
}

// rotateKillEnv names a step of the rotation at which the process kills
// itself with SIGKILL: the crash tests' way of stopping it exactly there
// (internal/e2e/rotate_root_test.go). Unset in production.
const rotateKillEnv = "TRENT_TEST_ROTATE_KILL_AT"

func rotateStep(name string) {
	if v, ok := os.LookupEnv(rotateKillEnv); ok && v == name {
		killSelf()
	}
}

// RotateRoot implements server.RootRotator: a request signed by the root
// user of the installation's first account rotates the root key.
//
// Its event is recorded when the rotation ends, with the outcome: on the
// log then open (a seal during the rotation queues it for the next
// unseal). Its requestParameters say how many unseal shares came, never
// what they are.
func (n *Node) RotateRoot(ctx context.Context, r *http.Request, body []byte) (st server.RotateStatus, err error) {
	ev := server.NewSysEvent(r, "RotateRoot", false)
	defer func() {
		if err != nil {
			sysFailure(ev, err)
		} else {
			ev.ResponseElements = elements(map[string]any{"rootGeneration": st.Generation, "rewrapped": st.Rewrapped})
		}
		if rerr := n.Record(context.WithoutCancel(ctx), ev); rerr != nil {
			n.log.Error("audit: root key rotation not recorded yet", "err", rerr)
		}
	}()
	a := n.cur.Load()
	if a == nil || !a.enter() {
		return server.RotateStatus{SealStatus: n.Status()}, fmt.Errorf("%w: Trent is sealed: unseal it first", server.ErrConflict)
	}
	caller, err := n.authorizeRoot(a, r, body, "rotate the root key of")
	a.leave()
	if caller != nil {
		ev.UserIdentity = audit.IdentityOf(caller)
	}
	if err != nil {
		return server.RotateStatus{SealStatus: n.Status()}, err
	}
	req, err := parseRotateRequest(body)
	if err != nil {
		return server.RotateStatus{SealStatus: n.Status()}, err
	}
	defer clearStrings(req.UnsealShares)
	ev.RequestParameters = elements(map[string]int{"unsealSharesGiven": len(req.UnsealShares)})
	by := caller.Principal.ARN
	n.log.Warn("root key rotation started", "by", by)
	began := time.Now()
	gen, count, err := n.rotateRoot(context.WithoutCancel(ctx), a, req.UnsealShares)
	st = server.RotateStatus{SealStatus: n.Status(), Generation: gen, Rewrapped: count}
	if err != nil {
		return st, err
	}
	n.log.Warn("root key rotated: every stored secret is wrapped by the new root key, the old one is gone",
		"generation", gen, "rewrapped", count, "took", time.Since(began).Round(time.Millisecond), "by", by)
	return st, nil
}

// authorizeRoot checks that (r, body) is signed by the root user of the
// installation's first account and returns it. A caller authenticated
// but refused is returned with the error, for the request's event.
func (n *Node) authorizeRoot(a *App, r *http.Request, body []byte, what string) (*identity.Caller, error) {
	auth, err := a.Verifier.Verify(r, body)
	if err != nil {
		return nil, err
	}
	c := auth.Caller
	if c == nil {
		c = identity.Root(auth.Account, auth.AccessKeyID)
	}
	if !c.IsRoot() || c.Principal.Account != n.Account {
		return c, fmt.Errorf("%w: only the root user of account %s may %s Trent, not %s", server.ErrForbidden, n.Account, what, c.Principal.ARN)
	}
	return c, nil
}

// rotateRoot runs the rotation on the unsealed App a and returns the new
// generation and how many stored values it rewrapped. A seal during the
// rotation stops it with an error (the root key is gone); rerun it after
// unsealing.
func (n *Node) rotateRoot(ctx context.Context, a *App, shares []string) (uint32, int, error) {
	n.rotateMu.Lock()
	defer n.rotateMu.Unlock()
	rw, ok := n.st.(store.Rewrap)
	if !ok {
		return 0, 0, fmt.Errorf("this store (%T) cannot rewrap stored values", n.st)
	}
	if n.lock != nil {
		release, err := n.lock.Exclusive()
		if err != nil {
			return 0, 0, fmt.Errorf("%w: %w", server.ErrConflict, err)
		}
		defer func() {
			if err := release(); err != nil {
				n.log.Error("taking the shared lock on the data dir again after the rotation", "err", err)
			}
		}()
	}
	guard, err := n.guardRotation(ctx) // rotatecluster.go
	if err != nil {
		return 0, 0, err
	}
	defer guard.release()
	rs, err := loadRootState(ctx, n.st)
	if err != nil {
		return 0, 0, err
	}
	p, done, err := openSeal(ctx, &n.cfg, n.Mode, n.SealType, n.st, shares, rs.sealed)
	if err != nil {
		return rs.gen, 0, err
	}
	defer done()

	// 1. The next root key, stored sealed before anything is wrapped by it.
	next, nextGen := rs.next, rs.nextGen
	var raw []byte
	if next == nil {
		nextGen = rs.gen + 1
		if raw, err = seal.GenerateRootKey(); err != nil {
			return rs.gen, 0, err
		}
		defer clear(raw)
		if next, err = p.Seal(raw); err != nil {
			return rs.gen, 0, fmt.Errorf("seal the new root key: %w", err)
		}
		if err := rw.UpdateSettings(ctx, map[string][]byte{
			settingNextRoot: next, settingNextRootGeneration: encodeGeneration(nextGen),
		}, nil); err != nil {
			return rs.gen, 0, fmt.Errorf("store the new root key: %w", err)
		}
		n.log.Info("root key rotation: new root key sealed and stored", "generation", nextGen)
		rotateStep("next-stored")
	} else {
		n.log.Info("root key rotation: resuming an unfinished one", "generation", nextGen)
		if raw, err = p.Unseal(next); err != nil {
			return rs.gen, 0, fmt.Errorf("unseal the new root key an unfinished rotation stored: %w", err)
		}
		defer clear(raw)
	}

	// 2. Wrap with it from now on.
	root := a.root
	held := false
	for _, g := range root.Generations() {
		held = held || g == nextGen
	}
	if !held {
		if err := root.AddGeneration(raw, nextGen); err != nil {
			return rs.gen, 0, err
		}
	}
	clear(raw)
	if err := root.UseGeneration(nextGen); err != nil {
		return rs.gen, 0, err
	}

	// 3. Requests and jobs that began before may have wrapped a value with
	// the old generation and not stored it yet: wait for them to finish.
	// A request still reading its body has wrapped nothing: the pause ends
	// such reads (the clients get a 503 and retry), so that the barrier
	// waits for no slow client, nor holds every request behind it.
	resume := func() {}
	if a.pauseBodyReads != nil {
		resume = a.pauseBodyReads()
	}
	a.inflight.Lock()
	//lint:ignore SA2001 an empty critical section is the point: a barrier
	a.inflight.Unlock()
	resume()
	a.jobMu.Lock()
	//lint:ignore SA2001 as above
	a.jobMu.Unlock()

	// 4. Rewrap until a pass finds nothing of another generation.
	total := 0
	for pass := 0; ; pass++ {
		k, err := rewrapPass(ctx, rw, n.st, root, nextGen, func() {
			total++
			rotateStep("rewrapped-" + strconv.Itoa(total))
		})
		if err != nil {
			return rs.gen, total, err
		}
		if k == 0 {
			break
		}
		if pass >= 10 {
			return rs.gen, total, fmt.Errorf("stored values of an old root key keep appearing (%d in the last pass); run rotate-root again", k)
		}
	}

	// 5. Commit: the new root key is the installation's; the old is gone.
	rotateStep("before-commit")
	if err := guard.beforeCommit(ctx); err != nil {
		return rs.gen, total, err
	}
	if err := rw.UpdateSettings(ctx, map[string][]byte{
		settingSealedRoot: next, settingRootGeneration: encodeGeneration(nextGen),
	}, []string{settingNextRoot, settingNextRootGeneration}); err != nil {
		return rs.gen, total, fmt.Errorf("commit the new root key (every secret is rewrapped; rerun to commit): %w", err)
	}
	rotateStep("committed")
	for _, g := range root.Generations() {
		if g != nextGen {
			if err := root.RetireGeneration(g); err != nil {
				return nextGen, total, err
			}
		}
	}
	return nextGen, total, nil
}

// rewrapPass rewraps every stored value that is not of generation gen
// and returns how many it found; after each one it calls step.
//
// The bindings (aad) each value was wrapped with are rebuilt here as
// their owners build them: kms.BackingKeyAAD for backing keys, iam.secretAAD
// for access-key secrets, auditKeyAAD for the audit signing key. A
// mismatch cannot go unnoticed: the Unwrap below fails, and the rotation
// stops before retiring anything.
func rewrapPass(ctx context.Context, rw store.Rewrap, st store.Store, root *seal.RootKey, gen uint32, step func()) (int, error) {
	found := 0
	rewrap := func(what string, old, aad []byte, replace func(new []byte) error) error {
		if g, err := seal.WrappedGeneration(old); err == nil && g == gen {
			return nil
		}
		found++
		pt, err := root.Unwrap(old, aad)
		if err != nil {
			return fmt.Errorf("rewrap %s: %w", what, err)
		}
		nw, err := root.Wrap(pt, aad)
		clear(pt)
		if err != nil {
			return fmt.Errorf("rewrap %s: %w", what, err)
		}
		switch err := replace(nw); {
		case errors.Is(err, store.ErrNotFound):
			// Deleted meanwhile: nothing to keep.
		case errors.Is(err, store.ErrConflict):
			// Changed meanwhile: the next pass looks again.
		case err != nil:
			return fmt.Errorf("rewrap %s: %w", what, err)
		default:
			step()
		}
		return nil
	}

	afterKey, afterVersion := "", uint32(0)
	for {
		vs, err := rw.WrappedKeyVersions(ctx, afterKey, afterVersion, 256)
		if err != nil {
			return found, err
		}
		if len(vs) == 0 {
			break
		}
		for _, v := range vs {
			aad := kms.BackingKeyAAD(v.Region, v.Account, v.KeyID, v.Version)
			what := fmt.Sprintf("key %s version %d", v.KeyID, v.Version)
			if err := rewrap(what, v.Wrapped, aad, func(nw []byte) error {
				return rw.ReplaceWrappedKeyVersion(ctx, v.KeyID, v.Version, v.Wrapped, nw)
			}); err != nil {
				return found, err
			}
		}
		afterKey, afterVersion = vs[len(vs)-1].KeyID, vs[len(vs)-1].Version
	}

	aks, err := st.ListAccessKeys(ctx)
	if err != nil {
		return found, err
	}
	for _, k := range aks {
		if err := rewrap("access key "+k.ID, k.WrappedSecret, []byte("trent/access-key/"+k.ID), func(nw []byte) error {
			return rw.ReplaceWrappedSecret(ctx, k.ID, k.WrappedSecret, nw)
		}); err != nil {
			return found, err
		}
	}

	w, err := st.GetSetting(ctx, settingAuditKey)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return found, err
	default:
		if err := rewrap("the audit signing key", w, auditKeyAAD, func(nw []byte) error {
			return rw.ReplaceSetting(ctx, settingAuditKey, w, nw)
		}); err != nil {
			return found, err
		}
	}
	return found, nil
}

// openSeal opens the installation's current seal as a Provider that both
// seals and unseals, for the operations that seal the root key again
// (rotation, rekey, migration): the key file or the token the
// configuration names, or the key that shares rebuild, checked against
// the stored sealed root key. done releases it (logs out of the token,
// zeroes the shares' key).
func openSeal(ctx context.Context, cfg *Config, mode, sealType string, st store.Settings, shares []string, sealed []byte) (seal.Provider, func(), error) {
	stype, ok := sealTypes[sealType]
	if !ok {
		return nil, nil, fmt.Errorf("sealed by %q, which this build of Trent does not know", sealType)
	}
	m, err := stype.start(ctx, cfg, mode, st)
	if err != nil {
		return nil, nil, err
	}
	if m.auto != nil {
		done := func() {
			if c, ok := m.auto.(io.Closer); ok {
				c.Close()
			}
		}
		if len(shares) > 0 {
			done()
			return nil, nil, fmt.Errorf("%w: unseal shares do not apply: the installation is sealed by %s", server.ErrRefused, sealType)
		}
		raw, err := m.auto.Unseal(sealed)
		clear(raw)
		if err != nil {
			done()
			return nil, nil, fmt.Errorf("the seal does not open the stored root key: %w", err)
		}
		return m.auto, done, nil
	}
	_, need := m.shares.Progress()
	if len(shares) < need {
		return nil, nil, fmt.Errorf("%w: the installation is sealed by Shamir shares: %d of its unseal shares are needed, %d given", server.ErrRefused, need, len(shares))
	}
	for i, s := range shares {
		if err := m.shares.Add(s); err != nil {
			m.shares.Reset()
			return nil, nil, fmt.Errorf("%w: unseal share %d of those given: %w", server.ErrRefused, i+1, err)
		}
	}
	p, err := m.shares.Provider(sealed)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", server.ErrRefused, err)
	}
	return p, p.Destroy, nil
}

func clearStrings(ss []string) {
	// Go strings are immutable; dropping the references is what we can do.
	clear(ss)
}
