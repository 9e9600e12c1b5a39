-- depends: 0004.dossiers-fillfactor
-- A narrower dossier row, so that PostgreSQL's cost per event does not grow with the table (issue 4's benchmark:
-- with both JSONB columns a row averaged ~2 KB and the upserts outgrew the buffers by the 5th million).
--
-- `contribution` goes: it is a pure function of the state and the month the row was evaluated in
-- (services/scoring/domain/counters.contribution depends on now only through month(now)), so the consumer
-- recomputes it on load — about 550 bytes of JSON per row that every upsert wrote and every load parsed.
-- A change to the counting rules therefore needs `python -m services.scoring.entrypoints.recompute --fix` (as it did before).
--
-- `state` becomes text: PostgreSQL never looks inside it, and text skips building (on write) and printing (on
-- read) a JSONB tree. `state::jsonb` still works for a person querying it.
ALTER TABLE dossiers DROP COLUMN contribution;
ALTER TABLE dossiers ALTER COLUMN state TYPE text USING state::text;
