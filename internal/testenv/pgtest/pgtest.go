// Package pgtest starts a throwaway PostgreSQL cluster for tests: initdb
// into a temporary directory, the server on a loopback port and a socket
// in that directory, trust authentication for one superuser, and no
// durability (fsync off: the cluster dies with the test). A test binary
// starts one in TestMain with Main, makes a database per test with
// NewDatabase, and the cluster is stopped and removed when the binary ends.
// Only test code imports this package.
//
// initdb and postgres refuse to run as root. When the tests run as root the
// cluster runs as an unprivileged account instead (the Debian package's
// "postgres" user, else "nobody"), through runuser.
//
// Without PostgreSQL the tests skip, saying why — unless RequireEnv is set
// (make unit sets it), when they fail.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// RequireEnv, when set to a non-empty value (make unit sets it), turns a
// PostgreSQL that cannot be started from a skip into a failure.
const RequireEnv = "TRENT_REQUIRE_POSTGRES"

// superuser is the cluster's only role.
const superuser = "trent"

// Cluster is a running throwaway PostgreSQL server.
type Cluster struct {
	dir  string // the data directory's parent: data/, the socket, the log
	bin  string
	port int
	as   string // the account the server runs as; "" for the current one
	cmd  *exec.Cmd
	done chan struct{}
	seq  atomic.Int64
}

// FindBin returns the directory of the newest installed PostgreSQL's
// programs (Debian's /usr/lib/postgresql/<major>/bin), or why there is none.
func FindBin() (string, string) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return majorOf(dirs[i]) > majorOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, ""
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), ""
	}
	return "", "PostgreSQL is not installed: no /usr/lib/postgresql/*/bin/initdb and no initdb on PATH (scripts/test-deps.sh installs the postgresql package)"
}

func majorOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// Start initializes and starts a cluster. Stop it with Stop.
func Start() (*Cluster, error) {
	bin, problem := FindBin()
	if problem != "" {
		return nil, errors.New(problem)
	}
	c := &Cluster{bin: bin, done: make(chan struct{})}
	var uid, gid = -1, -1
	if os.Geteuid() == 0 {
		for _, name := range []string{"postgres", "nobody"} {
			u, err := user.Lookup(name)
			if err != nil {
				continue
			}
			c.as = name
			uid, _ = strconv.Atoi(u.Uid)
			gid, _ = strconv.Atoi(u.Gid)
			break
		}
		if c.as == "" {
			return nil, errors.New("running as root and neither a postgres nor a nobody account exists to run PostgreSQL as")
		}
		if _, err := exec.LookPath("runuser"); err != nil {
			return nil, errors.New("running as root and runuser (util-linux) is not on PATH")
		}
	}
	dir, err := os.MkdirTemp("", "trent-pgtest-")
	if err != nil {
		return nil, err
	}
	c.dir = dir
	if c.as != "" {
		// The unprivileged account must reach and own the directory.
		if err := os.Chown(dir, uid, gid); err != nil {
			c.cleanup()
			return nil, err
		}
		if err := os.Chmod(dir, 0o700); err != nil {
			c.cleanup()
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := c.run(filepath.Join(bin, "initdb"), "-D", data, "-U", superuser,
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync").CombinedOutput(); err != nil {
		c.cleanup()
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	port, err := freePort()
	if err != nil {
		c.cleanup()
		return nil, err
	}
	c.port = port
	if err := c.startServer(); err != nil {
		c.cleanup()
		return nil, err
	}
	if err := c.waitReady(30 * time.Second); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
		c.Stop()
		return nil, fmt.Errorf("%w; server log:\n%s", err, log)
	}
	return c, nil
}

// startServer starts the server on the cluster's data directory and port,
// its output appended to postgres.log. Started directly rather than
// through pg_ctl, so that the test binary owns the process: it waits for
// it and stops it by its PID.
func (c *Cluster) startServer() error {
	logf, err := os.OpenFile(filepath.Join(c.dir, "postgres.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	c.done = make(chan struct{})
	c.cmd = c.run(filepath.Join(c.bin, "postgres"), "-D", c.DataDir(), "-p", strconv.Itoa(c.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+c.dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=32MB")
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	if err := c.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start postgres: %w", err)
	}
	cmd, done := c.cmd, c.done
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	return nil
}

// run is a command run as the cluster's account.
func (c *Cluster) run(name string, args ...string) *exec.Cmd {
	if c.as == "" {
		return exec.Command(name, args...)
	}
	return exec.Command("runuser", append([]string{"-u", c.as, "--", name}, args...)...)
}

func (c *Cluster) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-c.done:
			return errors.New("postgres exited while starting")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		if err == nil {
			conn.Close(ctx)
			cancel()
			return nil
		}
		cancel()
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("postgres not ready after %s: %v", timeout, last)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// URL is the connection URL of database db in the cluster.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", superuser, c.port, db)
}

// DataDir is the cluster's data directory (files owned by the account the
// server runs as).
func (c *Cluster) DataDir() string { return filepath.Join(c.dir, "data") }

// Port is the server's TCP port on 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// NewDatabase creates a database with a fresh name and returns its URL.
// It is a copy of the database named in template (a URL from NewDatabase
// with no open connections), or empty if template is "". Copying a
// database whose schema is in place is much faster than building the
// schema again.
func (c *Cluster) NewDatabase(ctx context.Context, template string) (string, error) {
	name := fmt.Sprintf("t%d_%d", os.Getpid(), c.seq.Add(1))
	q := "CREATE DATABASE " + name
	if template != "" {
		cfg, err := pgx.ParseConfig(template)
		if err != nil {
			return "", err
		}
		q += " TEMPLATE " + pgx.Identifier{cfg.Database}.Sanitize()
	}
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	for attempt := 0; ; attempt++ {
		_, err = conn.Exec(ctx, q)
		// 55006: the template's last session is still ending (a pool
		// closed just now); it goes within moments.
		if e, ok := errors.AsType[*pgconn.PgError](err); ok && e.Code == "55006" && attempt < 100 {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		break
	}
	if err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return c.URL(name), nil
}

// DropDatabase drops the database named in url (a URL from NewDatabase),
// ending its remaining connections.
func (c *Cluster) DropDatabase(ctx context.Context, url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{cfg.Database}.Sanitize()+" WITH (FORCE)")
	return err
}

// Stop stops the server (pg_ctl's fast shutdown) and removes its files.
func (c *Cluster) Stop() {
	if c.cmd != nil && c.cmd.Process != nil {
		// pg_ctl signals the postmaster by the PID in its data directory:
		// the process we started may be runuser, not postgres.
		_ = c.run(filepath.Join(c.bin, "pg_ctl"), "stop", "-D", filepath.Join(c.dir, "data"), "-m", "fast", "-w").Run()
		select {
		case <-c.done:
		case <-time.After(30 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	}
	c.cleanup()
}

func (c *Cluster) cleanup() {
	if c.dir != "" {
		_ = os.RemoveAll(c.dir)
	}
}

// The cluster of this test binary, started by Main.
var (
	shared  *Cluster
	problem string
)

// Main starts a cluster for the test binary, runs the tests and stops it:
// call it from TestMain as os.Exit(pgtest.Main(m)). If the cluster cannot
// be started, the tests run anyway and Require skips (or fails) them.
func Main(m *testing.M) int {
	c, err := Start()
	if err != nil {
		problem = "cannot start PostgreSQL: " + err.Error()
		return m.Run()
	}
	shared = c
	defer c.Stop()
	return m.Run()
}

// Require returns the cluster Main started, or skips the test saying why
// there is none — or fails it if RequireEnv is set.
func Require(t testing.TB) *Cluster {
	t.Helper()
	if shared != nil {
		return shared
	}
	why := problem
	if why == "" {
		why = "no PostgreSQL cluster: the test binary's TestMain does not call pgtest.Main"
	}
	if os.Getenv(RequireEnv) != "" {
		t.Fatalf("%s (%s is set, so PostgreSQL is required)", why, RequireEnv)
	}
	t.Skip(why)
	return nil
}

// Schema makes a new, empty schema for t in the database at url (a URL
// from NewDatabase) and drops it, with everything in it, when t ends. It
// returns url with the schema as the connections' search_path, so that
// what connects through it creates and finds its tables there. A schema
// costs far less than a database (CREATE DATABASE copies and WAL-logs a
// whole template), so tests that each want an empty store use this.
func Schema(t testing.TB, url string) string {
	t.Helper()
	c := Require(t)
	ctx := context.Background()
	name := fmt.Sprintf("s%d", c.seq.Add(1))
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("pgtest: create schema: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Errorf("pgtest: drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", name, err)
		}
	})
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "search_path=" + name
}

// StartForTest starts a cluster of t's own and stops it when t ends, for
// a test binary whose TestMain does not call Main. Like Require, it skips
// t if PostgreSQL cannot be started, or fails it if RequireEnv is set.
func StartForTest(t testing.TB) *Cluster {
	t.Helper()
	c, err := Start()
	if err != nil {
		why := "cannot start PostgreSQL: " + err.Error()
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("%s (%s is set, so PostgreSQL is required)", why, RequireEnv)
		}
		t.Skip(why)
	}
	t.Cleanup(c.Stop)
	return c
}

// Database makes a new database in the cluster for t, a copy of template
// if that is not "" (see NewDatabase), and drops it when t ends; it
// returns its URL.
func Database(t testing.TB, template string) string {
	t.Helper()
	c := Require(t)
	ctx := context.Background()
	url, err := c.NewDatabase(ctx, template)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := c.DropDatabase(context.Background(), url); err != nil {
			t.Errorf("pgtest: drop database: %v", err)
		}
	})
	return url
}
