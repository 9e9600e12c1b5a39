ALTER TABLE dossiers SET (fillfactor = 80);
