// Package kms implements the AWS KMS operations on top of the store, the
// root key and the key crypto. It is the only package that knows them all.
// Handlers receive typed inputs from internal/awsproto and return typed
// outputs or *apierr.Error values; they never build JSON or pick HTTP status
// codes, and they never return backing key material.
//
// Key metadata and unwrapped backing keys are cached in memory so that
// Encrypt and Decrypt never read storage; every write goes through this
// package, which replaces the cache entry after the store accepted it
// (cache.go has the rules).
package kms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/clock"
	"github.com/trent-kms/trent/internal/ids"
	"github.com/trent-kms/trent/internal/keys"
	"github.com/trent-kms/trent/internal/seal"
	"github.com/trent-kms/trent/internal/store"
)

// Key states, usages, specs and algorithms as AWS spells them.
const (
	StateEnabled         = "Enabled"
	StateDisabled        = "Disabled"
	StatePendingDeletion = "PendingDeletion"

	UsageEncryptDecrypt    = "ENCRYPT_DECRYPT"
	UsageSignVerify        = "SIGN_VERIFY"
	UsageGenerateVerifyMac = "GENERATE_VERIFY_MAC"
	UsageKeyAgreement      = "KEY_AGREEMENT"
	SpecSymmetric          = "SYMMETRIC_DEFAULT"
	AlgSymmetric           = "SYMMETRIC_DEFAULT"
	OriginAWSKMS           = "AWS_KMS"
)

// Config is what a Service needs.
type Config struct {
	Store   store.Store
	Root    *seal.RootKey
	Account string
	Region  string
	Clock   clock.Clock
	Logger  *slog.Logger
}

// Service runs KMS operations for one account and region.
type Service struct {
	store   store.Store
	root    *seal.RootKey
	account string
	region  string
	clock   clock.Clock
	log     *slog.Logger

	// writeMu serialises every change to keys and aliases: a writer reads
	// the key (cache or store), writes the store, and publishes the result
	// while holding it. Lookups, cached or not, never take it (cache.go).
	writeMu sync.Mutex
	keys    sync.Map // key id → *keyEntry
	aliases sync.Map // alias name → key id

	// cacheMu orders every publication to keys, aliases and missing, by
	// the rules in cache.go. It nests inside writeMu and is held only for
	// map updates, never across a store call.
	cacheMu  sync.Mutex
	removals uint64               // keys removed from the cache, ever
	aliasGen uint64               // alias changes, ever
	missing  map[string]time.Time // key ids the store does not have → until when
	loading  map[string]*keyLoad  // key id → its store read in flight

	// newID makes the id of a new key (ids.NewUUID; tests choose).
	newID func() string

	// beforeJobWrite, when set (by tests only), runs in the lifecycle job
	// between its read of a key and its write, so tests can commit a
	// change in exactly that gap.
	beforeJobWrite func(keyID string)
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Root == nil {
		return nil, errors.New("kms: store and root key are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{
		store: cfg.Store, root: cfg.Root, account: cfg.Account, region: cfg.Region,
		clock: cfg.Clock, log: cfg.Logger,
		missing: map[string]time.Time{}, loading: map[string]*keyLoad{},
		newID: ids.NewUUID,
	}, nil
}

// keyEntry is an immutable snapshot of a key: its metadata and its unwrapped
// backing keys. Writers publish a new entry instead of changing one.
type keyEntry struct {
	meta     store.Key
	arn      string
	versions map[uint32]*backing
	current  *backing
}

type backing struct {
	version      uint32
	materialID   string
	material     []byte
	createdAt    time.Time
	rotationType string
	// private is the parsed form of an asymmetric key's material, so
	// Sign, Decrypt and the rest do not parse PKCS#8 per request.
	private *keys.Private
}

// newBacking builds the cache form of a key version.
func newBacking(spec string, version uint32, materialID string, material []byte, createdAt time.Time, rotationType string) (*backing, error) {
	b := &backing{version: version, materialID: materialID, material: material, createdAt: createdAt, rotationType: rotationType}
	if isAsymmetric(spec) {
		p, err := keys.ParsePrivate(spec, material)
		if err != nil {
			return nil, fmt.Errorf("parse %s material of version %d: %w", spec, version, err)
		}
		b.private = p
	}
	return b, nil
}

func isAsymmetric(spec string) bool {
	return spec != SpecSymmetric && !strings.HasPrefix(spec, "HMAC_")
}

func (s *Service) keyARN(id string) string {
	return "arn:aws:kms:" + s.region + ":" + s.account + ":key/" + id
}

func (s *Service) aliasARN(name string) string {
	return "arn:aws:kms:" + s.region + ":" + s.account + ":" + name
}

// wrapAAD binds a wrapped backing key to its key and version, so a wrapped
// value copied to another row does not unwrap.
func wrapAAD(arn string, version uint32) []byte {
	return []byte(arn + "#v" + strconv.FormatUint(uint64(version), 10))
}

func (s *Service) buildEntry(k store.Key, versions []store.KeyVersion) (*keyEntry, error) {
	e := &keyEntry{meta: k, arn: s.keyARN(k.ID), versions: make(map[uint32]*backing, len(versions))}
	for _, v := range versions {
		material, err := s.root.Unwrap(v.Wrapped, wrapAAD(e.arn, v.Version))
		if err != nil {
			return nil, fmt.Errorf("unwrap key %s version %d: %w", k.ID, v.Version, err)
		}
		b, err := newBacking(k.KeySpec, v.Version, v.MaterialID, material, v.CreatedAt, v.RotationType)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", k.ID, err)
		}
		e.versions[v.Version] = b
	}
	e.current = e.versions[k.CurrentVersion]
	if e.current == nil {
		return nil, fmt.Errorf("key %s: current version %d has no material", k.ID, k.CurrentVersion)
	}
	return e, nil
}

