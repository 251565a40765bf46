package audit

import "sync"

// fileList is the log's event files, oldest first, as Open listed them and
// the writer started them since. Lookup reads it instead of listing the
// directory, which also holds a digest for every minute with events:
// 200,000 of them after five months, which took 0.6 s to list and parse
// on the 2-core VM — on every LookupEvents call. Files that vanish
// (Archive moves the oldest away while Trent runs) are forgotten when a
// reader finds them gone.
type fileList struct {
	mu    sync.Mutex
	files []nameInfo // never changed in place: readers keep the slice they got
}

func (fl *fileList) set(files []nameInfo) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	fl.files = files
}

// add records a file the writer started.
func (fl *fileList) add(name string) {
	ni, ok := parseName(eventFileRE, name)
	if !ok {
		return // the writer's own names always parse
	}
	fl.mu.Lock()
	defer fl.mu.Unlock()
	fl.files = append(fl.files[:len(fl.files):len(fl.files)], ni)
}

// get returns the files, oldest first.
func (fl *fileList) get() []nameInfo {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return fl.files
}

// forgetThrough drops the files numbered seq and below: seq was found
// gone, and files are archived oldest first.
func (fl *fileList) forgetThrough(seq uint64) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	i := 0
	for i < len(fl.files) && fl.files[i].seq <= seq {
		i++
	}
	fl.files = fl.files[i:len(fl.files):len(fl.files)]
}
