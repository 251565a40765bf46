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
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/clock"
	"github.com/trent-kms/trent/internal/keys"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/seal"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/throttle"
)

// Key states, usages, specs and algorithms as AWS spells them.
const (
	StateEnabled         = "Enabled"
	StateDisabled        = "Disabled"
	StatePendingDeletion = "PendingDeletion"
	StatePendingImport   = "PendingImport"

	UsageEncryptDecrypt    = "ENCRYPT_DECRYPT"
	UsageSignVerify        = "SIGN_VERIFY"
	UsageGenerateVerifyMac = "GENERATE_VERIFY_MAC"
	UsageKeyAgreement      = "KEY_AGREEMENT"
	SpecSymmetric          = "SYMMETRIC_DEFAULT"
	AlgSymmetric           = "SYMMETRIC_DEFAULT"
	OriginAWSKMS           = "AWS_KMS"
	OriginExternal         = "EXTERNAL"
)

// Config is what a Service needs. A Service serves every account and
// region: a request's account comes from its caller and its region from
// its SigV4 scope (Request), so a default account or region is the
// caller's business, not the service's.
type Config struct {
	Store store.Store
	Root  *seal.RootKey
	// Identities tells authorization what the caller's identity-based
	// policies are and whether a principal named in a key policy exists.
	// nil means callers have no identity-based policies and every
	// principal is taken to exist.
	Identities Identities
	// ServiceEvents records the audit events of the work Trent does on its
	// own (a key deleted at the end of its waiting period, an automatic
	// rotation), as AWS records them: AwsServiceEvent, DeleteKey and
	// RotateKey. nil records nothing.
	ServiceEvents func(ctx context.Context, evs ...*audit.Event) error
	// LastUsage answers GetKeyLastUsage from the audit log
	// (audit.Log.LastUsage): the key's last successful cryptographic use,
	// whether there is one, and since when uses are tracked. The log keeps
	// it in memory as events become durable, so the cryptographic
	// operations write nothing extra for it. nil: GetKeyLastUsage answers
	// UnsupportedOperationException, as there is nothing to answer from.
	LastUsage func(ctx context.Context, keyARN string) (audit.Usage, bool, time.Time, error)
	Clock     clock.Clock
	Logger    *slog.Logger
	// FIPS140 refuses key specs whose algorithms Go's FIPS 140-3 module
	// does not provide (spec.go). The caller sets it from
	// crypto/fips140.Enabled(); tests set it directly.
	FIPS140 bool
	// KeyCache bounds the keys kept unwrapped in memory; nil means
	// DefaultCacheConfig.
	KeyCache *CacheConfig
	// Throttle takes a token from the bucket of quota class c of
	// (account, region) and reports whether there was one
	// (throttle.Limiter.Allow); a request without one answers
	// ThrottlingException. nil throttles nothing.
	Throttle func(account, region string, c throttle.Class) bool
}

// Service runs KMS operations for every account and region. Keys, aliases
// and grants live in (account, region); every lookup names both, so a key
// of one region or account is never found through another's name for it
// (tenancy.go).
type Service struct {
	store  store.Store
	root   *seal.RootKey
	ids    Identities
	events func(ctx context.Context, evs ...*audit.Event) error
	usage  func(ctx context.Context, keyARN string) (audit.Usage, bool, time.Time, error)
	clock  clock.Clock
	log    *slog.Logger
	// fips140 is Config.FIPS140.
	fips140 bool
	// throttle is Config.Throttle.
	throttle func(account, region string, c throttle.Class) bool

	// writeMu serialises every change to keys, aliases and grants: a writer
	// reads the key (cache or store), writes the store, and publishes the
	// result while holding it. Lookups, cached or not, never take it
	// (cache.go).
	//
	// CreateKey does not take it, so that concurrent creations reach the
	// store together and share its commits. It needs none of what writeMu
	// guards: it reads nothing it writes back (the key is new, under a
	// random id no other request can name until the store has it; the
	// store refuses a duplicate id), it touches no alias, and its publish
	// follows the cache rules under cacheMu like any fill — a writer that
	// loaded the new key from the store and changed it meanwhile holds a
	// higher revision, which publish never replaces, and the deletion and
	// rotation jobs find a key only in the store, after its creation
	// committed.
	writeMu    sync.Mutex
	keys       idMap[*keyEntry] // key id → entry, of any account and region
	aliases    sync.Map         // aliasKey → key id
	keyAliases idMap[[]string]  // key id → the key's alias names (kms:ResourceAliases)
	grants     idMap[*grantSet] // key id → its grants (grants.go)

	// cacheMu orders every publication to the caches by the rules in
	// cache.go. It nests inside writeMu and is held only for map updates,
	// never across a store call.
	cacheMu  sync.Mutex
	removals uint64               // keys removed from the cache, ever
	aliasGen uint64               // alias changes, ever
	grantGen uint64               // grant changes, ever
	missing  map[string]time.Time // key ids the store does not have → until when
	loading  map[string]*keyLoad  // key id → its store read in flight

	// The bounds of the key cache (keycache.go): the cached keys, for
	// sampling and sweeping, and the bytes of material they hold; both
	// under cacheMu.
	cache      CacheConfig
	slots      []*cacheSlot
	cacheBytes int64
	// cstats counts the cache's hits, misses and evictions (cachestats.go).
	cstats cacheCounters

	// Reclamation of the material the cache drops (reclaim.go): the
	// epoch, the requests in flight per epoch parity, and the material
	// waiting for them (retired under cacheMu; pending is its length).
	epoch   atomic.Uint64
	active  [2]section
	retired []retiredMaterial
	pending atomic.Int64

	// names interns condition key names built from request data
	// (kms:EncryptionContext:<k>, aws:PrincipalTag/<k>), so that building a
	// request's policy context does not allocate them each time.
	names nameCaches

	// newID makes the id of a new key (idSource.next, keyid.go; tests
	// choose).
	newID func() string
	// maxGrants is the grant quota of a key (maxGrantsPerKey; tests
	// lower it).
	maxGrants int

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
	cache := DefaultCacheConfig
	if cfg.KeyCache != nil {
		cache = *cfg.KeyCache
	}
	if err := cache.Check(); err != nil {
		return nil, err
	}
	s := &Service{
		store: cfg.Store, root: cfg.Root, ids: cfg.Identities, events: cfg.ServiceEvents, usage: cfg.LastUsage,
		clock: cfg.Clock, log: cfg.Logger,
		missing: map[string]time.Time{}, loading: map[string]*keyLoad{},
		names: nameCaches{ec: nameCache{prefix: prefixEC}, principalTag: nameCache{prefix: prefixPrincipalTag}},
		newID: (&idSource{now: cfg.Clock.Now}).next, maxGrants: maxGrantsPerKey, fips140: cfg.FIPS140, throttle: cfg.Throttle,
		cache: cache,
	}
	s.epoch.Store(firstEpoch)
	return s, nil
}

