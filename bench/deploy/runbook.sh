#!/bin/sh
# A good deploy by hand: the commands deployhook runs, in order, with nothing around them.
# Usage: COMPOSE=... PROJECT=... CHECKOUT=... HEALTH=... sh runbook.sh SHA BACKUP_FILE
set -eu
sha=$1
backup=$2
compose() {
  # $COMPOSE may be two words (docker compose): split on purpose.
  # shellcheck disable=SC2086
  $COMPOSE --project-name "$PROJECT" --project-directory "$CHECKOUT" \
    --file "$CHECKOUT/docker-compose.yml" "$@"
}
compose exec -T postgres \
  pg_dump --format=custom --compress=1 --no-password --username app --dbname app \
  > "$backup.partial"
compose exec -T postgres pg_restore --list < "$backup.partial" > /dev/null
mv "$backup.partial" "$backup"
git -C "$CHECKOUT" fetch --quiet origin +refs/heads/main:refs/remotes/origin/main
git -C "$CHECKOUT" checkout --quiet --detach "$sha"
compose build
compose up --detach --no-build
compose exec -T api alembic upgrade head
until curl -fsS -o /dev/null "$HEALTH"; do sleep 0.5; done
