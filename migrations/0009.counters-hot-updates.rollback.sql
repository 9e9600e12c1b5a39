ALTER TABLE unit_month_counters RESET (fillfactor);