// keyEntry is an immutable snapshot of a key: its metadata, its unwrapped
// backing keys, and what authorization needs of it prepared once per
// revision. Writers publish a new entry instead of changing one.
type keyEntry struct {
	meta     store.Key
	arn      string
	versions map[uint32]*backing
	current  *backing

	// policy is the key policy compiled, so no request parses it; policyErr
	// is set instead when the stored text does not compile, and every
	// request on the key then fails closed.
	policy    *policy.Compiled
	policyErr error
	// resourceTags are the aws:ResourceTag/<key> condition keys of the
	// key's tags, names lower-cased.
	resourceTags []condKV

	// slot is the cache's record of the key, set when the entry is
	// published (publishLocked) and nil if it never was.
	slot *cacheSlot

	// imported holds, for a key of Origin EXTERNAL, every version's
	// import metadata (material not included), those whose material was
	// deleted or expired too (import.go). nil for other keys.
	imported map[uint32]store.KeyVersion
}

// condKV is a prepared condition key and its value.
type condKV struct{ name, value string }

type backing struct {
	version    uint32
	materialID string
	// materialEvent is the additionalEventData of an audit event for an
	// operation that used this material, {"keyMaterialId":"…"}, made once
	// here rather than per request (nil without a material id).
	materialEvent json.RawMessage
	material      []byte
	createdAt     time.Time
	rotationType  string
	// private is the parsed form of an asymmetric key's material, so
	// Sign, Decrypt and the rest do not parse PKCS#8 per request.
	private *keys.Private
	// retired is set, under cacheMu, when the material left the cache for
	// good and waits to be zeroed (reclaim.go).
	retired bool
}

