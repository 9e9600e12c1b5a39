ALTER TABLE dossiers RESET (fillfactor);
