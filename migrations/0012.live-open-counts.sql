-- depends: 0010.dossiers-received-index
-- The live figures (open, overdue, due within 24 h, progress correction per home unit) cost O(change), not O(open
-- dossiers), per snapshot (issue 14, docs/benchmarks.md). Before, every snapshot (each indicators publication of
-- every applying process, every few seconds) scanned every open dossier: its cost per event grew 1.6x over a 5 M
-- back-fill as the table and its dead index entries grew.
--
-- Now the open dossiers are COUNTED per (home unit, hour of due_at, hour of hold_since), kept in the writing
-- transaction itself: the scoring write path's INSERT and UPDATE of dossiers append their net change to the counts
-- in the same statement (services/scoring/adapters/store.py). The live figures depend on `now` only through
-- comparisons of due_at and hold_since with now, now + 24 h and the month's end: every count whose hours differ from
-- those instants' hours decides them wholesale; the dossiers in the (at most four) hours that contain them are read
-- exactly (services/scoring/adapters/queries.py). The figures are exactly those of the scan, in the same snapshot.
--
-- Statement triggers with transition tables were measured first and dropped: they copy every changed row, its whole
-- state text included, into a tuplestore (2.1 s for 11,111 updated rows beside the UPDATE's own 2.5 s, on the
-- loaded test machine). Deletes and TRUNCATE, which no service runs, keep the counts through triggers; any other
-- writer of these columns must append its change the same way or call live_open_rebuild() after it.
--
-- Two tables, so that no two writers ever wait on each other: writers only APPEND net changes to
-- live_open_deltas (an INSERT never conflicts), and a reader folds the committed deltas into live_open_counts
-- (live_open_compact(), one reader at a time under an advisory lock) before it sums both.

-- An instant's hour since the epoch, from its integer microseconds (how the write path sends times) or from the
-- timestamptz; NULL (no due time, not on hold) is the largest bigint, which compares like NULL does in the live
-- filters (never < now, never in a window). Integer floor division: exact at every microsecond, and ≈ 30x cheaper
-- than numeric division of extract(epoch). Plain SQL bodies, so that the planner inlines them.
CREATE FUNCTION live_open_hour_us(us bigint) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN us IS NULL THEN 9223372036854775807
                WHEN us >= 0 THEN us / 3600000000
                ELSE (us + 1) / 3600000000 - 1 END
$$;
CREATE FUNCTION live_open_hour(ts timestamptz) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT live_open_hour_us((extract(epoch FROM ts) * 1000000)::bigint)
$$;

CREATE TABLE live_open_counts (
    home_unit text NOT NULL,  -- '' for a dossier without one (none is expected: a receipt names its unit)
    due_hour  bigint NOT NULL,
    hold_hour bigint NOT NULL,
    n         integer NOT NULL,
    PRIMARY KEY (home_unit, due_hour, hold_hour)
) WITH (fillfactor = 70);  -- folded counts change in place (HOT)

CREATE TABLE live_open_deltas (
    home_unit text NOT NULL,
    due_hour  bigint NOT NULL,
    hold_hour bigint NOT NULL,
    n         integer NOT NULL
);

-- Deletes and TRUNCATE (no service runs them; a person might) keep the counts through triggers.
CREATE FUNCTION live_open_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO live_open_deltas (home_unit, due_hour, hold_hour, n)
    SELECT COALESCE(home_unit, ''), live_open_hour(due_at), live_open_hour(hold_since), -count(*)
    FROM old_rows
    WHERE received_at IS NOT NULL AND ended_at IS NULL
    GROUP BY 1, 2, 3;
    RETURN NULL;
END $$;

CREATE FUNCTION live_open_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE live_open_deltas, live_open_counts;
    RETURN NULL;
END $$;

CREATE TRIGGER live_open_deleted AFTER DELETE ON dossiers
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION live_open_deleted();
CREATE TRIGGER live_open_truncated AFTER TRUNCATE ON dossiers
    FOR EACH STATEMENT EXECUTE FUNCTION live_open_truncated();

-- Folds the committed deltas into the counts (zero counts go). One folder at a time (others return at once and
-- read counts + deltas as they are — as exact, only longer); writers never wait for it: they only insert deltas,
-- and a DELETE takes only the rows its snapshot sees. Returns the number of delta rows folded.
CREATE FUNCTION live_open_compact() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
    zero_units text[];
    zero_due bigint[];
    zero_hold bigint[];
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('live_open_compact')) THEN
        RETURN 0;
    END IF;
    WITH gone AS (
        DELETE FROM live_open_deltas RETURNING home_unit, due_hour, hold_hour, n
    ), net AS (
        SELECT home_unit, due_hour, hold_hour, sum(n)::integer AS n, count(*) AS rows_folded
        FROM gone GROUP BY 1, 2, 3
    ), upserted AS (
        INSERT INTO live_open_counts AS c (home_unit, due_hour, hold_hour, n)
        SELECT home_unit, due_hour, hold_hour, n FROM net WHERE n <> 0
        ON CONFLICT (home_unit, due_hour, hold_hour) DO UPDATE SET n = c.n + EXCLUDED.n
        RETURNING c.home_unit, c.due_hour, c.hold_hour, c.n
    )
    SELECT (SELECT COALESCE(sum(rows_folded), 0) FROM net),
           array_agg(home_unit) FILTER (WHERE n = 0), array_agg(due_hour) FILTER (WHERE n = 0),
           array_agg(hold_hour) FILTER (WHERE n = 0)
    INTO folded, zero_units, zero_due, zero_hold
    FROM upserted;
    IF zero_units IS NOT NULL THEN
        DELETE FROM live_open_counts c
        USING unnest(zero_units, zero_due, zero_hold) AS z (home_unit, due_hour, hold_hour)
        WHERE c.home_unit = z.home_unit AND c.due_hour = z.due_hour AND c.hold_hour = z.hold_hour AND c.n = 0;
    END IF;
    RETURN folded;
END $$;

-- The exact part reads the open dossiers whose hold started in the current hour: few, found through this index
-- (entries only for open dossiers on hold). Those due in the instants' hours come through dossiers_open_by_unit.
CREATE INDEX dossiers_open_on_hold ON dossiers (hold_since)
    WHERE received_at IS NOT NULL AND ended_at IS NULL AND hold_since IS NOT NULL;

-- Counts rebuilt from the dossiers (now, and after a writer that bypassed them): writers wait meanwhile.
CREATE FUNCTION live_open_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE dossiers IN SHARE MODE;
    DELETE FROM live_open_deltas;
    DELETE FROM live_open_counts;
    INSERT INTO live_open_counts (home_unit, due_hour, hold_hour, n)
    SELECT COALESCE(home_unit, ''), live_open_hour(due_at), live_open_hour(hold_since), count(*)
    FROM dossiers
    WHERE received_at IS NOT NULL AND ended_at IS NULL
    GROUP BY 1, 2, 3;
END $$;

DO $$ BEGIN PERFORM live_open_rebuild(); END $$;
