CREATE INDEX dossiers_received_at ON dossiers (received_at);
DROP INDEX dossiers_received_brin;
