-- 0004: multi-Region keys.
--
-- One row per member (primary or replica) of a multi-Region key. The
-- member's own metadata, tags and versions are ordinary rows of keys,
-- key_tags and key_versions; this table ties the members together. Every
-- member holds its own copy of the versions (see store.MultiRegionKeys).

CREATE TABLE multi_region_keys (
    key_id         TEXT NOT NULL PRIMARY KEY REFERENCES keys (id) ON DELETE CASCADE,
    mrk            TEXT NOT NULL,
    region         TEXT NOT NULL,
    primary_region TEXT NOT NULL,
    UNIQUE (mrk, region)
) STRICT;
