DROP TABLE dlq_records;
DROP TABLE unit_month_counters;
DROP TABLE dossiers;
