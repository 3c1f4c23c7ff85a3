#!/bin/sh
# Stands in, in the tests' Debian base image, for the official postgres image's entry point
# (the manifests in deploy/ run `docker-entrypoint.sh postgres`), with the part of its contract
# the pods rely on: an empty $PGDATA is initialised with the superuser postgres, the password
# $POSTGRES_PASSWORD, scram-sha-256 for TCP and listen_addresses '*'; a data directory that
# exists (for example one brs restored) is started as it is. Then the command is exec'ed.
set -eu
if [ "${1:-}" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    mkdir -p "$PGDATA"
    chmod 700 "$PGDATA"
    pwfile=$(mktemp)
    printf '%s' "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is not set}" > "$pwfile"
    initdb --username=postgres --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 -D "$PGDATA" >/dev/null
    rm -f "$pwfile"
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    echo "docker-entrypoint.sh: initialised an empty database in $PGDATA"
fi
exec "$@"
