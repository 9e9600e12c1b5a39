-- depends: 0009.counters-hot-updates
-- What PostgreSQL spends per event (issue 14, docs/benchmarks.md):
--
-- 1. Every live snapshot (each unit-indicators publication, every few seconds while batches are applied) counted
--    the dossiers received today with a parallel sequential scan of the WHOLE table: ~0.25 s of wall time and three
--    processes' CPU at 322 k dossiers, growing with the table (the 5th million would pay 5× the 1st). An index on
--    received_at makes it a range scan of today's dossiers. received_at is set once (at receipt), so the index
--    seldom turns an update non-HOT.
-- 2. dossiers_open_by_month goes: every open dossier inserted or moved by a non-HOT update paid an entry in it, for
--    the roll-over check (once a minute) and the live figures, which dossiers_open_by_unit (same predicate) serves
--    as well — the check reads the open dossiers' evaluated_month through it.
CREATE INDEX dossiers_received_at ON dossiers (received_at);
DROP INDEX dossiers_open_by_month;
