package kms

// Close drops every cached key, alias and grant, zeroing the unwrapped
// backing key material the cache held or was waiting to zero, so that
// sealing Trent leaves no key in this Service's memory. Parsed asymmetric
// keys (keys.Private) are dropped for the garbage collector: their
// big-number and curve internals offer no way to zero them. The caller must
// have stopped every request and job first; the Service must not be used
// afterwards.
func (s *Service) Close() {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	s.keys.Range(func(id string, v *keyEntry) bool {
		for _, b := range v.versions {
			zeroBacking(b)
		}
		s.keys.Delete(id)
		return true
	})
	for _, r := range s.retired {
		zeroBacking(r.b)
	}
	s.retired = nil
	s.pending.Store(0)
	clear(s.slots)
	s.slots = s.slots[:0]
	s.cacheBytes = 0
	s.aliases.Clear()
	s.keyAliases.Clear()
	s.grants.Clear()
	clear(s.missing)
}
