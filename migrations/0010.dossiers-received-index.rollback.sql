CREATE INDEX dossiers_open_by_month ON dossiers (evaluated_month)
    WHERE received_at IS NOT NULL AND ended_at IS NULL;
DROP INDEX dossiers_received_at;
