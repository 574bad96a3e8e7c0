#!/usr/bin/env bash
# Creates the project's databases and roles. The postgres image runs it once, when its data volume is
# first initialised (/docker-entrypoint-initdb.d); later changes to the password files do not apply to an
# existing volume (ALTER ROLE, or `docker compose down -v` to start over).
#
#   database           owner        used by
#   tradingbot         tradingbot   the bot's database (here the simulator creates and seeds its tables;
#                                   the responder writes to it: deactivate profiles, quarantine orders)
#   responder_ledger   tradingbot   the responder's ledger (the responder creates its schema at start)
#   role tradingbot_exporters       reads the bot's database only (the exporters)
#
# Passwords are read from files (Compose secrets), never from the command line or this script.
set -euo pipefail

: "${POSTGRES_USER:=postgres}"
: "${TRADINGBOT_DB_USER:=tradingbot}"
: "${TRADINGBOT_EXPORTERS_DB_USER:=tradingbot_exporters}"
: "${TRADINGBOT_BOT_DB:=tradingbot}"
: "${TRADINGBOT_LEDGER_DB:=responder_ledger}"

read_password() {  # read_password VAR_NAME: the first line of the file named by $VAR_NAME
    local file="${!1:-}"
    if [ -z "$file" ] || [ ! -r "$file" ]; then
        echo "init-databases: \$$1 must name a readable password file" >&2
        exit 1
    fi
    local value=""
    IFS= read -r value < "$file" || true
    if [ -z "$value" ]; then
        echo "init-databases: $file is empty" >&2
        exit 1
    fi
    printf '%s' "$value"
}

app_password="$(read_password TRADINGBOT_DB_PASSWORD_FILE)"
exporters_password="$(read_password TRADINGBOT_EXPORTERS_DB_PASSWORD_FILE)"

run_psql() {  # run_psql DATABASE < SQL, with the names and passwords as psql variables
    psql --no-psqlrc --no-password -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$1" \
        -v app_user="$TRADINGBOT_DB_USER" -v app_password="$app_password" \
        -v reader_user="$TRADINGBOT_EXPORTERS_DB_USER" -v reader_password="$exporters_password" \
        -v bot_db="$TRADINGBOT_BOT_DB" -v ledger_db="$TRADINGBOT_LEDGER_DB"
}

run_psql "${POSTGRES_DB:-postgres}" <<'SQL'
CREATE ROLE :"app_user" LOGIN PASSWORD :'app_password';
CREATE ROLE :"reader_user" LOGIN PASSWORD :'reader_password';
CREATE DATABASE :"bot_db" OWNER :"app_user";
CREATE DATABASE :"ledger_db" OWNER :"app_user";
REVOKE ALL ON DATABASE :"bot_db" FROM PUBLIC;
REVOKE ALL ON DATABASE :"ledger_db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"bot_db" TO :"reader_user";
SQL

# The exporters read every table the bot's owner creates, now or later, and write none.
run_psql "$TRADINGBOT_BOT_DB" <<'SQL'
GRANT USAGE ON SCHEMA public TO :"reader_user";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"reader_user";
ALTER DEFAULT PRIVILEGES FOR ROLE :"app_user" IN SCHEMA public GRANT SELECT ON TABLES TO :"reader_user";
SQL

echo "init-databases: created $TRADINGBOT_BOT_DB and $TRADINGBOT_LEDGER_DB (owner $TRADINGBOT_DB_USER)," \
    "read-only role $TRADINGBOT_EXPORTERS_DB_USER"
