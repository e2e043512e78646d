#!/usr/bin/env bash
# Creates Synapse's and Handover's databases, each with its own login role.
#
# The official postgres image runs the scripts in /docker-entrypoint-initdb.d once, when the
# data volume is empty (the first `docker compose up`). Changing a password in .env later does
# not change it here: use ALTER ROLE ... PASSWORD (docs/install.md, "Changing a password").
# Executed (it is executable) or sourced by the image's entrypoint: either way without set -u.
set -Eeo pipefail

: "${SYNAPSE_DB_PASSWORD:?SYNAPSE_DB_PASSWORD must be set (see .env.example)}"
: "${HANDOVER_DB_PASSWORD:?HANDOVER_DB_PASSWORD must be set (see .env.example)}"

# Passwords travel as psql variables (:'name' quotes them), never spliced into SQL by the shell.
psql -v ON_ERROR_STOP=1 \
  --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
  -v synapse_password="$SYNAPSE_DB_PASSWORD" \
  -v handover_password="$HANDOVER_DB_PASSWORD" <<'EOSQL'
CREATE ROLE synapse LOGIN PASSWORD :'synapse_password';
-- Synapse refuses to start on a database whose collation is not C.
CREATE DATABASE synapse OWNER synapse ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;

CREATE ROLE handover LOGIN PASSWORD :'handover_password';
CREATE DATABASE handover OWNER handover ENCODING 'UTF8' TEMPLATE template0;

-- Each service reaches only its own database.
REVOKE CONNECT ON DATABASE synapse FROM PUBLIC;
REVOKE CONNECT ON DATABASE handover FROM PUBLIC;
EOSQL
