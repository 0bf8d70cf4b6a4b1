#!/bin/bash
# Runs once, on an empty data directory: stamps the database this container creates with
# the dashenv environment it belongs to (as Rails keeps the environment in
# ar_internal_metadata), so a reset can tell whose database it is.
set -euo pipefail
if [ -n "${DASHENV_ENVIRONMENT:-}" ]; then
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-$POSTGRES_USER}" <<SQL
CREATE SCHEMA IF NOT EXISTS dashenv;
CREATE TABLE IF NOT EXISTS dashenv.metadata (key text PRIMARY KEY, value text NOT NULL);
INSERT INTO dashenv.metadata (key, value)
VALUES ('environment', '${DASHENV_ENVIRONMENT}'), ('stamped_at', now()::text)
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
SQL
fi
