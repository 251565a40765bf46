-- 0002: identities and grants (as the SQLite store's 0002).
--
-- IAM names are unique per account and kind without regard to ASCII case:
-- the unique indexes are on lower(name), which under COLLATE "C" folds
-- ASCII only, and lookups compare lower(name) = lower($n COLLATE "C").

CREATE TABLE accounts (
    id         text   COLLATE "C" NOT NULL PRIMARY KEY CHECK (id ~ '^[0-9]{12}$'),
    created_at bigint
);

CREATE TABLE principals (
    id                   text    COLLATE "C" NOT NULL PRIMARY KEY,
    account              text    COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind                 text    COLLATE "C" NOT NULL CHECK (kind IN ('user', 'group', 'role')),
    name                 text    COLLATE "C" NOT NULL CHECK (name <> ''),
    path                 text    COLLATE "C" NOT NULL,
    arn                  text    COLLATE "C" NOT NULL UNIQUE,
    created_at           bigint,
    permissions_boundary text    NOT NULL,
    assume_role_policy   text    NOT NULL,
    description          text    NOT NULL,
    max_session_duration bigint  NOT NULL,
    revision             bigint  NOT NULL CHECK (revision >= 1)
);

CREATE UNIQUE INDEX principals_by_name ON principals (account, kind, lower(name));
CREATE INDEX principals_listing ON principals (account, kind, name);

CREATE TABLE principal_tags (
    principal_id text    COLLATE "C" NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    position     integer NOT NULL,
    tag_key      text    COLLATE "C" NOT NULL,
    tag_value    text    NOT NULL,
    PRIMARY KEY (principal_id, tag_key),
    UNIQUE (principal_id, position)
);

CREATE TABLE group_members (
    group_id text COLLATE "C" NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    user_id  text COLLATE "C" NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);

CREATE INDEX group_members_by_user ON group_members (user_id, group_id);

CREATE TABLE inline_policies (
    principal_id text COLLATE "C" NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    name         text COLLATE "C" NOT NULL,
    document     text NOT NULL,
    PRIMARY KEY (principal_id, name)
);

CREATE TABLE policies (
    id              text   COLLATE "C" NOT NULL PRIMARY KEY,
    account         text   COLLATE "C" NOT NULL,
    name            text   COLLATE "C" NOT NULL CHECK (name <> ''),
    path            text   COLLATE "C" NOT NULL,
    arn             text   COLLATE "C" NOT NULL UNIQUE,
    description     text   NOT NULL,
    default_version bigint NOT NULL CHECK (default_version >= 1),
    next_version    bigint NOT NULL CHECK (next_version > default_version),
    created_at      bigint,
    updated_at      bigint
);

CREATE UNIQUE INDEX policies_by_name ON policies (account, lower(name));
CREATE INDEX policies_listing ON policies (account, arn);

CREATE TABLE policy_versions (
    policy_id  text   COLLATE "C" NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    version    bigint NOT NULL CHECK (version >= 1),
    document   text   NOT NULL,
    created_at bigint,
    PRIMARY KEY (policy_id, version)
);

CREATE TABLE policy_attachments (
    principal_id text COLLATE "C" NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    policy_id    text COLLATE "C" NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    PRIMARY KEY (principal_id, policy_id)
);

CREATE INDEX policy_attachments_by_policy ON policy_attachments (policy_id, principal_id);

ALTER TABLE access_keys ADD COLUMN user_id text COLLATE "C" REFERENCES principals (id) ON DELETE CASCADE;
ALTER TABLE access_keys ADD COLUMN last_used_at bigint;
ALTER TABLE access_keys ADD COLUMN last_used_service text NOT NULL DEFAULT '';
ALTER TABLE access_keys ADD COLUMN last_used_region text NOT NULL DEFAULT '';

CREATE INDEX access_keys_by_user ON access_keys (user_id, id);
CREATE INDEX access_keys_of_roots ON access_keys (account, id) WHERE user_id IS NULL;

CREATE TABLE grants (
    grant_id           text   COLLATE "C" NOT NULL PRIMARY KEY,
    key_id             text   COLLATE "C" NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    name               text   COLLATE "C" NOT NULL,
    account            text   COLLATE "C" NOT NULL,
    region             text   COLLATE "C" NOT NULL,
    grantee_principal  text   COLLATE "C" NOT NULL,
    retiring_principal text   COLLATE "C" NOT NULL,
    issuing_account    text   NOT NULL,
    operations         text   NOT NULL,
    constraints_equals text,
    constraints_subset text,
    created_at         bigint
);

CREATE INDEX grants_by_key ON grants (key_id, grant_id);
CREATE INDEX grants_by_grantee ON grants (key_id, grantee_principal, grant_id);
CREATE INDEX grants_by_name ON grants (key_id, name, grant_id);
CREATE INDEX grants_by_retiring ON grants (retiring_principal, grant_id);

-- The authorization generation: one row, moved by the triggers below in
-- the same transaction as every change authorization depends on (rows
-- deleted by ON DELETE CASCADE fire them too). Every identity write
-- updates this row, so concurrent identity writes on different nodes
-- serialize on it; they are rare next to KMS operations.
CREATE TABLE authz_generation (
    id    integer NOT NULL PRIMARY KEY CHECK (id = 1),
    value bigint  NOT NULL
);

INSERT INTO authz_generation (id, value) VALUES (1, 0);

CREATE FUNCTION trent_bump_authz_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE authz_generation SET value = value + 1 WHERE id = 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER accounts_authz AFTER INSERT OR UPDATE OR DELETE ON accounts
    FOR EACH ROW EXECUTE FUNCTION trent_bump_authz_generation();
CREATE TRIGGER principals_authz AFTER INSERT OR UPDATE OR DELETE ON principals
    FOR EACH ROW EXECUTE FUNCTION trent_bump_authz_generation();
CREATE TRIGGER principal_tags_authz AFTER INSERT OR UPDATE OR DELETE ON principal_tags
    FOR EACH ROW EXECUTE FUNCTION trent_bump_authz_generation();
CREATE TRIGGER group_members_authz AFTER INSERT OR UPDATE OR DELETE ON group_members
    FOR EACH ROW EXECUTE FUNCTION trent_bump_authz_generation();
CREATE TRIGGER inline_policies_authz AFTER INSERT OR UPDATE OR DELETE ON inline_policies
    FOR EACH ROW EXECUTE FUNCTION trent_bump_authz_generation();
CREATE TRIGGER policies_authz AFTER INSERT OR UPDATE OR DELETE ON policies
    FOR EACH ROW EXECUTE FUNCTION trent_bump_authz_generation();
CREATE TRIGGER policy_versions_authz AFTER INSERT OR UPDATE OR DELETE ON policy_versions
    FOR EACH ROW EXECUTE FUNCTION trent_bump_authz_generation();
CREATE TRIGGER policy_attachments_authz AFTER INSERT OR UPDATE OR DELETE ON policy_attachments
    FOR EACH ROW EXECUTE FUNCTION trent_bump_authz_generation();
CREATE TRIGGER grants_authz AFTER INSERT OR UPDATE OR DELETE ON grants
    FOR EACH ROW EXECUTE FUNCTION trent_bump_authz_generation();

-- Access keys: every change but the record of their last use.
CREATE TRIGGER access_keys_authz_ins_del AFTER INSERT OR DELETE ON access_keys
    FOR EACH ROW EXECUTE FUNCTION trent_bump_authz_generation();
CREATE TRIGGER access_keys_authz_upd
    AFTER UPDATE OF id, account, principal_arn, wrapped_secret, created_at, active, user_id ON access_keys
    FOR EACH ROW EXECUTE FUNCTION trent_bump_authz_generation();
