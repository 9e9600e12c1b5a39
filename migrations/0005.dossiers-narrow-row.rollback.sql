-- The stored contributions are not kept by 0005: after rolling back, run `python -m services.scoring.entrypoints.recompute --fix`
-- to rebuild them from the states (every dossier shows as stale until then).
ALTER TABLE dossiers ALTER COLUMN state TYPE jsonb USING state::jsonb;
ALTER TABLE dossiers ADD COLUMN contribution jsonb NOT NULL DEFAULT '[]'::jsonb;
ALTER TABLE dossiers ALTER COLUMN contribution DROP DEFAULT;
