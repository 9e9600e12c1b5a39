-- Scoring state (SPEC §3, §4): merged dossiers, per (unit, month, counter) sums, and the dead-letter copy.
-- depends: 0001.units-and-api-keys

-- One row per dossier. `state` holds every distinct event of the dossier (compact) so that a late or duplicate
-- event merges exactly; `contribution` is what the dossier currently adds to unit_month_counters, so applying a
-- change is "add new − old" and `recompute` can prove the sums. The other columns serve the live queries.
CREATE TABLE dossiers (
    dossier_id     text PRIMARY KEY,
    state          jsonb NOT NULL,
    contribution   jsonb NOT NULL,
    home_unit      text,
    procedure_id   text,
    received_at    timestamptz,
    due_at         timestamptz,
    ended_at       timestamptz,
    -- Set while the dossier is on hold (supplement requested / paused) per its latest known events.
    hold_since     timestamptz,
    -- The Vietnam-time month `contribution` was evaluated in: open dossiers are rolled into each new month.
    evaluated_month text NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
-- Live counters and dossier lists only ever look at open dossiers.
CREATE INDEX dossiers_open_by_unit ON dossiers (home_unit, due_at)
    WHERE received_at IS NOT NULL AND ended_at IS NULL;
CREATE INDEX dossiers_open_by_month ON dossiers (evaluated_month)
    WHERE received_at IS NOT NULL AND ended_at IS NULL;

-- Counters of SPEC §4 for a unit INCLUDING its subtree (facts are added to every ancestor when applied).
CREATE TABLE unit_month_counters (
    unit_id  text NOT NULL,
    month    text NOT NULL CHECK (month ~ '^\d{4}-\d{2}$'),
    counter  text NOT NULL,
    value    bigint NOT NULL,
    PRIMARY KEY (unit_id, month, counter)
);
CREATE INDEX unit_month_counters_month ON unit_month_counters (month, counter);

-- Every record of dossier-events that broke the contract (also copied to the dossier-events-dlq topic).
CREATE TABLE dlq_records (
    id           bigserial PRIMARY KEY,
    topic        text NOT NULL,
    "partition"  integer NOT NULL,
    "offset"     bigint NOT NULL,
    record_key   bytea,
    record_value bytea,
    event_id     text,
    error        text NOT NULL,
    detail       text NOT NULL,
    dead_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (topic, "partition", "offset")
);
