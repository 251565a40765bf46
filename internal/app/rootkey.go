package app

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/trent-kms/trent/internal/seal"
	"github.com/trent-kms/trent/internal/store"
)

// The root key's generations (see seal/rotation.go). The store holds the
// sealed root key of the current generation in settingSealedRoot and its
// number in settingRootGeneration (absent: 0, an installation never
// rotated). While `trent rotate-root` runs, and after a crash in one, the
// next generation's root key, sealed by the same seal, waits in
// settingNextRoot with its number in settingNextRootGeneration: every
// start unseals both, so a secret is readable whichever of the two wraps
// it at that moment.
const (
	settingRootGeneration     = "seal.root.generation"
	settingNextRoot           = "seal.root.next"
	settingNextRootGeneration = "seal.root.next.generation"
)

// rootState is what the store says about the sealed root key.
type rootState struct {
	sealed  []byte
	gen     uint32
	next    []byte // nil unless a rotation is under way
	nextGen uint32
}

func loadRootState(ctx context.Context, st store.Settings) (*rootState, error) {
	rs := new(rootState)
	var err error
	if rs.sealed, err = st.GetSetting(ctx, settingSealedRoot); err != nil {
		return nil, fmt.Errorf("read sealed root key: %w", err)
	}
	if rs.gen, err = getGeneration(ctx, st, settingRootGeneration); err != nil {
		return nil, err
	}
	rs.next, err = st.GetSetting(ctx, settingNextRoot)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return rs, nil
	case err != nil:
		return nil, fmt.Errorf("read the next root key: %w", err)
	}
	if rs.nextGen, err = getGeneration(ctx, st, settingNextRootGeneration); err != nil {
		return nil, err
	}
	if rs.nextGen != rs.gen+1 {
		return nil, fmt.Errorf("the store holds root key generation %d and, being rotated to, generation %d: not the next one", rs.gen, rs.nextGen)
	}
	return rs, nil
}

func getGeneration(ctx context.Context, st store.Settings, name string) (uint32, error) {
	b, err := st.GetSetting(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound) && name == settingRootGeneration:
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("read setting %s: %w", name, err)
	case len(b) != 4:
		return 0, fmt.Errorf("setting %s is %d bytes, not a 4-byte generation", name, len(b))
	}
	return binary.BigEndian.Uint32(b), nil
}

func encodeGeneration(g uint32) []byte { return binary.BigEndian.AppendUint32(nil, g) }

// unsealRoot opens the root key rs describes with p: the current
// generation and, during a rotation, the next one too, which new values
// are then wrapped with (a rerun of the rotation has less left to do).
func unsealRoot(p seal.Provider, rs *rootState) (*seal.RootKey, error) {
	raw, err := p.Unseal(rs.sealed)
	if err != nil {
		return nil, fmt.Errorf("unseal root key: %w", err)
	}
	defer clear(raw)
	root, err := seal.NewRootKeyGeneration(raw, rs.gen)
	if err != nil {
		return nil, err
	}
	if rs.next == nil {
		return root, nil
	}
	fail := func(err error) (*seal.RootKey, error) {
		root.Destroy()
		return nil, err
	}
	next, err := p.Unseal(rs.next)
	if err != nil {
		return fail(fmt.Errorf("unseal the next root key (a root-key rotation is under way): %w", err))
	}
	defer clear(next)
	if err := root.AddGeneration(next, rs.nextGen); err != nil {
		return fail(err)
	}
	if err := root.UseGeneration(rs.nextGen); err != nil {
		return fail(err)
	}
	return root, nil
}
