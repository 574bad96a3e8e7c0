#!/bin/sh
# Entry point of the project's image: runs the command it is given (python -m simulator|exporters|responder).
#
# libpq (psycopg) reads the PostgreSQL password from $PGPASSWORD but has no $PGPASSWORD_FILE, and the
# database URLs in the YAML carry no password. When $PGPASSWORD_FILE names a file (a Compose or Kubernetes
# secret) and $PGPASSWORD is unset, export the file's first line as $PGPASSWORD, then exec the command.
set -eu

if [ -n "${PGPASSWORD_FILE:-}" ] && [ -z "${PGPASSWORD:-}" ]; then
    if [ ! -r "$PGPASSWORD_FILE" ]; then
        echo "entrypoint: \$PGPASSWORD_FILE: cannot read $PGPASSWORD_FILE" >&2
        exit 2
    fi
    IFS= read -r PGPASSWORD < "$PGPASSWORD_FILE" || [ -n "$PGPASSWORD" ]
    export PGPASSWORD
fi

exec "$@"
