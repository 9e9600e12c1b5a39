-- depends: 0011.dossiers-room-for-hot
-- The live figures read only the open dossiers (issue 14, helper "live" in docs/benchmarks.md). They counted them
-- with a parallel sequential scan of the WHOLE table at every unit-indicators publication: a cost that grew with
-- every dossier ever received (≈ 0.87 s and three processes at 1.3 M dossiers, of which 114 k open), although the
-- open ones are a small and roughly constant part of it. The open-dossier index now carries hold_since too, so the
-- live figures (home unit, due, on hold since) can be an index-only scan of the open dossiers: the heap is read only
-- for the pages not yet marked all-visible (≈ 50 ms against 0.87 s on that table, vacuumed).
--
-- hold_since is a KEY column, not INCLUDE: B-tree deduplication (and with it the bottom-up deletion of the versions
-- that non-HOT updates leave behind) only works on indexes without INCLUDE columns. With INCLUDE the index grew to
-- 7,600 pages for 109 k open dossiers in a back-fill (the old index: 1,700; this one, rebuilt: 290). The lists and
-- the roll-over check keep reading it by (home_unit, due_at) as before.
--
-- The price: a hold or release of an open dossier changes an indexed column, so that update is no longer HOT (HOT share
-- of dossier updates 0.40-0.41 -> 0.36-0.37 in helper "live"'s runs), against the whole-table read it removes.
CREATE INDEX dossiers_open_live ON dossiers (home_unit, due_at, hold_since)
    WHERE received_at IS NOT NULL AND ended_at IS NULL;
DROP INDEX dossiers_open_by_unit;
