#!/bin/sh
# What the postgres:15 image's entrypoint does, for the Debian test base: initialise the
# cluster on first start with POSTGRES_USER / POSTGRES_DB, then run the server on the stack's
# network (trust auth: a test bed on a private engine).
set -eu
bin=/usr/lib/postgresql/15/bin
data=/var/lib/postgresql/data/pg
mkdir -p /var/run/postgresql
chown postgres:postgres /var/lib/postgresql/data /var/run/postgresql
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
if [ ! -s "$data/PG_VERSION" ]; then
  as_postgres "$bin/initdb" --pgdata="$data" --username=postgres --auth=trust \
    --encoding=UTF8 --locale=C --no-sync >/dev/null
  echo "host all all all trust" >> "$data/pg_hba.conf"
  printf 'CREATE ROLE %s LOGIN;\nCREATE DATABASE %s OWNER %s;\n' \
    "$POSTGRES_USER" "$POSTGRES_DB" "$POSTGRES_USER" \
    | as_postgres "$bin/postgres" --single -D "$data" postgres >/dev/null
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups "$bin/postgres" -D "$data" -c listen_addresses='*' \
  -k /var/run/postgresql -c fsync=off -c synchronous_commit=off
