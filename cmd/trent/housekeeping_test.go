package main

import (
	"strings"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/app"
)

// TestServeAuditHousekeepingFlags: serve's archive and prune settings, from
// flags and the environment, and the values it refuses.
func TestServeAuditHousekeepingFlags(t *testing.T) {
	const db = "postgres://trent@127.0.0.1/trent"
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want app.AuditHousekeeping
		err  string
	}{
		{args: []string{"--dev"}, want: app.AuditHousekeeping{ArchiveOlderThan: 2160 * time.Hour, Every: time.Hour}},
		{args: []string{"--dev", "--audit-archive-to", "/a", "--audit-archive-older-than", "24h", "--audit-housekeeping-interval", "10m"},
			want: app.AuditHousekeeping{ArchiveTo: "/a", ArchiveOlderThan: 24 * time.Hour, Every: 10 * time.Minute}},
		{args: []string{"--dev"}, env: map[string]string{"TRENT_AUDIT_ARCHIVE_TO": "/b"},
			want: app.AuditHousekeeping{ArchiveTo: "/b", ArchiveOlderThan: 2160 * time.Hour, Every: time.Hour}},
		{args: []string{"--database-url", db, "--seal-key-file", "/k", "--data-dir", "/x", "--audit-prune-older-than", "720h"},
			want: app.AuditHousekeeping{ArchiveOlderThan: 2160 * time.Hour, PruneOlderThan: 720 * time.Hour, Every: time.Hour}},
		{args: []string{"--dev", "--audit-prune-older-than", "720h"}, err: "applies with --database-url only"},
		{args: []string{"--dev", "--audit-archive-older-than", "-1h"}, err: "must not be negative"},
		{args: []string{"--dev", "--audit-housekeeping-interval", "0s"}, err: "must be positive"},
	} {
		o, err := parseServe(tc.args, func(k string) string { return tc.env[k] })
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if o.auditHousekeeping != tc.want {
			t.Errorf("%q %v: %+v, want %+v", tc.args, tc.env, o.auditHousekeeping, tc.want)
		}
	}
}

// TestServeBackupFlags: serve's scheduled backup settings and the values
// it refuses.
func TestServeBackupFlags(t *testing.T) {
	const db = "postgres://trent@127.0.0.1/trent"
	for _, tc := range []struct {
		args []string
		want app.BackupSchedule
		err  string
	}{
		{args: []string{"--dev"}, want: app.BackupSchedule{Every: 24 * time.Hour, Keep: 7}},
		{args: []string{"--dev", "--backup-to", "/b", "--backup-interval", "6h", "--backup-keep", "28"},
			want: app.BackupSchedule{To: "/b", Every: 6 * time.Hour, Keep: 28}},
		{args: []string{"--dev", "--backup-keep", "0"}, err: "--backup-keep at least 1"},
		{args: []string{"--dev", "--backup-interval", "0s"}, err: "--backup-interval must be positive"},
		{args: []string{"--database-url", db, "--seal-key-file", "/k", "--data-dir", "/x", "--backup-to", "/b"}, err: "on PostgreSQL use PostgreSQL's own backups"},
	} {
		o, err := parseServe(tc.args, func(string) string { return "" })
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if o.backup != tc.want {
			t.Errorf("%q: %+v, want %+v", tc.args, o.backup, tc.want)
		}
	}
}
