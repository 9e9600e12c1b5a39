DROP TRIGGER dossiers_version_bump ON dossiers;
DROP FUNCTION dossiers_bump_version();
ALTER TABLE dossiers DROP COLUMN version;
DROP SEQUENCE dossier_version_epochs;
