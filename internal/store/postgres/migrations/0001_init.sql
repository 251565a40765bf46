-- 0001: the first schema (as the SQLite store's 0001).
--
-- Times are bigint Unix nanoseconds (UTC), as in the SQLite store: the
-- store's contract is nanoseconds and timestamptz keeps microseconds. NULL
-- means "not set". Flags are 0/1 integers, for the same reason: the two
-- stores share their queries. Text columns are COLLATE "C", which orders
-- byte-wise as Go compares strings, whatever the database's default
-- collation.

CREATE TABLE keys (
    id                   text    COLLATE "C" NOT NULL PRIMARY KEY,
    account              text    COLLATE "C" NOT NULL,
    region               text    COLLATE "C" NOT NULL,
    description          text    NOT NULL,
    key_spec             text    NOT NULL,
    key_usage            text    NOT NULL,
    origin               text    NOT NULL,
    state                text    NOT NULL,
    created_at           bigint,
    deletion_date        bigint,
    pending_window_days  bigint  NOT NULL,
    policy               text    NOT NULL,
    rotation_enabled     integer NOT NULL CHECK (rotation_enabled IN (0, 1)),
    rotation_period_days bigint  NOT NULL,
    next_rotation        bigint,
    current_version      bigint  NOT NULL CHECK (current_version BETWEEN 0 AND 4294967295),
    on_demand_rotations  bigint  NOT NULL,
    revision             bigint  NOT NULL CHECK (revision >= 1)
);

CREATE INDEX keys_by_account_region ON keys (account, region, id);
CREATE INDEX keys_deletion_due ON keys (deletion_date) WHERE state = 'PendingDeletion';
CREATE INDEX keys_rotation_due ON keys (next_rotation) WHERE rotation_enabled = 1;

CREATE TABLE key_tags (
    key_id    text    COLLATE "C" NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    position  integer NOT NULL,
    tag_key   text    COLLATE "C" NOT NULL,
    tag_value text    NOT NULL,
    PRIMARY KEY (key_id, tag_key),
    UNIQUE (key_id, position)
);

CREATE TABLE key_versions (
    key_id        text   COLLATE "C" NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    version       bigint NOT NULL CHECK (version BETWEEN 1 AND 4294967295),
    material_id   text   NOT NULL,
    wrapped       bytea  NOT NULL,
    created_at    bigint,
    rotation_type text   NOT NULL,
    PRIMARY KEY (key_id, version)
);

CREATE TABLE aliases (
    account    text   COLLATE "C" NOT NULL,
    region     text   COLLATE "C" NOT NULL,
    name       text   COLLATE "C" NOT NULL,
    key_id     text   COLLATE "C" NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    created_at bigint,
    updated_at bigint,
    PRIMARY KEY (account, region, name)
);

CREATE INDEX aliases_by_key ON aliases (key_id);

CREATE TABLE access_keys (
    id             text    COLLATE "C" NOT NULL PRIMARY KEY,
    account        text    COLLATE "C" NOT NULL,
    principal_arn  text    COLLATE "C" NOT NULL,
    wrapped_secret bytea   NOT NULL,
    created_at     bigint,
    active         integer NOT NULL CHECK (active IN (0, 1))
);

CREATE TABLE settings (
    name  text  COLLATE "C" NOT NULL PRIMARY KEY,
    value bytea NOT NULL
);