// materialID is the KeyMaterialId AWS reports for version b of e: only
// symmetric encryption keys have one ("present only when the operation
// uses a symmetric encryption KMS key").
func (e *keyEntry) materialID(b *backing) string {
	if b == nil || e.meta.KeySpec != SpecSymmetric {
		return ""
	}
	return b.materialID
}

// withMeta returns a copy of e with new metadata and the same material.
func (e *keyEntry) withMeta(k store.Key) *keyEntry {
	n := *e
	n.meta = k
	n.current = e.versions[k.CurrentVersion]
	return &n
}

// resolve finds the key a KeyId member names. Key ids and key ARNs are
// always accepted; alias names and alias ARNs only where allowAlias.
func (s *Service) resolve(ctx context.Context, keyID string, allowAlias bool) (*keyEntry, error) {
	id := keyID
	if strings.HasPrefix(keyID, "arn:") {
		parts := strings.SplitN(keyID, ":", 6)
		if len(parts) != 6 || parts[2] != "kms" || !strings.HasPrefix(parts[1], "aws") {
			return nil, apierr.New(apierr.NotFound, "Invalid arn %s", keyID)
		}
		if parts[3] != s.region {
			return nil, apierr.New(apierr.NotFound, "Invalid arn %s", parts[3])
		}
		resource := parts[5]
		switch {
		case strings.HasPrefix(resource, "key/"):
			id = strings.TrimPrefix(resource, "key/")
			if parts[4] != s.account {
				return nil, apierr.New(apierr.NotFound, "Key '%s' does not exist", keyID)
			}
		case strings.HasPrefix(resource, "alias/") && allowAlias:
			if parts[4] != s.account {
				return nil, apierr.New(apierr.NotFound, "Alias %s is not found.", keyID)
			}
			return s.resolveAlias(ctx, resource)
		default:
			return nil, apierr.New(apierr.NotFound, "Invalid keyId '%s'", keyID)
		}
	} else if strings.HasPrefix(keyID, "alias/") {
		if !allowAlias {
			return nil, apierr.New(apierr.NotFound, "Invalid keyId '%s'", keyID)
		}
		return s.resolveAlias(ctx, keyID)
	}
	if !isUUID(id) {
		if strings.HasPrefix(id, "mrk-") && len(id) == 36 && isHex(id[4:]) {
			return nil, apierr.New(apierr.NotFound, "Key '%s' does not exist", s.keyARN(id))
		}
		return nil, apierr.New(apierr.NotFound, "Invalid keyId '%s'", keyID)
	}
	return s.entry(ctx, strings.ToLower(id))
}

