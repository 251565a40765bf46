package app

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/store"
)

// settingAuditKey holds the audit log's digest signing key, PKCS#8 DER
// wrapped by the root key like every other secret.
const settingAuditKey = "audit.signing-key"

// auditKeyAAD binds the wrapped signing key to its use.
var auditKeyAAD = []byte("trent/audit-signing-key/v1")

// AuditDir is where a data directory keeps its audit log.
func AuditDir(dataDir string) string { return filepath.Join(dataDir, "audit") }

// openAudit opens the installation's audit log in <data-dir>/audit with
// its signing key, making the key on first use. archiveTo is where the
// server archives the log (serve --audit-archive-to), or "": Open looks
// there for the events of a restored store's intents.
func (a *App) openAudit(ctx context.Context, dataDir string, fs audit.FileSystem, archiveTo string, log *slog.Logger) error {
	signer, err := a.auditSigner(ctx)
	if err != nil {
		return err
	}
	o := audit.Options{Dir: AuditDir(dataDir), Signer: signer, FS: fs, Logger: log, KeyUses: storeAs[store.KeyUses](a.Store), Intents: storeAs[store.AuditIntents](a.Store), ArchiveDir: archiveTo}
	ship, err := a.clusterAuditOptions(ctx, &o, signer, log)
	if err != nil {
		return fmt.Errorf("open audit log: %w", err)
	}
	l, err := audit.Open(o)
	if err != nil {
		return fmt.Errorf("open audit log: %w", err)
	}
	a.Audit = l
	if ship != nil {
		a.shipper = ship
		ship.Start(l)
	}
	return nil
}

// auditSigner unwraps the stored audit signing key, or makes, wraps and
// stores one.
//
// Several nodes starting for the first time on one database may all find
// none and make one each: each stores its own only if none is stored yet
// (store.SettingCreator), and a node that finds another's there uses that
// one, so that every node signs with the one key the store holds.
func (a *App) auditSigner(ctx context.Context) (crypto.Signer, error) {
	wrapped, err := a.Store.GetSetting(ctx, settingAuditKey)
	if errors.Is(err, store.ErrNotFound) {
		k, err := audit.GenerateSigningKey()
		if err != nil {
			return nil, err
		}
		der, err := audit.MarshalSigningKey(k)
		if err != nil {
			return nil, err
		}
		defer clear(der)
		w, err := a.root.Wrap(der, auditKeyAAD)
		if err != nil {
			return nil, fmt.Errorf("wrap audit signing key: %w", err)
		}
		sc, ok := a.Store.(store.SettingCreator)
		if !ok {
			if err := a.Store.PutSetting(ctx, settingAuditKey, w); err != nil {
				return nil, fmt.Errorf("store audit signing key: %w", err)
			}
			return k, nil
		}
		switch err := sc.CreateSetting(ctx, settingAuditKey, w); {
		case err == nil:
			return k, nil
		case !errors.Is(err, store.ErrExists):
			return nil, fmt.Errorf("store audit signing key: %w", err)
		}
		// Another node stored one first: use it.
		if wrapped, err = a.Store.GetSetting(ctx, settingAuditKey); err != nil {
			return nil, fmt.Errorf("read audit signing key another node stored: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("read audit signing key: %w", err)
	}
	der, err := a.root.Unwrap(wrapped, auditKeyAAD)
	if err != nil {
		return nil, fmt.Errorf("unwrap audit signing key: %w", err)
	}
	defer clear(der)
	return audit.ParseSigningKey(der)
}
