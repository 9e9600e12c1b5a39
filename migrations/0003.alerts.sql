-- Alerts service (SPEC §8): the active rule set, the lifecycle of every (rule, unit) with its history, silences,
-- and the durable notification outbox with the group messages built from it.
-- depends: 0001.units-and-api-keys

-- Every rule set ever activated (from the file at start, or PUT /v1/admin/rules); the newest row is active.
CREATE TABLE alert_rule_sets (
    rule_set_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source       text NOT NULL CHECK (source IN ('file', 'api')),
    origin       text NOT NULL,
    -- The document exactly as given (YAML or JSON) and its hash: re-validated by the same loader on restart.
    body         text NOT NULL,
    sha256       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Where each rule stands for each unit: AlertState.to_dict() in `data`, `state` copied out for queries.
CREATE TABLE alert_states (
    alert_id    bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    rule_id     text NOT NULL,
    unit_id     text NOT NULL,
    state       text NOT NULL CHECK (state IN ('inactive', 'pending', 'firing', 'resolved')),
    data        jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rule_id, unit_id)
);
CREATE INDEX alert_states_live ON alert_states (state) WHERE state IN ('pending', 'firing');
CREATE INDEX alert_states_unit ON alert_states (unit_id);

-- History: every transition, notified or muted. `seq` is also the id of the server-sent event; writers take one
-- advisory lock, so sequence order is commit order and a reader resuming after an id never skips a row.
CREATE TABLE alert_transitions (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id     bigint NOT NULL REFERENCES alert_states (alert_id),
    rule_id      text NOT NULL,
    unit_id      text NOT NULL,
    from_state   text NOT NULL,
    to_state     text NOT NULL,
    at           timestamptz NOT NULL,
    value        double precision,
    reason       text NOT NULL,
    silenced_by  text[] NOT NULL DEFAULT '{}',
    actor        text,
    comment      text,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_transitions_alert ON alert_transitions (alert_id, seq);
CREATE INDEX alert_transitions_at ON alert_transitions (at);

CREATE TABLE alert_silences (
    silence_id  text PRIMARY KEY,
    matchers    jsonb NOT NULL,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL CHECK (ends_at > starts_at),
    comment     text NOT NULL,
    author      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- Set by DELETE /v1/silences/{id}: the silence stops applying but stays listed.
    expired_at  timestamptz
);

-- Each notification once (its id is stable across re-runs), and one outbox row per receiver it is routed to.
CREATE TABLE alert_notifications (
    notification_id  text PRIMARY KEY,
    alert_id         bigint NOT NULL REFERENCES alert_states (alert_id),
    kind             text NOT NULL,
    -- The unit and its ancestors: e-mail goes to the recipients configured for any of them.
    subtree          text[] NOT NULL,
    body             jsonb NOT NULL,
    created_at       timestamptz NOT NULL
);

CREATE TABLE alert_outbox (
    notification_id  text NOT NULL REFERENCES alert_notifications (notification_id),
    receiver         text NOT NULL,
    enqueued_at      timestamptz NOT NULL,
    -- The group message that carried it (or superseded it); null while it waits for its group.
    delivery_id      text,
    PRIMARY KEY (notification_id, receiver)
);
CREATE INDEX alert_outbox_waiting ON alert_outbox (receiver) WHERE delivery_id IS NULL;

-- Group messages, frozen when planned: a retry sends exactly the same bytes with the same delivery id.
CREATE TABLE alert_deliveries (
    receiver          text NOT NULL,
    delivery_id       text NOT NULL,
    seq               bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    group_key         text NOT NULL,
    channel           text NOT NULL CHECK (channel IN ('webhook', 'email')),
    payload           bytea NOT NULL,
    recipients        text[] NOT NULL DEFAULT '{}',
    notification_ids  text[] NOT NULL,
    status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts          integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL,
    first_attempt_at  timestamptz,
    next_attempt_at   timestamptz NOT NULL,
    delivered_at      timestamptz,
    last_error        text,
    PRIMARY KEY (receiver, delivery_id)
);
CREATE INDEX alert_deliveries_pending ON alert_deliveries (receiver, group_key, seq) WHERE status = 'pending';

CREATE TABLE alert_group_flushes (
    receiver    text NOT NULL,
    group_key   text NOT NULL,
    flushed_at  timestamptz NOT NULL,
    PRIMARY KEY (receiver, group_key)
);

-- The last live counters seen per unit: which units the near-due pass asks scoring about.
CREATE TABLE alert_unit_live (
    unit_id       text PRIMARY KEY,
    name          text NOT NULL,
    level         text NOT NULL,
    ancestors     text[] NOT NULL,
    open          integer NOT NULL,
    due_soon      integer NOT NULL,
    overdue_open  integer NOT NULL,
    as_of         timestamptz NOT NULL
);
