//go:build !unix

package tlsutil

import (
	"fmt"
	"os"
)

func stat(name string) (fileStamp, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return fileStamp{}, fmt.Errorf("TLS file: %w", err)
	}
	return fileStamp{size: fi.Size(), mtime: fi.ModTime()}, nil
}
