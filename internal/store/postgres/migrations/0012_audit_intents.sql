-- 0012: the audit outbox. A
-- request that may change state writes its row in the transaction of its
-- change (internal/store/intent.go); the audit log deletes it once the
-- request's event is durable, and at start writes the event of every row
-- a crash left between the commit and the event (internal/audit/intent.go).
CREATE TABLE audit_intents (
    event_id   text   NOT NULL,
    node       text   NOT NULL, -- the audit log's node id; '' for one node
    event_time bigint NOT NULL, -- Unix nanoseconds
    keys       text   NOT NULL, -- ARNs of the keys the request created, space-separated
    body       bytea  NOT NULL, -- the event as known at the write, JSON
    -- The time first: new requests' rows go to the end of the b-tree,
    -- and the janitor's deletes take them from its start.
    PRIMARY KEY (event_time, event_id)
);
