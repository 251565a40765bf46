package seal

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// Root-key generations. A rotation (`trent rotate-root`) makes a new root
// key, the next generation, and rewraps every stored secret from the old
// generation to the new one while both are in the ring; once none is left
// under the old one it is retired. So that a stored value says which
// generation opens it — and a rotation can tell what is left to do — a
// value wrapped by generation g ≥ 1 is, format 2:
//
//	0x02 ‖ g (uint32 big-endian) ‖ nonce (12) ‖ AES-256-GCM ciphertext ‖ tag (16)
//
// with additional data
//
//	len(label) ‖ label ‖ 0x02 ‖ g ‖ len(aad) ‖ aad     (lengths uint32 big-endian)
//
// and label "trent/wrap/v2". Generation 0, an installation's first root
// key, keeps writing format 1 (seal.go), so that an installation never
// rotated stores exactly what earlier builds stored. The generation is
// authenticated: a value whose generation byte was changed does not open
// under the other key either.

const (
	wrapFormat2   = 0x02
	wrapLabel2    = "trent/wrap/v2"
	wrapHeader2   = 1 + 4
	wrapOverhead2 = wrapHeader2 + gcmOverhead
)

// ErrGeneration reports a wrapped value of a root-key generation the key
// does not hold (retired, or not yet added). Errors wrapping it also wrap
// ErrUnwrap.
var ErrGeneration = errors.New("root key generation not held")

// keyring is an immutable snapshot: changes build a new one and swap it in,
// so Wrap and Unwrap never lock.
type keyring struct {
	current uint32
	gens    []generation // at most two: the current and the one being rotated from or to
}

type generation struct {
	gen  uint32
	aead cipher.AEAD
}

func (r *keyring) aead(gen uint32) cipher.AEAD {
	for _, g := range r.gens {
		if g.gen == gen {
			return g.aead
		}
	}
	return nil
}

// NewRootKeyGeneration returns a RootKey for raw (RootKeySize bytes) as
// generation gen, the current one. raw is not retained.
func NewRootKeyGeneration(raw []byte, gen uint32) (*RootKey, error) {
	if len(raw) != RootKeySize {
		return nil, fmt.Errorf("seal: root key must be %d bytes, got %d", RootKeySize, len(raw))
	}
	aead, err := newAEAD(raw)
	if err != nil {
		return nil, err
	}
	k := new(RootKey)
	k.ring.Store(&keyring{current: gen, gens: []generation{{gen, aead}}})
	return k, nil
}

// Generation returns the generation Wrap uses.
func (k *RootKey) Generation() (uint32, error) {
	r := k.ring.Load()
	if r == nil {
		return 0, ErrDestroyed
	}
	return r.current, nil
}

// Generations returns the generations Unwrap opens, in ascending order.
func (k *RootKey) Generations() []uint32 {
	r := k.ring.Load()
	if r == nil {
		return nil
	}
	var out []uint32
	for _, g := range r.gens {
		out = append(out, g.gen)
	}
	slices.Sort(out)
	return out
}

// AddGeneration adds raw as generation gen, which Unwrap opens from now
// on; Wrap keeps its generation until UseGeneration. Adding a generation
// the key holds already is an error, as is holding more than two: a
// rotation retires one before it starts the next. raw is not retained.
func (k *RootKey) AddGeneration(raw []byte, gen uint32) error {
	if len(raw) != RootKeySize {
		return fmt.Errorf("seal: root key must be %d bytes, got %d", RootKeySize, len(raw))
	}
	aead, err := newAEAD(raw)
	if err != nil {
		return err
	}
	for {
		r := k.ring.Load()
		if r == nil {
			return ErrDestroyed
		}
		if r.aead(gen) != nil {
			return fmt.Errorf("seal: root key generation %d is held already", gen)
		}
		if len(r.gens) >= 2 {
			return fmt.Errorf("seal: root key holds generations %v already; retire one first", k.Generations())
		}
		n := &keyring{current: r.current, gens: append(slices.Clip(r.gens), generation{gen, aead})}
		if k.ring.CompareAndSwap(r, n) {
			return nil
		}
	}
}

