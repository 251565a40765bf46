package kms

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/store"
)

// PopulateKeys stores n new symmetric encryption keys of (account, region),
// each as CreateKey with no parameters would make it (default key policy,
// fresh material wrapped under the root key), and returns their ids. It is
// for filling a data directory to measure Trent at scale (`trent bench
// populate`): it goes around the API, so there is no caller, no
// authorization and no audit event, and the keys are not cached. workers
// writes run at once, so the store's group commit stores them many to a
// transaction; progress, if not nil, is called with the count stored after
// every batch of about a thousand keys.
func (s *Service) PopulateKeys(ctx context.Context, account, region string, n, workers int, progress func(done int)) ([]string, error) {
	if n < 0 || workers < 1 {
		return nil, fmt.Errorf("kms: populate %d keys with %d workers", n, workers)
	}
	ids := make([]string, n)
	var (
		next, done atomic.Int64
		wg         sync.WaitGroup
		errMu      sync.Mutex
		firstErr   error
		progMu     sync.Mutex
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pol := policy.Default(account)
	for range min(workers, max(n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || ctx.Err() != nil {
					return
				}
				id, err := s.populateOne(ctx, account, region, pol)
				if err != nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
					cancel()
					return
				}
				ids[i] = id
				if d := done.Add(1); progress != nil && d%1000 == 0 {
					progMu.Lock()
					progress(int(d))
					progMu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return nil, err
	}
	return ids, nil
}

func (s *Service) populateOne(ctx context.Context, account, region, pol string) (string, error) {
	id := s.newID()
	arn := keyARN(region, account, id)
	first, material, err := s.newVersion(arn, id, SpecSymmetric, 1, "")
	if err != nil {
		return "", err
	}
	clear(material) // never cached
	k := store.Key{
		ID: id, Account: account, Region: region,
		KeySpec: SpecSymmetric, KeyUsage: UsageEncryptDecrypt, Origin: OriginAWSKMS, State: StateEnabled,
		Policy: pol, CurrentVersion: 1, CreatedAt: s.now(),
	}
	if err := s.store.CreateKey(ctx, k, first); err != nil {
		return "", fmt.Errorf("kms: populate: create key %s: %w", id, err)
	}
	return wireKeyID(id), nil
}
