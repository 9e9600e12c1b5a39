DROP INDEX dlq_records_status;
DROP INDEX dlq_records_pending;
ALTER TABLE dlq_records DROP COLUMN record_timestamp, DROP COLUMN attempts, DROP COLUMN resolved_at, DROP COLUMN unit_id, DROP COLUMN status;

CREATE TABLE scoring_unit_tree (unit_id text PRIMARY KEY, parent_id text);
INSERT INTO scoring_unit_tree (unit_id, parent_id) SELECT unit_id, parent_id FROM units;
CREATE TABLE scoring_tree_state (
    id integer PRIMARY KEY CHECK (id = 1), generation bigint NOT NULL, synced_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO scoring_tree_state (id, generation) VALUES (1, 0);
-- Back to subtree sums: every own counter added to each ancestor (units.path runs from the city to the unit).
CREATE TEMP TABLE own_counters AS SELECT * FROM unit_month_counters;
DELETE FROM unit_month_counters;
INSERT INTO unit_month_counters (unit_id, month, counter, value)
SELECT a.ancestor, o.month, o.counter, sum(o.value)
FROM own_counters o
JOIN LATERAL (SELECT unnest(COALESCE((SELECT path FROM units WHERE unit_id = o.unit_id), ARRAY[o.unit_id]))
              AS ancestor) a ON true
GROUP BY 1, 2, 3;
DROP TABLE own_counters;

DROP INDEX units_successor_idx;
ALTER TABLE units DROP CONSTRAINT units_successor_not_self, DROP CONSTRAINT units_validity_order,
    DROP CONSTRAINT units_retired_has_successor;
ALTER TABLE units DROP COLUMN successor_id, DROP COLUMN valid_to, DROP COLUMN valid_from;