// UseGeneration makes Wrap use generation gen, which the key must hold.
func (k *RootKey) UseGeneration(gen uint32) error {
	for {
		r := k.ring.Load()
		if r == nil {
			return ErrDestroyed
		}
		if r.aead(gen) == nil {
			return fmt.Errorf("seal: %w %d", ErrGeneration, gen)
		}
		n := &keyring{current: gen, gens: r.gens}
		if k.ring.CompareAndSwap(r, n) {
			return nil
		}
	}
}

// RetireGeneration drops generation gen: Unwrap refuses its values from
// now on (ErrGeneration). The current generation cannot be retired.
// Retiring a generation the key does not hold does nothing.
func (k *RootKey) RetireGeneration(gen uint32) error {
	for {
		r := k.ring.Load()
		if r == nil {
			return ErrDestroyed
		}
		if r.current == gen {
			return fmt.Errorf("seal: generation %d is the one Wrap uses; it cannot be retired", gen)
		}
		if r.aead(gen) == nil {
			return nil
		}
		n := &keyring{current: r.current}
		for _, g := range r.gens {
			if g.gen != gen {
				n.gens = append(n.gens, g)
			}
		}
		if k.ring.CompareAndSwap(r, n) {
			return nil
		}
	}
}

// WrappedGeneration returns the root-key generation a wrapped value names,
// from its header alone (nothing is authenticated: Unwrap is what trusts
// it). An empty value or an unknown format is an error.
func WrappedGeneration(wrapped []byte) (uint32, error) {
	switch {
	case len(wrapped) == 0:
		return 0, fmt.Errorf("%w: empty value", ErrUnwrap)
	case wrapped[0] == wrapFormat1:
		return 0, nil
	case wrapped[0] == wrapFormat2 && len(wrapped) >= wrapHeader2:
		return binary.BigEndian.Uint32(wrapped[1:wrapHeader2]), nil
	case wrapped[0] == wrapFormat2:
		return 0, fmt.Errorf("%w: %d bytes is too short", ErrUnwrap, len(wrapped))
	}
	return 0, fmt.Errorf("%w: %w 0x%02x", ErrUnwrap, ErrUnknownFormat, wrapped[0])
}

func wrapAD2(gen uint32, aad []byte) ([]byte, error) {
	if uint64(len(aad)) > maxAADLen {
		return nil, errors.New("seal: aad too long")
	}
	ad := make([]byte, 0, 4+len(wrapLabel2)+wrapHeader2+4+len(aad))
	ad = binary.BigEndian.AppendUint32(ad, uint32(len(wrapLabel2)))
	ad = append(ad, wrapLabel2...)
	ad = append(ad, wrapFormat2)
	ad = binary.BigEndian.AppendUint32(ad, gen)
	ad = binary.BigEndian.AppendUint32(ad, uint32(len(aad)))
	return append(ad, aad...), nil
}

func (r *keyring) wrap2(plaintext, aad []byte) ([]byte, error) {
	ad, err := wrapAD2(r.current, aad)
	if err != nil {
		return nil, err
	}
	out := make([]byte, wrapHeader2, len(plaintext)+wrapOverhead2)
	out[0] = wrapFormat2
	binary.BigEndian.PutUint32(out[1:], r.current)
	return r.aead(r.current).Seal(out, nil, plaintext, ad), nil
}

func (r *keyring) unwrap2(wrapped, aad []byte) ([]byte, error) {
	if len(wrapped) < wrapOverhead2 {
		return nil, fmt.Errorf("%w: %d bytes is too short", ErrUnwrap, len(wrapped))
	}
	gen := binary.BigEndian.Uint32(wrapped[1:wrapHeader2])
	aead := r.aead(gen)
	if aead == nil {
		return nil, fmt.Errorf("%w: %w %d", ErrUnwrap, ErrGeneration, gen)
	}
	ad, err := wrapAD2(gen, aad)
	if err != nil {
		return nil, err
	}
	plaintext, err := aead.Open(make([]byte, 0, len(wrapped)-wrapOverhead2), nil, wrapped[wrapHeader2:], ad)
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed (another root key, another binding, or a modified value)", ErrUnwrap)
	}
	return plaintext, nil
}
