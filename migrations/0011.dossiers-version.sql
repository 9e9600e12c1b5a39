-- depends: 0010.dossiers-received-index
-- A version per dossier row, so that an applying process may keep the dossiers it wrote in memory (issue 14,
-- services/scoring/adapters/dossier_cache.py): its locking SELECT still locks every row of the batch but reads only
-- the version, and reads the state only where the version differs from the one it wrote — i.e. where anyone else
-- wrote the row since (another process during a rebalance, a dead-letter re-drive elsewhere, `recompute`).
--
-- The scoring write path sets version = version + 1 itself (UPDATE_DOSSIERS); the trigger bumps it for any other
-- UPDATE that leaves it unchanged (recompute's MOVE_TO_MONTH, an operator's SQL), so no writer can change a row
-- without the cache noticing. Its WHEN clause is checked in C: the scoring UPDATE never calls the function.
-- A new row starts at a fresh multiple of 2^20 (a sequence not owned by the table, so no TRUNCATE ... RESTART
-- IDENTITY resets it): a row deleted and inserted again never shows a version its old self had (a dossier is
-- updated a few dozen times, not 2^20). Existing rows keep 0: adding the column with a constant default rewrites
-- nothing (PostgreSQL >= 11); the volatile default applies to rows inserted from now on.
ALTER TABLE dossiers ADD COLUMN version bigint NOT NULL DEFAULT 0;
CREATE SEQUENCE dossier_version_epochs;
ALTER TABLE dossiers ALTER COLUMN version SET DEFAULT nextval('dossier_version_epochs') << 20;

CREATE FUNCTION dossiers_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := OLD.version + 1;
    RETURN NEW;
END
$$;

CREATE TRIGGER dossiers_version_bump BEFORE UPDATE ON dossiers
    FOR EACH ROW WHEN (NEW.version = OLD.version) EXECUTE FUNCTION dossiers_bump_version();
