-- depends: 0005.dossiers-narrow-row
-- The unit tree the stored counters are summed up (unit_month_counters holds each unit's figures INCLUDING its
-- subtree). The registry (`units`, owned by ingest) may change a unit's parent at any time; scoring follows it
-- by re-rolling the stored sums onto the new tree in one transaction (services/scoring/adapters/units.py) and
-- bumping `generation`. Every applied batch holds the state row FOR SHARE, so a re-roll never interleaves with a
-- batch, and a consumer that sees a new generation reloads the tree before it adds anything.
CREATE TABLE scoring_unit_tree (
    unit_id   text PRIMARY KEY,
    parent_id text
);
INSERT INTO scoring_unit_tree (unit_id, parent_id) SELECT unit_id, parent_id FROM units;

CREATE TABLE scoring_tree_state (
    id         integer PRIMARY KEY CHECK (id = 1),
    generation bigint NOT NULL,
    synced_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO scoring_tree_state (id, generation) VALUES (1, 0);
