package app

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/cloudtrail"
	"github.com/trent-kms/trent/internal/store"
)

// Audit with many nodes (docs/postgres.md, internal/audit/cluster.go): on
// PostgreSQL each node keeps its own log in its data dir, named by a node
// id kept there, and a Shipper copies its durable events and digest heads
// into the database, where LookupEvents reads every node's events and
// `trent audit verify --database-url` finds every node's head.

// SettingAuditPublicKey is the audit signing key's public half (PEM), kept
// unwrapped in the store of an installation on PostgreSQL so that `trent
// audit public-key --database-url` and `trent audit verify --database-url`
// need no unseal.
const SettingAuditPublicKey = "audit.public-key"

// clusterStore is what a store must offer for audit across nodes
// (postgres.DB).
type clusterStore interface {
	audit.ShipSink
	audit.ClusterSource
	FetchAuditEvents(ctx context.Context, f audit.EventFilter) ([]audit.StoredEvent, error)
}

// clusterStoreOf finds the audit tables in st, looking through stores that
// wrap another (Unwrap), so that a wrapper (deadlines, metrics) added
// around the PostgreSQL store does not silently turn a node of several
// into a node alone.
func clusterStoreOf(st store.Store) (clusterStore, bool) {
	for st != nil {
		if cs, ok := st.(clusterStore); ok {
			return cs, true
		}
		u, ok := st.(interface{ Unwrap() store.Store })
		if !ok {
			return nil, false
		}
		st = u.Unwrap()
	}
	return nil, false
}

// clusterAuditOptions prepares o for a node of an installation on a
// database whose store keeps the audit tables: its node id, and a shipper
// woken by each durable batch. It returns nil for a single-node store.
func (a *App) clusterAuditOptions(ctx context.Context, o *audit.Options, signer crypto.Signer, log *slog.Logger) (*audit.Shipper, error) {
	cs, ok := clusterStoreOf(a.Store)
	if !ok {
		return nil, nil
	}
	id, err := audit.NodeID(o.Dir)
	if err != nil {
		return nil, err
	}
	if err := publishAuditKey(ctx, a.Store, signer, log); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	sh := audit.NewShipper(cs, log.With("node", id))
	o.NodeID = id
	o.OnDurable = sh.Wake
	return sh, nil
}

// publishAuditKey stores the signing key's public half unwrapped, if it is
// not stored yet.
func publishAuditKey(ctx context.Context, st store.Store, signer crypto.Signer, log *slog.Logger) error {
	pem, err := audit.PublicKeyPEM(signer)
	if err != nil {
		return err
	}
	have, err := st.GetSetting(ctx, SettingAuditPublicKey)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if err := st.PutSetting(ctx, SettingAuditPublicKey, pem); err != nil {
			return fmt.Errorf("store audit public key: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("read audit public key: %w", err)
	case !bytes.Equal(have, pem):
		// Two nodes that started together may each have made a signing
		// key; the store keeps one (the first start's race, handled where
		// the key is made). Say so loudly: verification uses the stored one.
		if log == nil {
			log = slog.Default()
		}
		log.Error("audit: this node signs with another key than the public key stored for the installation; its digests will not verify with `trent audit verify --database-url` until it restarts")
	}
	return nil
}

// auditSearcher is what LookupEvents searches: every node's events on a
// database with the audit tables, else this node's log.
func (a *App) auditSearcher() cloudtrail.Searcher {
	if cs, ok := clusterStoreOf(a.Store); ok {
		c := audit.ClusterSearcher{Fetch: cs.FetchAuditEvents}
		if sh := a.shipper; sh != nil {
			c.Flush = sh.Sync
		}
		return c
	}
	return a.Audit
}

// stopShipper ships what the closed log left (its closing digest
// included) and stops the shipper, waiting at most a few seconds for the
// database: what it cannot ship now, the next start ships.
func (a *App) stopShipper() {
	if a.shipper == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.shipper.Close(ctx); err != nil {
		slog.Default().Warn("audit: stopping the shipper before everything was shipped; the next start ships the rest", "err", err)
	}
	a.shipper = nil
}
