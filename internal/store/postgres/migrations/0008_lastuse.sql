-- 0008: GetKeyLastUsage across nodes (the lead renumbers this file when
-- merging). Each node's in-memory index sees only its own log; this table
-- holds, per key ARN, the latest successful cryptographic use shipped by
-- any node, kept by a trigger on audit_events so that the shipper (and
-- the request path) write nothing more. It counts what the node index
-- counts (internal/audit/usage.go): AwsApiCall events of kms.amazonaws.com
-- without an errorCode, of the operations below, per AWS::KMS::Key
-- resource.
CREATE TABLE key_last_use (
    arn        text   COLLATE "C" NOT NULL PRIMARY KEY,
    event_time bigint NOT NULL,   -- eventTime, Unix seconds
    node       text   COLLATE "C" NOT NULL,
    seq        bigint NOT NULL,
    operation  text   COLLATE "C" NOT NULL,
    event_id   text   COLLATE "C" NOT NULL,
    request_id text   COLLATE "C" NOT NULL
);

-- trent_key_uses(n) is the key ARNs of which event n is a use, none if n
-- is not a successful cryptographic call. The line is matched as bytes,
-- as the node index scans it, never cast to jsonb: jsonb refuses a
-- \u0000 that a client's string may carry, and a trigger that fails would
-- stop the node's shipping. Inside a JSON string a quote is escaped, so
-- '"errorCode":' and the like match only keys. resource_names holds every
-- resource's ARN and each key's id besides (not one name per
-- resource_types entry): the key ARNs are picked out by their form.
-- A plain SQL function, neither STRICT nor VOLATILE, that PostgreSQL
-- inlines into the query calling it: the plans are those of the query
-- written out.
CREATE FUNCTION trent_key_uses(n audit_events) RETURNS SETOF text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT r.arn
    FROM unnest(n.resource_names) AS r(arn)
    WHERE n.event_source = 'kms.amazonaws.com'
      AND n.event_name IN ('Encrypt', 'Decrypt', 'ReEncrypt', 'GenerateDataKey',
          'GenerateDataKeyWithoutPlaintext', 'GenerateDataKeyPair',
          'GenerateDataKeyPairWithoutPlaintext', 'Sign', 'Verify', 'GenerateMac',
          'VerifyMac', 'DeriveSharedSecret', 'Encapsulate', 'Decapsulate')
      AND 'AWS::KMS::Key' = ANY (n.resource_types)
      AND r.arn LIKE 'arn:%:kms:%:key/%'
      AND position('"eventType":"AwsApiCall"'::bytea IN n.line) > 0
      AND position('"errorCode":'::bytea IN n.line) = 0
$$;

-- trent_request_id(line) is the requestID of an event line, '' if none.
-- It is read only from the one row kept per key.
CREATE FUNCTION trent_request_id(line bytea) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(substring(convert_from(line, 'UTF8') from '"requestID":"([^"\\]*)"'), '')
$$;

-- One statement per shipped batch: DISTINCT ON keeps one row per key, as
-- ON CONFLICT DO UPDATE needs; a row is replaced only by a later use.
CREATE FUNCTION trent_key_last_use() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO key_last_use (arn, event_time, node, seq, operation, event_id, request_id)
    SELECT u.arn, u.event_time, u.node, u.seq, u.event_name, u.event_id, trent_request_id(u.line)
    FROM (
        SELECT DISTINCT ON (k.arn) k.arn, n.event_time, n.node, n.seq, n.event_name, n.event_id, n.line
        FROM new_rows n CROSS JOIN LATERAL trent_key_uses(n) AS k(arn)
        ORDER BY k.arn, n.event_time DESC, n.node DESC, n.seq DESC
    ) u
    ON CONFLICT (arn) DO UPDATE SET event_time = excluded.event_time, node = excluded.node,
        seq = excluded.seq, operation = excluded.operation, event_id = excluded.event_id,
        request_id = excluded.request_id
    WHERE (key_last_use.event_time, key_last_use.node, key_last_use.seq)
        < (excluded.event_time, excluded.node, excluded.seq);
    RETURN NULL;
END
$$;

CREATE TRIGGER audit_events_key_last_use AFTER INSERT ON audit_events
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION trent_key_last_use();

-- Uses shipped before this migration. key_last_use was made above, in
-- this transaction, so it is empty: one row per key, nothing to settle.
INSERT INTO key_last_use (arn, event_time, node, seq, operation, event_id, request_id)
SELECT u.arn, u.event_time, u.node, u.seq, u.event_name, u.event_id, trent_request_id(u.line)
FROM (
    SELECT DISTINCT ON (k.arn) k.arn, n.event_time, n.node, n.seq, n.event_name, n.event_id, n.line
    FROM audit_events n CROSS JOIN LATERAL trent_key_uses(n) AS k(arn)
    ORDER BY k.arn, n.event_time DESC, n.node DESC, n.seq DESC
) u;
