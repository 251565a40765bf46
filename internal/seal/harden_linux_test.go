package seal

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// HardenProcess changes the whole process (locked memory, not dumpable), so
// it is tested in a child: the test binary re-run with hardenChildEnv set.
const (
	hardenChildEnv   = "TRENT_SEAL_TEST_HARDEN_CHILD"
	hardenMemlockEnv = "TRENT_SEAL_TEST_HARDEN_MEMLOCK" // child first lowers RLIMIT_MEMLOCK to this
)

type hardenReport struct {
	Err      string
	Dumpable int
	CoreCur  uint64
	CoreMax  uint64
	VmLckKB  int
	Survived bool
}

var hardenSink [][]byte

func TestHardenProcessChild(t *testing.T) {
	if os.Getenv(hardenChildEnv) != "1" {
		t.Skip("run by TestHardenProcess in a child process")
	}
	if s := os.Getenv(hardenMemlockEnv); s != "" {
		n, _ := strconv.ParseUint(s, 10, 64)
		if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &unix.Rlimit{Cur: n, Max: n}); err != nil {
			t.Fatal(err)
		}
	}
	var r hardenReport
	if err := HardenProcess(); err != nil {
		r.Err = err.Error()
	}
	d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	r.Dumpable = d
	var core unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_CORE, &core); err != nil {
		t.Fatal(err)
	}
	r.CoreCur, r.CoreMax = core.Cur, core.Max
	status, _ := os.ReadFile("/proc/self/status")
	for line := range strings.Lines(string(status)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmLck:" {
			r.VmLckKB, _ = strconv.Atoi(f[1])
		}
	}
	// The runtime must keep working after locking: grow the heap well past
	// a typical RLIMIT_MEMLOCK and touch every page.
	for range 64 {
		b := make([]byte, 1<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		hardenSink = append(hardenSink, b)
	}
	r.Survived = true
	out, _ := json.Marshal(r)
	fmt.Printf("HARDEN-REPORT %s\n", out)
}

func runHardenChild(t *testing.T, wrapper []string, extraEnv ...string) hardenReport {
	t.Helper()
	args := append(wrapper, os.Args[0], "-test.run=^TestHardenProcessChild$", "-test.v")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), hardenChildEnv+"=1")
	cmd.Env = append(cmd.Env, extraEnv...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	for line := range strings.Lines(string(out)) {
		if rest, ok := strings.CutPrefix(line, "HARDEN-REPORT "); ok {
			var r hardenReport
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				t.Fatal(err)
			}
			return r
		}
	}
	t.Fatalf("child printed no report:\n%s", out)
	return hardenReport{}
}

func checkCommon(t *testing.T, r hardenReport) {
	t.Helper()
	if r.Dumpable != 0 {
		t.Errorf("PR_GET_DUMPABLE = %d, want 0", r.Dumpable)
	}
	if r.CoreCur != 0 || r.CoreMax != 0 {
		t.Errorf("RLIMIT_CORE = %d/%d, want 0/0", r.CoreCur, r.CoreMax)
	}
	if !r.Survived {
		t.Error("child did not survive heap growth after HardenProcess")
	}
}

func TestHardenProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	r := runHardenChild(t, nil)
	checkCommon(t, r)
	if r.Err == "" {
		if r.VmLckKB == 0 {
			t.Error("HardenProcess returned nil but VmLck is 0")
		}
	} else {
		// Without CAP_IPC_LOCK and an unlimited RLIMIT_MEMLOCK, memory is
		// not locked; the error must say why and what to do.
		t.Logf("HardenProcess: %s", r.Err)
		if !strings.Contains(r.Err, "CAP_IPC_LOCK") && !strings.Contains(r.Err, "mlockall") {
			t.Errorf("error %q does not explain the memory-locking failure", r.Err)
		}
	}
	t.Logf("child: err=%q VmLck=%d kB", r.Err, r.VmLckKB)
}

// TestHardenProcessWithoutCapIPCLock drops CAP_IPC_LOCK (and
// CAP_SYS_RESOURCE, so the limit cannot be raised) and caps RLIMIT_MEMLOCK:
// HardenProcess must refuse to lock, say so, still disable dumps, and leave
// the runtime able to grow its heap.
func TestHardenProcessWithoutCapIPCLock(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and setpriv(1) to drop capabilities")
	}
	r := runHardenChild(t, []string{setpriv, "--bounding-set", "-ipc_lock,-sys_resource"},
		hardenMemlockEnv+"="+strconv.Itoa(8<<20))
	checkCommon(t, r)
	if !strings.Contains(r.Err, "not locking memory") || !strings.Contains(r.Err, "CAP_IPC_LOCK") {
		t.Errorf("HardenProcess error = %q; want it to refuse locking and name CAP_IPC_LOCK", r.Err)
	}
	if r.VmLckKB != 0 {
		t.Errorf("VmLck = %d kB, want 0", r.VmLckKB)
	}
}
