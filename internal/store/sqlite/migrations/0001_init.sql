-- 0001: the first schema.
--
-- Times are INTEGER Unix nanoseconds (UTC); NULL means "not set" (the zero
-- time.Time). Text columns compare with SQLite's BINARY collation, which
-- orders the same way Go compares strings.

CREATE TABLE keys (
    id                   TEXT    NOT NULL PRIMARY KEY,
    account              TEXT    NOT NULL,
    region               TEXT    NOT NULL,
    description          TEXT    NOT NULL,
    key_spec             TEXT    NOT NULL,
    key_usage            TEXT    NOT NULL,
    origin               TEXT    NOT NULL,
    state                TEXT    NOT NULL,
    created_at           INTEGER,
    deletion_date        INTEGER,
    pending_window_days  INTEGER NOT NULL,
    policy               TEXT    NOT NULL,
    rotation_enabled     INTEGER NOT NULL CHECK (rotation_enabled IN (0, 1)),
    rotation_period_days INTEGER NOT NULL,
    next_rotation        INTEGER,
    current_version      INTEGER NOT NULL CHECK (current_version BETWEEN 0 AND 4294967295),
    on_demand_rotations  INTEGER NOT NULL,
    revision             INTEGER NOT NULL CHECK (revision >= 1)
) STRICT;

-- ListKeys: one account and region, ordered by id.
CREATE INDEX keys_by_account_region ON keys (account, region, id);
-- KeysDue.
CREATE INDEX keys_deletion_due ON keys (deletion_date) WHERE state = 'PendingDeletion';
CREATE INDEX keys_rotation_due ON keys (next_rotation) WHERE rotation_enabled = 1;

CREATE TABLE key_tags (
    key_id    TEXT    NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    tag_key   TEXT    NOT NULL,
    tag_value TEXT    NOT NULL,
    PRIMARY KEY (key_id, tag_key),
    UNIQUE (key_id, position)
) STRICT;

CREATE TABLE key_versions (
    key_id        TEXT    NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    version       INTEGER NOT NULL CHECK (version BETWEEN 1 AND 4294967295),
    material_id   TEXT    NOT NULL,
    wrapped       BLOB    NOT NULL,
    created_at    INTEGER,
    rotation_type TEXT    NOT NULL,
    PRIMARY KEY (key_id, version)
) STRICT;

CREATE TABLE aliases (
    account    TEXT    NOT NULL,
    region     TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    key_id     TEXT    NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    created_at INTEGER,
    updated_at INTEGER,
    PRIMARY KEY (account, region, name)
) STRICT;

CREATE INDEX aliases_by_key ON aliases (key_id);

CREATE TABLE access_keys (
    id             TEXT    NOT NULL PRIMARY KEY,
    account        TEXT    NOT NULL,
    principal_arn  TEXT    NOT NULL,
    wrapped_secret BLOB    NOT NULL,
    created_at     INTEGER,
    active         INTEGER NOT NULL CHECK (active IN (0, 1))
) STRICT;

CREATE TABLE settings (
    name  TEXT NOT NULL PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;
