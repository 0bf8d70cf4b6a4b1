#!/bin/bash
# Runs once, on an empty data directory: the test database beside the development one.
set -euo pipefail
psql -v ON_ERROR_STOP=1 -h /var/run/postgresql -U "$POSTGRES_USER" -d postgres <<SQL
CREATE ROLE "$TEST_POSTGRES_USER" LOGIN PASSWORD '$TEST_POSTGRES_PASSWORD';
CREATE DATABASE "$TEST_POSTGRES_DB" OWNER "$TEST_POSTGRES_USER";
SQL
