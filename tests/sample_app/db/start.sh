#!/bin/sh
# PostgreSQL 15 for the sample app: data in the named volume, initialised on first start
# with role and database "app" (trust auth: a test bed, reachable on 127.0.0.1 only).
set -eu
bin=/usr/lib/postgresql/15/bin
volume=/var/lib/postgresql/data
data=$volume/pg
mkdir -p /var/run/postgresql
chown postgres:postgres "$volume" /var/run/postgresql
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
if [ ! -s "$data/PG_VERSION" ]; then
  as_postgres "$bin/initdb" --pgdata="$data" --username=postgres --auth=trust \
    --encoding=UTF8 --locale=C --no-sync >/dev/null
  printf 'CREATE ROLE app LOGIN;\nCREATE DATABASE app OWNER app;\n' \
    | as_postgres "$bin/postgres" --single -D "$data" postgres >/dev/null
fi
# On a Compose bridge network (PG_LISTEN=*), clients on the same subnet connect too.
listen=${PG_LISTEN:-127.0.0.1}
if [ "$listen" != 127.0.0.1 ] && ! grep -q '^host all all samenet trust' "$data/pg_hba.conf"; then
  echo 'host all all samenet trust' >> "$data/pg_hba.conf"
fi
# Durability settings off: containers here die only with the test engine, and tests run faster.
exec setpriv --reuid=postgres --regid=postgres --init-groups "$bin/postgres" -D "$data" \
  -c listen_addresses="$listen" -p "$PG_PORT" -k /var/run/postgresql \
  -c fsync=off -c synchronous_commit=off -c full_page_writes=off
