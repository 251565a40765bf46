-- 0013: a live node recovers the audit intents of a node gone for good
-- (internal/audit/orphan.go, internal/store/postgres/intentclaim.go). It
-- claims them by moving them to its own node in one transaction, taken
-- under the gone node's lock; these columns say whose they were and when
-- they moved. Both have constant defaults: adding them rewrites nothing.
ALTER TABLE audit_intents
    ADD COLUMN origin     text   NOT NULL DEFAULT '', -- the node whose request wrote the row; '' while that node still holds it
    ADD COLUMN claimed_at bigint NOT NULL DEFAULT 0;  -- Unix nanoseconds, when another node claimed it
