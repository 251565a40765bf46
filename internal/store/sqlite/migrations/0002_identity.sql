-- 0002: identities and grants.
--
-- Accounts; IAM users, groups and roles (one table, principals, so that the
-- rows that hang off any of them — tags, inline policies, attachments — can
-- have real foreign keys); group membership; managed policies and their
-- versions; users' access keys (new columns of access_keys); KMS grants; and
-- the authorization generation, moved by triggers.
--
-- IAM names are unique per account and kind without regard to ASCII case:
-- the unique indexes are on lower(name) (SQLite's lower() folds ASCII
-- only), and lookups by name compare lower(name) = lower(?), which those
-- indexes serve. The name column itself keeps the case it was given and
-- sorts byte-wise (BINARY), for listing.

CREATE TABLE accounts (
    id         TEXT    NOT NULL PRIMARY KEY
                       CHECK (length(id) = 12 AND id NOT GLOB '*[^0-9]*'),
    created_at INTEGER
) STRICT;

-- Users, groups and roles. The role columns are '' and 0 for the others;
-- permissions_boundary is '' for groups.
CREATE TABLE principals (
    id                   TEXT    NOT NULL PRIMARY KEY,
    account              TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind                 TEXT    NOT NULL CHECK (kind IN ('user', 'group', 'role')),
    name                 TEXT    NOT NULL CHECK (name <> ''),
    path                 TEXT    NOT NULL,
    arn                  TEXT    NOT NULL UNIQUE,
    created_at           INTEGER,
    permissions_boundary TEXT    NOT NULL,
    assume_role_policy   TEXT    NOT NULL,
    description          TEXT    NOT NULL,
    max_session_duration INTEGER NOT NULL,
    revision             INTEGER NOT NULL CHECK (revision >= 1)
) STRICT;

-- Uniqueness and lookup by name, whatever its case.
CREATE UNIQUE INDEX principals_by_name ON principals (account, kind, lower(name));
-- Listing by name.
CREATE INDEX principals_listing ON principals (account, kind, name);

CREATE TABLE principal_tags (
    principal_id TEXT    NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    tag_key      TEXT    NOT NULL,
    tag_value    TEXT    NOT NULL,
    PRIMARY KEY (principal_id, tag_key),
    UNIQUE (principal_id, position)
) STRICT;

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
) STRICT;

CREATE INDEX group_members_by_user ON group_members (user_id, group_id);

CREATE TABLE inline_policies (
    principal_id TEXT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    document     TEXT NOT NULL,
    PRIMARY KEY (principal_id, name)
) STRICT;

-- Managed policies. account is the owning account or 'aws' for AWS-managed
-- policies, which belong to no account: so there is no foreign key to
-- accounts, and CreatePolicy checks that the account exists.
-- default_version and next_version are version numbers (v<n>).
CREATE TABLE policies (
    id              TEXT    NOT NULL PRIMARY KEY,
    account         TEXT    NOT NULL,
    name            TEXT    NOT NULL CHECK (name <> ''),
    path            TEXT    NOT NULL,
    arn             TEXT    NOT NULL UNIQUE,
    description     TEXT    NOT NULL,
    default_version INTEGER NOT NULL CHECK (default_version >= 1),
    next_version    INTEGER NOT NULL CHECK (next_version > default_version),
    created_at      INTEGER,
    updated_at      INTEGER
) STRICT;

CREATE UNIQUE INDEX policies_by_name ON policies (account, lower(name));
-- Listing by ARN within an owner.
CREATE INDEX policies_listing ON policies (account, arn);

CREATE TABLE policy_versions (
    policy_id  TEXT    NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    version    INTEGER NOT NULL CHECK (version >= 1),
    document   TEXT    NOT NULL,
    created_at INTEGER,
    PRIMARY KEY (policy_id, version)
) STRICT;

CREATE TABLE policy_attachments (
    principal_id TEXT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    policy_id    TEXT NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    PRIMARY KEY (principal_id, policy_id)
) STRICT;

CREATE INDEX policy_attachments_by_policy ON policy_attachments (policy_id, principal_id);

-- Access keys of IAM users. Existing rows are the account roots' keys:
-- user_id NULL, never used.
ALTER TABLE access_keys ADD COLUMN user_id TEXT REFERENCES principals (id) ON DELETE CASCADE;
ALTER TABLE access_keys ADD COLUMN last_used_at INTEGER;
ALTER TABLE access_keys ADD COLUMN last_used_service TEXT NOT NULL DEFAULT '';
ALTER TABLE access_keys ADD COLUMN last_used_region TEXT NOT NULL DEFAULT '';

CREATE INDEX access_keys_by_user ON access_keys (user_id, id);
CREATE INDEX access_keys_of_roots ON access_keys (account, id) WHERE user_id IS NULL;

-- KMS grants. operations is a JSON array of strings; the constraints are
-- JSON objects of strings, NULL where there is no such constraint.
CREATE TABLE grants (
    grant_id           TEXT    NOT NULL PRIMARY KEY,
    key_id             TEXT    NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    name               TEXT    NOT NULL,
    account            TEXT    NOT NULL,
    region             TEXT    NOT NULL,
    grantee_principal  TEXT    NOT NULL,
    retiring_principal TEXT    NOT NULL,
    issuing_account    TEXT    NOT NULL,
    operations         TEXT    NOT NULL,
    constraints_equals TEXT,
    constraints_subset TEXT,
    created_at         INTEGER
) STRICT;

