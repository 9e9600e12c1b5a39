DELETE FROM alert_deliveries WHERE channel = 'alertmanager';
ALTER TABLE alert_deliveries DROP CONSTRAINT alert_deliveries_channel_check;
ALTER TABLE alert_deliveries ADD CONSTRAINT alert_deliveries_channel_check CHECK (channel IN ('webhook', 'email'));
DROP TABLE alert_receivers;
