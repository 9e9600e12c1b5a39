-- depends: 0008.alert-receivers
-- Every batch adds to thousands of own counters: without free room on their page each update was a new row version
-- in another page (0.7 % HOT in the benchmark), i.e. a new entry in both indexes per update — index bloat that the
-- ON CONFLICT lookups of later batches wade through until autovacuum catches up. With half of each page free the
-- update stays on its page (HOT) and the indexes are not touched. Rewritten (VACUUM FULL) when the table is next
-- vacuumed fully; new pages get the room at once.
ALTER TABLE unit_month_counters SET (fillfactor = 50);