CREATE INDEX grants_by_key ON grants (key_id, grant_id);
CREATE INDEX grants_by_grantee ON grants (key_id, grantee_principal, grant_id);
CREATE INDEX grants_by_name ON grants (key_id, name, grant_id);
CREATE INDEX grants_by_retiring ON grants (retiring_principal, grant_id);

-- The authorization generation: one row. Every insert, update and delete
-- of a row that authorization depends on adds one, in the same
-- transaction, by the triggers below; rows deleted by a foreign key's
-- ON DELETE CASCADE fire them too (a key's grants when the key goes).
CREATE TABLE authz_generation (
    id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
) STRICT;

INSERT INTO authz_generation (id, value) VALUES (1, 0);

CREATE TRIGGER accounts_ins AFTER INSERT ON accounts BEGIN UPDATE authz_generation SET value = value + 1; END;
CREATE TRIGGER accounts_upd AFTER UPDATE ON accounts BEGIN UPDATE authz_generation SET value = value + 1; END;
CREATE TRIGGER accounts_del AFTER DELETE ON accounts BEGIN UPDATE authz_generation SET value = value + 1; END;

CREATE TRIGGER principals_ins AFTER INSERT ON principals BEGIN UPDATE authz_generation SET value = value + 1; END;
CREATE TRIGGER principals_upd AFTER UPDATE ON principals BEGIN UPDATE authz_generation SET value = value + 1; END;
CREATE TRIGGER principals_del AFTER DELETE ON principals BEGIN UPDATE authz_generation SET value = value + 1; END;

CREATE TRIGGER principal_tags_ins AFTER INSERT ON principal_tags BEGIN UPDATE authz_generation SET value = value + 1; END;
CREATE TRIGGER principal_tags_upd AFTER UPDATE ON principal_tags BEGIN UPDATE authz_generation SET value = value + 1; END;
CREATE TRIGGER principal_tags_del AFTER DELETE ON principal_tags BEGIN UPDATE authz_generation SET value = value + 1; END;

CREATE TRIGGER group_members_ins AFTER INSERT ON group_members BEGIN UPDATE authz_generation SET value = value + 1; END;
CREATE TRIGGER group_members_upd AFTER UPDATE ON group_members BEGIN UPDATE authz_generation SET value = value + 1; END;
CREATE TRIGGER group_members_del AFTER DELETE ON group_members BEGIN UPDATE authz_generation SET value = value + 1; END;

CREATE TRIGGER inline_policies_ins AFTER INSERT ON inline_policies BEGIN UPDATE authz_generation SET value = value + 1; END;
CREATE TRIGGER inline_policies_upd AFTER UPDATE ON inline_policies BEGIN UPDATE authz_generation SET value = value + 1; END;
CREATE TRIGGER inline_policies_del AFTER DELETE ON inline_policies BEGIN UPDATE authz_generation SET value = value + 1; END;

CREATE TRIGGER policies_ins AFTER INSERT ON policies BEGIN UPDATE authz_generation SET value = value + 1; END;
CREATE TRIGGER policies_upd AFTER UPDATE ON policies BEGIN UPDATE authz_generation SET value = value + 1; END;
CREATE TRIGGER policies_del AFTER DELETE ON policies BEGIN UPDATE authz_generation SET value = value + 1; END;

CREATE TRIGGER policy_versions_ins AFTER INSERT ON policy_versions BEGIN UPDATE authz_generation SET value = value + 1; END;
CREATE TRIGGER policy_versions_upd AFTER UPDATE ON policy_versions BEGIN UPDATE authz_generation SET value = value + 1; END;
CREATE TRIGGER policy_versions_del AFTER DELETE ON policy_versions BEGIN UPDATE authz_generation SET value = value + 1; END;

CREATE TRIGGER policy_attachments_ins AFTER INSERT ON policy_attachments BEGIN UPDATE authz_generation SET value = value + 1; END;
CREATE TRIGGER policy_attachments_upd AFTER UPDATE ON policy_attachments BEGIN UPDATE authz_generation SET value = value + 1; END;
CREATE TRIGGER policy_attachments_del AFTER DELETE ON policy_attachments BEGIN UPDATE authz_generation SET value = value + 1; END;

CREATE TRIGGER grants_ins AFTER INSERT ON grants BEGIN UPDATE authz_generation SET value = value + 1; END;
CREATE TRIGGER grants_upd AFTER UPDATE ON grants BEGIN UPDATE authz_generation SET value = value + 1; END;
CREATE TRIGGER grants_del AFTER DELETE ON grants BEGIN UPDATE authz_generation SET value = value + 1; END;

-- Access keys: every change but the record of their last use.
CREATE TRIGGER access_keys_ins AFTER INSERT ON access_keys BEGIN UPDATE authz_generation SET value = value + 1; END;
CREATE TRIGGER access_keys_upd AFTER UPDATE OF id, account, principal_arn, wrapped_secret, created_at, active, user_id
    ON access_keys BEGIN UPDATE authz_generation SET value = value + 1; END;
CREATE TRIGGER access_keys_del AFTER DELETE ON access_keys BEGIN UPDATE authz_generation SET value = value + 1; END;
