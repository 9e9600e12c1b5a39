-- depends: 0013.dossiers-received-brin
-- No parallel workers for scans of `dossiers` (issue 14, helper "pg" of session 10 in docs/benchmarks.md). Its reads
-- are the live figures and today's receipts (every unit-indicators publication and live snapshot, off the request
-- path: read tables are recomputed in the background) and recompute. With two parallel workers each such read
-- started two more backends beside the two applying processes on a two-core machine: three processes' CPU for one
-- read (0.7-1.4 µs per event in the 2nd-5th millions of a 5 M back-fill, counted by kind of PostgreSQL process), to
-- shorten a wall time nobody waits on — and the publisher spaces its reads by their wall time while catching up
-- (service/publisher.py), so a longer read is also a rarer one. Once the table is vacuumed after a back-fill
-- (service/upkeep.py) the live figures are an index-only scan of the open dossiers, tens of ms in one process.
ALTER TABLE dossiers SET (parallel_workers = 0);
