package kms

// Dropping cache entries on news from elsewhere: another node sharing the
// store changed what they hold (internal/app/cluster.go, fed by
// store.ChangeFeed). Each call counts as a change for the fills in flight
// (removals, aliasGen, grantGen), so a store read that began before the
// change publishes nothing.

// ForgetKey drops key id's cached metadata and material, and a remembered
// absence of it, so that the next request reads it from the store.
func (s *Service) ForgetKey(id string) {
	s.forget(id)
	s.cacheMu.Lock()
	delete(s.missing, id)
	s.cacheMu.Unlock()
}

// ForgetAlias drops the cached target of an alias.
func (s *Service) ForgetAlias(account, region, name string) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	s.aliasGen++
	s.aliases.Delete(aliasKey{account: account, region: region, name: name})
}

// ForgetKeyAliases drops the cached alias names of key id
// (kms:ResourceAliases).
func (s *Service) ForgetKeyAliases(id string) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	s.aliasGen++
	s.keyAliases.Delete(id)
}

// ForgetGrants drops the cached grants of key id.
func (s *Service) ForgetGrants(id string) { s.grantsChanged(id) }

// ForgetAbsent drops every remembered absence of a key id, so that a key
// made elsewhere since is found by its next request.
func (s *Service) ForgetAbsent() {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	clear(s.missing)
}

// ForgetAll empties the key, alias and grant caches (the material is
// retired and zeroed once no request holds it).
func (s *Service) ForgetAll() {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	for len(s.slots) > 0 {
		s.evictLocked(s.slots[len(s.slots)-1])
	}
	s.reclaimLocked()
	s.removals++
	s.aliasGen++
	s.grantGen++
	s.aliases.Clear()
	s.keyAliases.Clear()
	s.grants.Clear()
	clear(s.missing)
}
