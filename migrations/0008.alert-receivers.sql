-- Receivers managed through the admin API (docs/alerts.md §5b); file receivers stay in config/receivers.yaml.
-- depends: 0007.registry-over-time
--
-- `spec` is the receiver without its secret (url, matchers, grouping, retry, timeouts). The secret is a Fernet
-- token made with RECEIVERS_SECRET_KEY, never plaintext; NULL = no secret. Every alerts process polls this table.
CREATE TABLE alert_receivers (
    name               text PRIMARY KEY,
    kind               text NOT NULL CHECK (kind IN ('webhook', 'alertmanager')),
    spec               jsonb NOT NULL,
    secret_ciphertext  bytea,
    secret_rotated_at  timestamptz,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);

-- A group message for an Alertmanager receiver is a JSON array of postable alerts.
ALTER TABLE alert_deliveries DROP CONSTRAINT alert_deliveries_channel_check;
ALTER TABLE alert_deliveries ADD CONSTRAINT alert_deliveries_channel_check
    CHECK (channel IN ('webhook', 'email', 'alertmanager'));
