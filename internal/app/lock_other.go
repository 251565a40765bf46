//go:build !unix

package app

// lockDir does nothing where flock(2) is missing: two inits of one data
// dir at once are then the operator's to avoid, as are an offline seal
// change and a running server.
func lockDir(string) (func(), error) { return func() {}, nil }

func lockDirShared(string) (*dirLock, error) { return &dirLock{}, nil }

type dirLock struct{}

func (*dirLock) Unlock() {}

func (*dirLock) Exclusive() (func() error, error) { return func() error { return nil }, nil }

func lockDirOffline(string) (func(), error) { return func() {}, nil }
