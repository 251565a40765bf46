package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/trent-kms/trent/internal/iam"
	"github.com/trent-kms/trent/internal/store/postgres"
)

// CreateAccountOnDatabase is `trent account create --database-url`: it
// opens the installation in the database at cfg.DatabaseURL with its seal
// (cfg.SealKeyFile, cfg.PKCS11PINFile/LookupEnv, or cfg.UnsealShares),
// and makes account id (random if "") with a root access key.
//
// Unlike Open it starts no node: no audit log, no job runner, no lease, so
// that it neither appears to other nodes as one serving the installation
// nor leaves an audit chain behind. It is a plain store write, safe while
// nodes serve: inserting the account moves the authorization generation,
// whose change-feed notification ("authz") makes every node drop its
// identity caches; the access key itself is read from the store on its
// first use (a node that was asked for that id before it existed
// remembers the absence for at most iam's negativeTTL, 5 s).
func CreateAccountOnDatabase(ctx context.Context, cfg Config, id string) (account, accessKeyID, secret string, err error) {
	if cfg.Dev {
		return "", "", "", errors.New("--dev does not apply with a database URL")
	}
	st, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return "", "", "", fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	mode, err := st.GetSetting(ctx, settingMode)
	if err != nil {
		return "", "", "", fmt.Errorf("the database holds no finished Trent installation (no mode recorded): %w", err)
	}
	sealType, err := st.GetSetting(ctx, settingSealer)
	if err != nil {
		return "", "", "", fmt.Errorf("read setting %s: %w", settingSealer, err)
	}
	stype, ok := sealTypes[string(sealType)]
	if !ok {
		return "", "", "", fmt.Errorf("the installation is sealed by %q, which this build of Trent does not know", sealType)
	}
	cfg.DataDir = ""
	m, err := stype.start(ctx, &cfg, string(mode), st)
	if err != nil {
		return "", "", "", err
	}
	rs, err := loadRootState(ctx, st)
	if err != nil {
		return "", "", "", err
	}
	p := m.auto
	if p != nil {
		if c, ok := p.(io.Closer); ok {
			defer c.Close()
		}
	} else {
		if cfg.UnsealShares == nil {
			return "", "", "", errors.New("the installation is sealed by Shamir shares, and none can be read")
		}
		_, need := m.shares.Progress()
		shares, err := cfg.UnsealShares(need)
		if err != nil {
			return "", "", "", err
		}
		defer clearStrings(shares)
		for i, s := range shares {
			if err := m.shares.Add(s); err != nil {
				m.shares.Reset()
				return "", "", "", fmt.Errorf("unseal share %d: %w", i+1, err)
			}
		}
		sp, err := m.shares.Provider(rs.sealed)
		if err != nil {
			return "", "", "", err
		}
		defer sp.Destroy()
		p = sp
	}
	root, err := unsealRoot(p, rs)
	if err != nil {
		return "", "", "", err
	}
	defer root.Destroy()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	svc, err := iam.New(ctx, iam.Config{Store: st, Root: root, Clock: cfg.Clock, Logger: log})
	if err != nil {
		return "", "", "", err
	}
	return svc.CreateAccount(ctx, id)
}
