-- depends: 0002.scoring
-- Most events of an existing dossier (payments, ratings, holds) change neither its indexed columns nor its size
-- much: with free room on each page PostgreSQL updates such rows in place (HOT), without touching the indexes.
ALTER TABLE dossiers SET (fillfactor = 80);
