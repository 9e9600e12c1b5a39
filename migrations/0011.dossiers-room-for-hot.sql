-- depends: 0010.dossiers-received-index
-- Room on each page for a dossier's next versions (issue 14, helper "pg" in docs/benchmarks.md). A dossier row grows
-- with every change (its state holds every event), and the old version stays on the page until pruning, which waits
-- for the other scoring process's open transaction. With 20 % free (0004) a 300 k-event back-fill put 39 % of the
-- dossier updates on another page (pg_stat_user_tables.n_tup_newpage_upd): not HOT, so a new entry in every index
-- (primary key, received_at, and the open-dossier index) and a second page dirtied and logged, although most of those
-- updates changed no indexed column. New pages only; existing ones get the room when the table is rewritten.
ALTER TABLE dossiers SET (fillfactor = 50);
