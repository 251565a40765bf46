-- 0005: changes published to the other nodes' caches (notify.go).
--
-- Every change a node may hold in a cache sends a notification on the
-- channel 'trent_' || md5(<schema of the tables>) from the transaction that makes it. PostgreSQL
-- delivers notifications only once their transaction commits, in commit
-- order, and folds identical payloads of one transaction into one. The
-- payloads name what changed:
--
--   key <key id>                      the key's row, tags, versions, or
--                                     multi-Region family changed
--   key-aliases <key id>              the alias names of the key changed
--   alias <account> <region> <name>   the alias points elsewhere or is gone
--   grants <key id>                   the key's grants changed
--   authz                             the authorization generation moved
--                                     (identities, policies, access keys,
--                                     grants: 0002's triggers)
--   ping <node> <seq>                 a node's own round trip (notify.go)
--
-- A new key is not announced: no node can have cached it (a node that was
-- asked for it before it existed remembers the absence for a moment only,
-- and forgets such absences at every round trip). That keeps NOTIFY, whose
-- commit takes a lock shared by the whole database, out of CreateKey. The
-- rows written with a new key (versions, tags) are recognised by the key
-- row having been written by the same transaction: its xmin is this
-- transaction's id. The same test spares a second notification when a
-- write changes the key row and its versions together (the key row's own
-- trigger announced it).
--
-- There is no counter row bumped by these triggers: one row updated by
-- every key write would make all key writes of the cluster conflict with
-- each other under SERIALIZABLE (each aborted and retried). A node learns
-- that it missed nothing from its own ping coming back instead.

-- trent_notify sends payload on the channel of the installation whose
-- tables are in schema: installations in other schemas of the database
-- (the tests make one per test) do not hear each other.
CREATE FUNCTION trent_notify(schema text, payload text) RETURNS void LANGUAGE sql VOLATILE AS $$
    SELECT pg_notify('trent_' || md5(schema), payload)
$$;

CREATE FUNCTION trent_notify_key_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM trent_notify(TG_TABLE_SCHEMA, 'key ' || OLD.id);
    ELSE
        PERFORM trent_notify(TG_TABLE_SCHEMA, 'key ' || NEW.id);
    END IF;
    RETURN NULL;
END
$$;

-- trent_written_here reports whether key id's row was inserted or updated
-- by the current transaction (so its own trigger or its newness covers
-- the change). A key row that is gone (deleted here, cascading) is not.
CREATE FUNCTION trent_written_here(kid text) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT xmin::text FROM keys WHERE id = kid) = (txid_current() % 4294967296)::text, false)
$$;

CREATE FUNCTION trent_notify_key_child() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    id text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        id := OLD.key_id;
    ELSE
        id := NEW.key_id;
    END IF;
    IF NOT trent_written_here(id) THEN
        PERFORM trent_notify(TG_TABLE_SCHEMA, 'key ' || id);
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.key_id <> NEW.key_id AND NOT trent_written_here(OLD.key_id) THEN
        PERFORM trent_notify(TG_TABLE_SCHEMA, 'key ' || OLD.key_id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER keys_notify AFTER UPDATE OR DELETE ON keys
    FOR EACH ROW EXECUTE FUNCTION trent_notify_key_row();
CREATE TRIGGER key_versions_notify AFTER INSERT OR UPDATE OR DELETE ON key_versions
    FOR EACH ROW EXECUTE FUNCTION trent_notify_key_child();
CREATE TRIGGER key_tags_notify AFTER INSERT OR UPDATE OR DELETE ON key_tags
    FOR EACH ROW EXECUTE FUNCTION trent_notify_key_child();

-- A member joining, leaving or changing in a multi-Region family changes
-- what every member's metadata says of the family.
CREATE FUNCTION trent_notify_multi_region() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    m text;
    member text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        m := OLD.mrk;
        PERFORM trent_notify(TG_TABLE_SCHEMA, 'key ' || OLD.key_id);
    ELSE
        m := NEW.mrk;
        PERFORM trent_notify(TG_TABLE_SCHEMA, 'key ' || NEW.key_id);
    END IF;
    FOR member IN SELECT key_id FROM multi_region_keys WHERE mrk = m LOOP
        PERFORM trent_notify(TG_TABLE_SCHEMA, 'key ' || member);
    END LOOP;
    IF TG_OP = 'UPDATE' AND OLD.mrk <> NEW.mrk THEN
        FOR member IN SELECT key_id FROM multi_region_keys WHERE mrk = OLD.mrk LOOP
            PERFORM trent_notify(TG_TABLE_SCHEMA, 'key ' || member);
        END LOOP;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER multi_region_keys_notify AFTER INSERT OR UPDATE OR DELETE ON multi_region_keys
    FOR EACH ROW EXECUTE FUNCTION trent_notify_multi_region();

-- An alias write changes the alias and the alias names of the keys it
-- pointed at before and after.
CREATE FUNCTION trent_notify_alias() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM trent_notify(TG_TABLE_SCHEMA, 'alias ' || OLD.account || ' ' || OLD.region || ' ' || OLD.name);
        PERFORM trent_notify(TG_TABLE_SCHEMA, 'key-aliases ' || OLD.key_id);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM trent_notify(TG_TABLE_SCHEMA, 'alias ' || NEW.account || ' ' || NEW.region || ' ' || NEW.name);
        PERFORM trent_notify(TG_TABLE_SCHEMA, 'key-aliases ' || NEW.key_id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER aliases_notify AFTER INSERT OR UPDATE OR DELETE ON aliases
    FOR EACH ROW EXECUTE FUNCTION trent_notify_alias();

CREATE FUNCTION trent_notify_grants() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM trent_notify(TG_TABLE_SCHEMA, 'grants ' || OLD.key_id);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM trent_notify(TG_TABLE_SCHEMA, 'grants ' || NEW.key_id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER grants_notify AFTER INSERT OR UPDATE OR DELETE ON grants
    FOR EACH ROW EXECUTE FUNCTION trent_notify_grants();

-- Every change authorization depends on already moves the generation row
-- (0002); announcing its move announces them all, once per transaction.
CREATE FUNCTION trent_notify_authz() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM trent_notify(TG_TABLE_SCHEMA, 'authz');
    RETURN NULL;
END
$$;

CREATE TRIGGER authz_generation_notify AFTER UPDATE ON authz_generation
    FOR EACH ROW EXECUTE FUNCTION trent_notify_authz();
