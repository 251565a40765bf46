-- 0005: GetKeyLastUsage from the store (the lead renumbers this file when
-- merging). The audit log's writer feeds each key's latest successful
-- cryptographic use here in batches (internal/audit/usage.go), instead of
-- the server keeping one entry per key ever used in memory and reading the
-- whole log at every start.
CREATE TABLE key_last_use (
    arn        TEXT    NOT NULL PRIMARY KEY,
    event_time INTEGER NOT NULL, -- eventTime, Unix seconds
    node       TEXT    NOT NULL, -- the audit log's node id; '' for one node
    seq        INTEGER NOT NULL, -- the event's sequence number in that log
    operation  TEXT    NOT NULL,
    event_id   TEXT    NOT NULL,
    request_id TEXT    NOT NULL
) STRICT, WITHOUT ROWID;

-- How far each node's log has been copied into key_last_use, written in
-- the transaction of each batch: at start the log is read only from seq on.
CREATE TABLE key_use_marks (
    node           TEXT    NOT NULL PRIMARY KEY,
    seq            INTEGER NOT NULL,
    tracking_start INTEGER -- Unix nanoseconds; NULL before the log's first event
) STRICT;
