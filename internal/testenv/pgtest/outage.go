package pgtest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Outages, for tests of what a client of the database does when it goes
// away and comes back: Halt and Resume (or Restart) stop the server and
// start it again on the same port with the same data; Freeze and Thaw
// stop its processes with SIGSTOP, so that it accepts TCP connections
// (the kernel does) but answers nothing — a hung server, or a network
// that drops every packet. Not safe to call concurrently with each other
// or with Stop.
//
// The cluster runs with synchronous_commit off: an "immediate" Halt may
// lose the last fraction of a second of commits that clients were told
// succeeded. A test that counts acknowledged writes across one sets
// synchronous_commit = on for its database (ALTER DATABASE … SET).

// Halt stops the server and leaves its files, with pg_ctl's shutdown
// mode: "smart", "fast" (sessions are ended with 57P01 admin_shutdown,
// transactions in flight rolled back) or "immediate" (processes quit at
// once; the next start recovers from the write-ahead log).
func (c *Cluster) Halt(mode string) error {
	out, err := c.run(filepath.Join(c.bin, "pg_ctl"), "stop", "-D", c.DataDir(), "-m", mode, "-w", "-t", "60").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl stop -m %s: %v: %s", mode, err, out)
	}
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		return errors.New("postgres did not exit within 30s of pg_ctl stop")
	}
	return nil
}

// Resume starts a halted server again and waits until it accepts
// connections. After an immediate Halt the old server's processes may
// still be exiting, and the new one refuses to start while they hold its
// shared memory: it is tried again until they are gone.
func (c *Cluster) Resume() error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := c.startServer(); err != nil {
			return err
		}
		err := c.waitReady(30 * time.Second)
		if err == nil {
			return nil
		}
		select {
		case <-c.done:
		default:
			return err // running, yet not answering
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
			return fmt.Errorf("%w; server log:\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Restart is Halt with mode, then Resume: pg_ctl restart.
func (c *Cluster) Restart(mode string) error {
	if err := c.Halt(mode); err != nil {
		return err
	}
	return c.Resume()
}

// Freeze stops the server's processes (the postmaster and its children)
// with SIGSTOP. Connections stay open and new ones are accepted by the
// kernel, but nothing is answered until Thaw.
func (c *Cluster) Freeze() error { return c.signalAll(syscall.SIGSTOP) }

// Thaw resumes the processes Freeze stopped. When the server runs under
// runuser, that stops itself when its child stops (job control, as su
// does), so it is resumed too, or it would never report the server's exit.
func (c *Cluster) Thaw() error {
	err := c.signalAll(syscall.SIGCONT)
	if c.as != "" && c.cmd != nil && c.cmd.Process != nil {
		select {
		case <-c.done:
		default:
			_ = c.cmd.Process.Signal(syscall.SIGCONT)
		}
	}
	return err
}

// signalAll sends sig to the postmaster named in the data directory's
// postmaster.pid and to each of its children: the postmaster first when
// stopping (a stopped postmaster forks no child the scan could miss), last
// when resuming.
func (c *Cluster) signalAll(sig syscall.Signal) error {
	pm, err := c.postmaster()
	if err != nil {
		return err
	}
	if sig == syscall.SIGSTOP {
		if err := syscall.Kill(pm, sig); err != nil {
			return fmt.Errorf("signal postmaster %d: %w", pm, err)
		}
	}
	var errs []error
	for _, pid := range children(pm) {
		if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("signal %d: %w", pid, err))
		}
	}
	if sig != syscall.SIGSTOP {
		if err := syscall.Kill(pm, sig); err != nil {
			errs = append(errs, fmt.Errorf("signal postmaster %d: %w", pm, err))
		}
	}
	return errors.Join(errs...)
}

// postmaster returns the PID in the cluster's postmaster.pid.
func (c *Cluster) postmaster() (int, error) {
	b, err := os.ReadFile(filepath.Join(c.DataDir(), "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pm, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return 0, fmt.Errorf("postmaster.pid: %q is not a PID", first)
	}
	return pm, nil
}

// ServerCPU returns the user and system CPU time used so far by the
// postmaster's children: the backends and background workers.
func (c *Cluster) ServerCPU() (time.Duration, error) {
	pm, err := c.postmaster()
	if err != nil {
		return 0, err
	}
	var ticks int64
	eachChild(pm, func(_ int, f []string) {
		// f: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
		if len(f) >= 13 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			ticks += u + s
		}
	})
	return time.Duration(ticks) * 10 * time.Millisecond, nil // USER_HZ is 100 on Linux
}

// children lists the processes whose parent is pid, from /proc.
func children(pid int) []int {
	var out []int
	eachChild(pid, func(child int, _ []string) { out = append(out, child) })
	return out
}

// eachChild calls f with the PID and the /proc stat fields after the
// command name (state, ppid, …) of each process whose parent is pid.
func eachChild(pid int, f func(child int, fields []string)) {
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range procs {
		st, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		i := strings.LastIndexByte(string(st), ')')
		if i < 0 {
			continue
		}
		fs := strings.Fields(string(st[i+1:]))
		if len(fs) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(fs[1]); ppid == pid {
			child, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			f(child, fs)
		}
	}
}
