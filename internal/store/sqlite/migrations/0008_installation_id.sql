-- 0008: an id for the installation, made once when its store is made (or
-- first migrated) and carried by its backups, so that `trent restore`
-- can refuse to put one installation's backup in place of another's store
-- (internal/app/backup.go). Random, not secret.
INSERT INTO settings (name, value) VALUES ('installation.id', CAST(lower(hex(randomblob(16))) AS BLOB));