func (s *Service) resolveAlias(ctx context.Context, name string) (*keyEntry, error) {
	if id, ok := s.aliases.Load(name); ok {
		return s.entry(ctx, id.(string))
	}
	gen := s.aliasGeneration()
	a, err := s.store.GetAlias(ctx, s.account, s.region, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, apierr.New(apierr.NotFound, "Alias %s is not found.", s.aliasARN(name))
	}
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("load alias %s: %w", name, err))
	}
	s.publishAlias(name, a.KeyID, gen)
	return s.entry(ctx, a.KeyID)
}

// usable reports whether a key may be used for cryptographic operations.
func usable(e *keyEntry) error { return enabled(e.arn, &e.meta) }

// enabled is the key-state rule of the operations that need an Enabled
// key: the cryptographic ones and those that change rotation.
func enabled(arn string, k *store.Key) error {
	switch k.State {
	case StateEnabled:
		return nil
	case StateDisabled:
		return apierr.New(apierr.Disabled, "%s is disabled.", arn)
	}
	if err := notPendingDeletion(arn, k); err != nil {
		return err
	}
	return apierr.New(apierr.KMSInvalidState, "%s is in state %s.", arn, k.State)
}

// notPendingDeletion is the state rule of most management operations.
func notPendingDeletion(arn string, k *store.Key) error {
	if k.State == StatePendingDeletion {
		return apierr.New(apierr.KMSInvalidState, "%s is pending deletion.", arn)
	}
	return nil
}

// update applies change to the stored key under the write lock and
// publishes the result. change may return an *apierr.Error to refuse.
func (s *Service) update(ctx context.Context, e *keyEntry, change func(k *store.Key) error) (*keyEntry, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	cur, err := s.entry(ctx, e.meta.ID)
	if err != nil {
		return nil, err
	}
	k := cur.meta
	k.Tags = append([]store.Tag(nil), cur.meta.Tags...)
	if err := change(&k); err != nil {
		return nil, err
	}
	stored, err := s.store.UpdateKey(ctx, k)
	if err != nil {
		s.forget(k.ID) // it may be stale
		return nil, apierr.Internal(fmt.Errorf("update key %s: %w", k.ID, err))
	}
	n := cur.withMeta(stored)
	s.publish(n)
	return n, nil
}

// addVersion creates and stores a new backing key for e and makes it current.
func (s *Service) addVersion(ctx context.Context, id string, rotationType string, change func(k *store.Key) error) (*keyEntry, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	cur, err := s.entry(ctx, id)
	if err != nil {
		return nil, err
	}
	k := cur.meta
	if err := change(&k); err != nil {
		return nil, err
	}
	v, material, err := s.newVersion(cur.arn, k.ID, k.KeySpec, k.CurrentVersion+1, rotationType)
	if err != nil {
		return nil, apierr.Internal(err)
	}
	k.CurrentVersion = v.Version
	stored, err := s.store.AddKeyVersion(ctx, k, v)
	if err != nil {
		s.forget(id) // it may be stale
		return nil, apierr.Internal(fmt.Errorf("rotate key %s: %w", id, err))
	}
	versions := make(map[uint32]*backing, len(cur.versions)+1)
	for n, b := range cur.versions {
		versions[n] = b
	}
	b, err := newBacking(k.KeySpec, v.Version, v.MaterialID, material, v.CreatedAt, rotationType)
	if err != nil {
		return nil, apierr.Internal(err)
	}
	versions[v.Version] = b
	n := &keyEntry{meta: stored, arn: cur.arn, versions: versions, current: versions[v.Version]}
	s.publish(n)
	return n, nil
}

func (s *Service) now() time.Time { return s.clock.Now().UTC() }

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHexByte(c) {
				return false
			}
		}
	}
	return true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHexByte(s[i]) {
			return false
		}
	}
	return true
}

func isHexByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
