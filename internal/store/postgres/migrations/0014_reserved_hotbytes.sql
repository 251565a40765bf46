-- Placeholder for h-hotbytes's 0014 (session 6 reservation, only if needed),
-- so that this branch's 0015 has its predecessors: drop this file when
-- merging an 0014; if there is none, rename 0015 to 0014 instead.
SELECT 1;