// newBacking builds the cache form of a key version.
func newBacking(spec string, version uint32, materialID string, material []byte, createdAt time.Time, rotationType string) (*backing, error) {
	b := &backing{version: version, materialID: materialID, material: material, createdAt: createdAt, rotationType: rotationType}
	if materialID != "" {
		b.materialEvent = materialEvent(materialID)
	}
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

func keyARN(region, account, id string) string {
	return "arn:aws:kms:" + region + ":" + account + ":key/" + wireKeyID(id)
}

func aliasARN(region, account, name string) string {
	return "arn:aws:kms:" + region + ":" + account + ":" + name
}

// wrapAAD binds a wrapped backing key to its key and version, so a wrapped
// value copied to another row does not unwrap.
func wrapAAD(arn string, version uint32) []byte {
	return []byte(arn + "#v" + strconv.FormatUint(uint64(version), 10))
}

// BackingKeyAAD is the binding version's backing key of the key stored
// under storeID (an mrk- member's store id included) is wrapped with.
// Root-key rotation (internal/app) rewraps with it, so the binding has
// one definition.
func BackingKeyAAD(region, account, storeID string, version uint32) []byte {
	return wrapAAD(keyARN(region, account, storeID), version)
}

func (s *Service) buildEntry(k store.Key, versions []store.KeyVersion) (*keyEntry, error) {
	shareStrings(&k) // keycache.go
	e := &keyEntry{meta: k, arn: keyARN(k.Region, k.Account, k.ID), versions: make(map[uint32]*backing, len(versions))}
	for _, v := range versions {
		if k.Origin == OriginExternal {
			if e.imported == nil {
				e.imported = make(map[uint32]store.KeyVersion, len(versions))
			}
			meta := v
			meta.Wrapped = nil
			e.imported[v.Version] = meta
			if len(v.Wrapped) == 0 {
				continue // deleted or expired: nothing to unwrap
			}
		}
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
	if e.current == nil && k.Origin != OriginExternal {
		return nil, fmt.Errorf("key %s: current version %d has no material", k.ID, k.CurrentVersion)
	}
	e.prepare(nil)
	return e, nil
}

// prepare computes what authorization needs of e's metadata: the compiled
// key policy (taken from prev when the text did not change) and the
// resource tag condition keys.
func (e *keyEntry) prepare(prev *keyEntry) {
	if prev != nil && prev.meta.Policy == e.meta.Policy {
		e.policy, e.policyErr = prev.policy, prev.policyErr
	} else {
		e.policy, e.policyErr = compileKeyPolicy(e.meta.Policy)
		if e.policyErr != nil {
			e.policyErr = fmt.Errorf("key %s: stored key policy: %w", e.meta.ID, e.policyErr)
		}
	}
	e.resourceTags = make([]condKV, len(e.meta.Tags))
	for i, t := range e.meta.Tags {
		e.resourceTags[i] = condKV{name: "aws:resourcetag/" + strings.ToLower(t.Key), value: t.Value}
	}
}

// compileKeyPolicy parses and compiles a key policy document, sharing the
// result between keys whose documents are the same text (policycache.go).
func compileKeyPolicy(doc string) (*policy.Compiled, error) {
	return compiledPolicies.get(doc)
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
	n.prepare(e)
	return &n
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
	case StatePendingImport:
		return apierr.New(apierr.KMSInvalidState, "%s is pending import.", arn)
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
	return refusePendingReplicaDeletion(arn, k)
}

// update applies change to the stored key under the write lock and
// publishes the result. change may return an *apierr.Error to refuse.
func (s *Service) update(ctx context.Context, e *keyEntry, change func(k *store.Key) error) (*keyEntry, error) {
	return s.updateEntry(ctx, e, func(_ *keyEntry, k *store.Key) error { return change(k) })
}

// updateEntry is update for a change that reads more of the key than its
// metadata (its imported materials): change gets the entry as reloaded
// under writeMu, not the one the request resolved before it.
func (s *Service) updateEntry(ctx context.Context, e *keyEntry, change func(cur *keyEntry, k *store.Key) error) (*keyEntry, error) {
	return retryConflict(func() (*keyEntry, error) { return s.updateOnce(ctx, e, change) })
}

// conflictAttempts bounds how often update and addVersion re-apply a change
// that lost a race. With several nodes on one database, a write made through
// this node can find the key changed through another since this node read it
// (store.ErrConflict, the revision check). The loser re-reads the key, which
// the failed attempt forgot, and applies its change to what is stored now —
// as AWS applies concurrent TagResource calls one after the other, and not
// answering an ordinary race with a 500. Within one node writeMu already
// orders writes, so only other nodes' writes make an attempt fail.
const conflictAttempts = 8

func retryConflict(write func() (*keyEntry, error)) (*keyEntry, error) {
	for attempt := 1; ; attempt++ {
		n, err := write()
		if err == nil || !errors.Is(err, store.ErrConflict) {
			return n, err
		}
		if attempt == conflictAttempts {
			return nil, apierr.New(apierr.Conflict, "The key was changed by a concurrent request. Try again.")
		}
	}
}

// metaCopy is the key's metadata to change and store: a copy whose Tags
// do not share the entry's, which stays immutable.
func (e *keyEntry) metaCopy() store.Key {
	k := e.meta
	k.Tags = slices.Clone(e.meta.Tags)
	return k
}

func (s *Service) updateOnce(ctx context.Context, e *keyEntry, change func(cur *keyEntry, k *store.Key) error) (*keyEntry, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	cur, err := s.reload(ctx, e)
	if err != nil {
		return nil, err
	}
	k := cur.metaCopy()
	if err := change(cur, &k); err != nil {
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
func (s *Service) addVersion(ctx context.Context, e *keyEntry, rotationType string, change func(k *store.Key) error) (*keyEntry, error) {
	return retryConflict(func() (*keyEntry, error) { return s.addVersionOnce(ctx, e, rotationType, change) })
}

func (s *Service) addVersionOnce(ctx context.Context, e *keyEntry, rotationType string, change func(k *store.Key) error) (*keyEntry, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	cur, err := s.reload(ctx, e)
	if err != nil {
		return nil, err
	}
	id := cur.meta.ID
	k := cur.meta
	if err := change(&k); err != nil {
		return nil, err
	}
	if isMultiRegion(&k) {
		return s.addMultiRegionVersion(ctx, cur, k, rotationType)
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
	n.prepare(cur)
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
