ALTER TABLE dossiers RESET (parallel_workers);
