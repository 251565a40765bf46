-- 0003: imported key material (keys of Origin EXTERNAL).
--
-- A key version's material may be deleted (DeleteImportedKeyMaterial) or
-- expire; the row stays, with an empty wrapped value, so that the same
-- material can be imported again under the same KeyMaterialId.

ALTER TABLE key_versions ADD COLUMN import_state     TEXT NOT NULL DEFAULT '';
ALTER TABLE key_versions ADD COLUMN expiration_model TEXT NOT NULL DEFAULT '';
ALTER TABLE key_versions ADD COLUMN valid_to         INTEGER;
ALTER TABLE key_versions ADD COLUMN description      TEXT NOT NULL DEFAULT '';

-- KeysMaterialExpired.
CREATE INDEX key_versions_expiry ON key_versions (valid_to)
    WHERE expiration_model = 'KEY_MATERIAL_EXPIRES' AND length(wrapped) > 0;
