-- 0003: reserved for the imported key material branch (h-byok), which
-- adds its own 0003. This placeholder only keeps the numbering without
-- gaps on the multi-Region branch; drop it when the two are merged.
SELECT 1;
