-- 0006: each node's mark keeps the hash of the log line at its seq.
-- At start the node checks it
-- against its log: a log replaced or restored from another copy is then
-- read from its start instead of from a mark taken from another log.
-- NULL for the marks stored before (their log is read whole once).
ALTER TABLE key_use_marks ADD COLUMN hash BLOB;
