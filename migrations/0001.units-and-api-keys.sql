-- The unit registry (SPEC §1) and the ingest API keys (SPEC §7). Owned by the ingest service; read by all.

CREATE TABLE units (
    unit_id     text PRIMARY KEY CHECK (unit_id ~ '^[A-Za-z0-9._-]{1,64}$'),
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    level       text NOT NULL CHECK (level IN ('city', 'department', 'district', 'commune')),
    parent_id   text REFERENCES units (unit_id) DEFERRABLE INITIALLY DEFERRED,
    -- Ancestors from the city down to the unit itself: a subtree query is `path @> ARRAY[unit]`,
    -- and adding a fact to every ancestor is one unnest.
    path        text[] NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((level = 'city') = (parent_id IS NULL))
);
CREATE INDEX units_parent_idx ON units (parent_id);
CREATE INDEX units_path_gin ON units USING gin (path);
CREATE INDEX units_level_idx ON units (level);

-- Other names a one-stop-shop system uses for a unit (DVCQG `DonViXuLy`).
CREATE TABLE unit_aliases (
    alias    text PRIMARY KEY,
    unit_id  text NOT NULL REFERENCES units (unit_id)
);

CREATE TABLE api_keys (
    key_id      text PRIMARY KEY,
    name        text NOT NULL,
    key_hash    text NOT NULL UNIQUE,
    -- The key may send events for these units and their subtrees.
    units       text[] NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
