// Package fspath answers questions about paths the way the kernel will
// resolve them, symbolic links followed, so that a check such as "is the
// seal key file inside the data dir" cannot be slipped past by another
// spelling of the same place.
package fspath

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Inside reports whether path is dir or inside it, both resolved the
// way the kernel will (Resolve).
func Inside(dir, path string) (bool, error) {
	d, err := Resolve(dir)
	if err != nil {
		return false, fmt.Errorf("resolve %s: %w", dir, err)
	}
	p, err := Resolve(path)
	if err != nil {
		return false, fmt.Errorf("resolve %s: %w", path, err)
	}
	rel, err := filepath.Rel(d, p)
	if err != nil {
		return false, nil // on different volumes: not inside
	}
	return rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)), nil
}

// Resolve returns the absolute path p names, with every symbolic link
// in its longest existing prefix resolved. The rest of p, which does not
// exist, is joined on lexically.
func Resolve(p string) (string, error) {
	if !filepath.IsAbs(p) {
		wd, err := os.Getwd()
		if err != nil {
			return "", err
		}
		// Not filepath.Join: it would clean "link/.." away before the
		// link is resolved.
		p = wd + string(filepath.Separator) + p
	}
	var tail []string
	for {
		r, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Join(append([]string{r}, tail...)...), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		i := strings.LastIndexFunc(p, func(c rune) bool { return os.IsPathSeparator(uint8(c)) })
		if i < len(filepath.VolumeName(p)) {
			// Not even the root exists; nothing left to resolve.
			return filepath.Join(append([]string{p}, tail...)...), nil
		}
		tail = append([]string{p[i+1:]}, tail...)
		parent := p[:i]
		if parent == filepath.VolumeName(parent) {
			parent += string(filepath.Separator) // the root itself
		}
		if parent == p {
			return filepath.Join(append([]string{p}, tail...)...), nil
		}
		p = parent
	}
}
