-- 0015: the partial ReadOnly index holds the rare value again.
--
-- 0014 indexed only readOnly events, because Trent wrote KMS's
-- cryptographic calls, the bulk of the log, as readOnly false. AWS marks
-- them readOnly true, and so does Trent now: the bulk moved to the other
-- side, and audit_events_read_only would hold nearly every event and cost
-- every insert. Index the write events instead; a lookup of ReadOnly
-- true, now the common value, walks audit_events_lookup and finds its page
-- at once, as 0014 does for the other common values.
DROP INDEX IF EXISTS audit_events_read_only;
CREATE INDEX IF NOT EXISTS audit_events_read_write ON audit_events (recipient, event_time DESC, node DESC, seq DESC)
    WHERE NOT read_only;
