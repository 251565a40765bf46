-- 0003: imported key material (as the SQLite store's 0003).
--
-- A key version's material may be deleted (DeleteImportedKeyMaterial) or
-- expire; the row stays, with an empty wrapped value, so that the same
-- material can be imported again under the same KeyMaterialId.

ALTER TABLE key_versions ADD COLUMN import_state     text NOT NULL DEFAULT '';
ALTER TABLE key_versions ADD COLUMN expiration_model text NOT NULL DEFAULT '';
ALTER TABLE key_versions ADD COLUMN valid_to         bigint;
ALTER TABLE key_versions ADD COLUMN description      text NOT NULL DEFAULT '';

CREATE INDEX key_versions_expiry ON key_versions (valid_to)
    WHERE expiration_model = 'KEY_MATERIAL_EXPIRES' AND length(wrapped) > 0;
