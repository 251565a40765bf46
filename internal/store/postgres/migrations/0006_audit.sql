-- 0005: audit with many nodes (PostgreSQL only: a SQLite installation has
-- one node, whose audit files are the whole record).
--
-- Each node keeps its own hash-chained, signed audit log in its data dir;
-- these tables are copies and summaries that make the nodes' logs
-- searchable and checkable together (internal/audit/cluster.go). They are
-- written asynchronously by each node's shipper, never on a request's path.

-- Every durable event line of every node. (node, seq) is the line's place
-- in its node's chain; hash is SHA-256 of the line as written (newline
-- included), so a row can be checked against the node's files; file and
-- end_offset say where it is, so a restarted shipper resumes there.
CREATE TABLE audit_events (
    node           text    COLLATE "C" NOT NULL,
    seq            bigint  NOT NULL,
    hash           bytea   NOT NULL,
    file           text    COLLATE "C" NOT NULL,
    end_offset     bigint  NOT NULL,
    event_time     bigint  NOT NULL,   -- eventTime, Unix seconds
    recipient      text    COLLATE "C" NOT NULL,
    event_id       text    COLLATE "C" NOT NULL,
    event_name     text    COLLATE "C" NOT NULL,
    event_source   text    COLLATE "C" NOT NULL,
    username       text    COLLATE "C" NOT NULL,
    access_key_id  text    COLLATE "C" NOT NULL,
    read_only      boolean NOT NULL,
    resource_types text[]  COLLATE "C" NOT NULL,
    resource_names text[]  COLLATE "C" NOT NULL,
    line           bytea   NOT NULL,   -- the event line, without its newline
    PRIMARY KEY (node, seq)
);

-- LookupEvents: one account's events, newest first, in pages keyed by
-- (event_time, node, seq).
CREATE INDEX audit_events_lookup ON audit_events (recipient, event_time DESC, node DESC, seq DESC);

-- Per node: the newest digest it wrote (its number, file, signature and
-- the head of the chain it covers) and the newest event it shipped. A
-- node's files must reach both: `trent audit verify --database-url` names
-- a node whose files are missing or end before them.
CREATE TABLE audit_heads (
    node              text   COLLATE "C" NOT NULL PRIMARY KEY,
    public_key_sha256 text   COLLATE "C" NOT NULL DEFAULT '',
    digest_seq        bigint NOT NULL DEFAULT 0,
    digest_file       text   COLLATE "C" NOT NULL DEFAULT '',
    digest_signature  text   NOT NULL DEFAULT '',
    head_file         text   COLLATE "C" NOT NULL DEFAULT '',
    head_offset       bigint NOT NULL DEFAULT 0,
    head_seq          bigint NOT NULL DEFAULT 0,
    head_hash         text   COLLATE "C" NOT NULL DEFAULT '',
    digest_at         bigint NOT NULL DEFAULT 0,   -- Unix nanoseconds, when recorded
    shipped_seq       bigint NOT NULL DEFAULT 0,
    shipped_hash      bytea  NOT NULL DEFAULT '\x',
    shipped_at        bigint NOT NULL DEFAULT 0
);
