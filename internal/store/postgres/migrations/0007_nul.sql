-- Descriptions and tags are whatever the caller sent, which may hold NUL
-- (U+0000): the API checks only their lengths, and the SQLite store keeps
-- them. PostgreSQL's text cannot hold it ("invalid byte sequence for
-- encoding UTF8: 0x00"), so these columns keep the UTF-8 bytes instead.
-- Byte order is the order the C collation gave tag keys, so nothing that
-- sorts or compares them changes.
ALTER TABLE keys ALTER COLUMN description TYPE bytea USING convert_to(description, 'UTF8');

ALTER TABLE key_tags
    ALTER COLUMN tag_key TYPE bytea USING convert_to(tag_key, 'UTF8'),
    ALTER COLUMN tag_value TYPE bytea USING convert_to(tag_value, 'UTF8');

ALTER TABLE key_versions
    ALTER COLUMN description DROP DEFAULT,
    ALTER COLUMN description TYPE bytea USING convert_to(description, 'UTF8'),
    ALTER COLUMN description SET DEFAULT ''::bytea;
