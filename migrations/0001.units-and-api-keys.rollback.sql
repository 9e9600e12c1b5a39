DROP TABLE api_keys;
DROP TABLE unit_aliases;
DROP TABLE units;
