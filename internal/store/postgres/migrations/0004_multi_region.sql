-- 0004: multi-Region keys (as the SQLite store's 0004).
--
-- One row per member (primary or replica) of a multi-Region key; the
-- member's own metadata, tags and versions are ordinary rows of keys,
-- key_tags and key_versions.

CREATE TABLE multi_region_keys (
    key_id         text COLLATE "C" NOT NULL PRIMARY KEY REFERENCES keys (id) ON DELETE CASCADE,
    mrk            text COLLATE "C" NOT NULL,
    region         text COLLATE "C" NOT NULL,
    primary_region text COLLATE "C" NOT NULL,
    UNIQUE (mrk, region)
);
