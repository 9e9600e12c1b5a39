CREATE INDEX dossiers_open_by_unit ON dossiers (home_unit, due_at)
    WHERE received_at IS NOT NULL AND ended_at IS NULL;
DROP INDEX dossiers_open_live;
