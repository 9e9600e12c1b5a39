-- The registry over time (SPEC §1 revised) and the counter layout that makes registry changes cheap.
-- depends: 0006.scoring-unit-tree
--
-- 1. Units get their validity and successor. A retired unit (valid_to set) names the unit that took over its
--    dossiers; the effective unit of a fact is resolved when figures are read (services/scoring/domain/effective.py).
ALTER TABLE units
    ADD COLUMN valid_from   date,
    ADD COLUMN valid_to     date,
    ADD COLUMN successor_id text REFERENCES units (unit_id) DEFERRABLE INITIALLY DEFERRED,
    ADD CONSTRAINT units_retired_has_successor CHECK ((valid_to IS NULL) = (successor_id IS NULL)),
    ADD CONSTRAINT units_validity_order CHECK (valid_from IS NULL OR valid_to IS NULL OR valid_to > valid_from),
    ADD CONSTRAINT units_successor_not_self CHECK (successor_id IS DISTINCT FROM unit_id);
CREATE INDEX units_successor_idx ON units (successor_id) WHERE successor_id IS NOT NULL;

-- 2. unit_month_counters holds each unit's OWN counters (facts that name the unit), no longer summed up the tree:
--    subtrees and successors are summed when read, so a move, merge or retirement is a registry write, and no row
--    (the city's above all) is updated by every batch. own(u) = stored(u) − Σ stored(children of u) in the tree
--    the sums were built on; the subquery reads the table as it was before this statement.
UPDATE unit_month_counters AS c SET value = c.value - s.children
FROM (
    SELECT t.parent_id AS unit_id, k.month, k.counter, sum(k.value) AS children
    FROM unit_month_counters k JOIN scoring_unit_tree t ON t.unit_id = k.unit_id
    WHERE t.parent_id IS NOT NULL
    GROUP BY 1, 2, 3
) AS s
WHERE c.unit_id = s.unit_id AND c.month = s.month AND c.counter = s.counter;
DELETE FROM unit_month_counters WHERE value = 0;
DROP TABLE scoring_tree_state;
DROP TABLE scoring_unit_tree;

-- 3. Dead letters get a status: `dead` (broke the contract), `pending` (named a unit the registry did not have:
--    applied automatically, exactly once, when it is registered), `applied` (re-applied), `discarded` (by an
--    operator). `unit_id` is the unit a pending record waits for.
ALTER TABLE dlq_records
    ADD COLUMN status      text NOT NULL DEFAULT 'dead'
        CHECK (status IN ('dead', 'pending', 'applied', 'discarded')),
    ADD COLUMN unit_id     text,
    ADD COLUMN resolved_at timestamptz,
    ADD COLUMN attempts    integer NOT NULL DEFAULT 0,
    -- The Kafka record's timestamp (ms): a record without ingested_at gets it when it is re-applied (SPEC §2).
    ADD COLUMN record_timestamp bigint;
UPDATE dlq_records
SET status = 'pending', unit_id = convert_from(record_value, 'UTF8')::jsonb ->> 'unit_id'
WHERE error = 'unknown_unit';
CREATE INDEX dlq_records_pending ON dlq_records (unit_id) WHERE status = 'pending';
CREATE INDEX dlq_records_status ON dlq_records (status, id);
