-- Placeholder for h-pgintent's 0013 (session 6 reservation), so that this
-- branch's 0015 has its predecessors: drop this file when merging h-pgintent.
SELECT 1;
