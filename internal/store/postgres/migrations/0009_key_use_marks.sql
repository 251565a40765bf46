-- 0009: how far each node's audit log has been copied into key_last_use
-- by the node itself (the lead renumbers this file when merging). Each
-- node writes its uses into key_last_use in batches as they become
-- durable (internal/audit/usage.go), so that it keeps in memory only what
-- is not written yet, and the mark in the same transaction, so that at
-- start it reads its log only from there. The trigger of 0008 still
-- writes what the shipper copies, for the nodes' uses it has not written
-- (a use is stored by whichever comes first; both keep the later use).
CREATE TABLE key_use_marks (
    node           text   COLLATE "C" NOT NULL PRIMARY KEY,
    seq            bigint NOT NULL,
    tracking_start bigint -- Unix nanoseconds; NULL before the log's first event
);
