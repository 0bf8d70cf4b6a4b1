#!/bin/bash
# Runs once, on an empty data directory: the test database beside the development one,
# each stamped with its dashenv environment. The test role may create databases, so
# 'dashenv db reset test' can build its template and swap clones in.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
CREATE ROLE "$TEST_POSTGRES_USER" LOGIN CREATEDB PASSWORD '$TEST_POSTGRES_PASSWORD';
CREATE DATABASE "$TEST_POSTGRES_DB" OWNER "$TEST_POSTGRES_USER";
SQL
stamp() {
  psql -v ON_ERROR_STOP=1 --username "$2" --dbname "$1" <<SQL
CREATE SCHEMA IF NOT EXISTS dashenv;
CREATE TABLE IF NOT EXISTS dashenv.metadata (key text PRIMARY KEY, value text NOT NULL);
INSERT INTO dashenv.metadata (key, value) VALUES ('environment', '$3'), ('stamped_at', now()::text)
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
SQL
}
stamp "$POSTGRES_DB" "$POSTGRES_USER" dev
stamp "$TEST_POSTGRES_DB" "$TEST_POSTGRES_USER" test
