package audit

import (
	"os"
	"syscall"
)

// fileChange identifies a file's content as far as stat tells: its inode
// and change time. Unlike the modification time, the change time cannot
// be set back by whoever writes the file (utimes sets it to now), so a
// cached index is not trusted after its file was written in place.
type fileChange struct {
	ino       uint64
	ctimeSec  int64
	ctimeNsec int64
}

func changeOf(fi os.FileInfo) fileChange {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileChange{}
	}
	return fileChange{ino: st.Ino, ctimeSec: int64(st.Ctim.Sec), ctimeNsec: int64(st.Ctim.Nsec)}
}
