#!/usr/bin/env bash
# Creates Synapse's and Handover's databases, each with its own login role; Handover's with two:
# an owner that runs the migrations and a runtime role that Handover serves with, which can
# append to the audit trail but not alter it (handover-privileges.psql, docs/security.md).
#
# The official postgres image runs the scripts in /docker-entrypoint-initdb.d once, when the
# data volume is empty (the first `docker compose up`). Changing a password in .env later does
# not change it here: use ALTER ROLE ... PASSWORD (docs/install.md, "Changing a password").
# Executed (it is executable) or sourced by the image's entrypoint: either way without set -u.
set -Eeo pipefail

: "${SYNAPSE_DB_PASSWORD:?SYNAPSE_DB_PASSWORD must be set (see .env.example)}"
: "${HANDOVER_DB_PASSWORD:?HANDOVER_DB_PASSWORD must be set (see .env.example)}"
: "${HANDOVER_OWNER_DB_PASSWORD:?HANDOVER_OWNER_DB_PASSWORD must be set (see .env.example)}"

# Passwords travel as psql variables (:'name' quotes them), never spliced into SQL by the shell.
psql -v ON_ERROR_STOP=1 \
  --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
  -v synapse_password="$SYNAPSE_DB_PASSWORD" \
  -v handover_password="$HANDOVER_DB_PASSWORD" \
  -v handover_owner_password="$HANDOVER_OWNER_DB_PASSWORD" <<'EOSQL'
CREATE ROLE synapse LOGIN PASSWORD :'synapse_password';
-- Synapse refuses to start on a database whose collation is not C.
CREATE DATABASE synapse OWNER synapse ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;

-- handover_owner owns the database and its schema and runs the migrations (the `migrate`
-- service); handover is what Handover serves with.
CREATE ROLE handover_owner LOGIN PASSWORD :'handover_owner_password';
CREATE ROLE handover LOGIN PASSWORD :'handover_password';
CREATE DATABASE handover OWNER handover_owner ENCODING 'UTF8' TEMPLATE template0;

-- Each service reaches only its own database.
REVOKE CONNECT ON DATABASE synapse FROM PUBLIC;
REVOKE CONNECT ON DATABASE handover FROM PUBLIC;
EOSQL

# Not *.sql, so that the image's entrypoint does not run it by itself in the wrong database.
psql -v ON_ERROR_STOP=1 \
  --username "${POSTGRES_USER:-postgres}" --dbname handover \
  -v owner_role=handover_owner -v runtime_role=handover \
  -f "$(dirname "${BASH_SOURCE[0]}")/handover-privileges.psql"
