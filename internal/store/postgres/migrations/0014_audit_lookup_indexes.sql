-- 0014: LookupEvents by attribute without reading the account's history.
--
-- audit_events_lookup (0006) serves a lookup without an attribute, and one
-- whose value is common (the first page's rows come early in the index).
-- A rare or absent value — an EventId, an access key or user with few
-- events, a key ARN with none — made the search walk every event of the
-- account, seconds for a million (docs/postgres.md, "LookupEvents").
--
-- Each scalar attribute gets the lookup index with the attribute after
-- the account, so that one range scan returns the account's rows with
-- that value already in page order (newest first, then node, then seq):
-- the first page of a common value stops after a page's rows, a rare one
-- reads only its own. An EventId names one event, so its index needs no
-- order. The resource columns are arrays (an event names its key's ARN
-- and id, a ReEncrypt two keys): GIN indexes find the rows holding a
-- value; the planner keeps audit_events_lookup for a value so common that
-- a page is found sooner by walking it (FetchAuditEvents plans each
-- search with its values for that reason).
--
-- Plain CREATE INDEX: the migrations run in a transaction, which CREATE
-- INDEX CONCURRENTLY refuses. The build holds a SHARE lock on
-- audit_events: lookups go on, and the shippers' inserts wait for it and
-- then catch up (they are off the request path; a node's events stay
-- durable in its own files meanwhile). docs/postgres.md gives the build
-- time per million events. IF NOT EXISTS: an operator with a large table
-- can build them beforehand with CREATE INDEX CONCURRENTLY under these
-- names, and this migration then has nothing to do.
CREATE INDEX IF NOT EXISTS audit_events_event_id ON audit_events (recipient, event_id);
CREATE INDEX IF NOT EXISTS audit_events_event_name ON audit_events (recipient, event_name, event_time DESC, node DESC, seq DESC);
CREATE INDEX IF NOT EXISTS audit_events_username ON audit_events (recipient, username, event_time DESC, node DESC, seq DESC);
CREATE INDEX IF NOT EXISTS audit_events_access_key_id ON audit_events (recipient, access_key_id, event_time DESC, node DESC, seq DESC);
CREATE INDEX IF NOT EXISTS audit_events_resource_names ON audit_events USING gin (resource_names);

-- Attributes of a few values, one of them most events': only the other
-- events are indexed, so that the bulk pays nothing. A lookup of the
-- common value walks audit_events_lookup and finds its page at once; one
-- of a rare value uses these (FetchAuditEvents adds the ResourceType
-- predicate, which the planner cannot infer from @>). The common
-- values are what Trent writes for KMS data-plane calls: source
-- kms.amazonaws.com, readOnly false, resource type AWS::KMS::Key.
CREATE INDEX IF NOT EXISTS audit_events_event_source ON audit_events (recipient, event_source, event_time DESC, node DESC, seq DESC)
    WHERE event_source <> 'kms.amazonaws.com';
CREATE INDEX IF NOT EXISTS audit_events_read_only ON audit_events (recipient, event_time DESC, node DESC, seq DESC)
    WHERE read_only;
CREATE INDEX IF NOT EXISTS audit_events_resource_types ON audit_events USING gin (resource_types)
    WHERE resource_types <> '{AWS::KMS::Key}';
