#!/usr/bin/env bash
# A wheelhouse that uv cannot install from is deleted, loudly, the venv is still made (from the
# indexes), and the next run fills the house again; nothing else in the cache is touched.
#   bench/venv/broken_house.sh [REF]   # REF: the commit whose scripts/venv runs (default HEAD)
# Runs on a copy of this machine's filled house in a cache of its own (DEPLOYHOOK_TEST_CACHE
# pointed at a scratch directory under .tmp/), never on the real one, in a fresh clone: the
# copy loses flask's wheel. About 3 minutes (an index install, then a fill). Exits non-zero,
# saying what it expected, when a step does not hold.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
ref=${1:-HEAD}
real=${DEPLOYHOOK_TEST_CACHE:-/var/cache/deployhook-tests}
mkdir -p "$root/.tmp"
scratch=$(mktemp -d "$root/.tmp/broken-house.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
git clone -q "$root" "$scratch/clone"
git -C "$scratch/clone" checkout -q "$ref"
key=$(python3 "$scratch/clone/scripts/wheelhouse_key.py" key)
[ -f "$real/venv-wheels-$key/compiled" ] || {
  echo "no filled house $real/venv-wheels-$key to copy: run scripts/venv test first" >&2
  exit 2
}
cache="$scratch/cache"
house="$cache/venv-wheels-$key"
mkdir "$cache"
cp -a "$real/venv-wheels-$key" "$house"
touch "$house"  # a copy of a day-old house would be refilled for its age, not its damage
rm "$house"/wheels/flask-*.whl
# What must survive: another house, the base image's tarball, something that merely starts
# with the same letters.
mkdir "$cache/venv-wheels-0123456789ab" && touch "$cache/venv-wheels-0123456789ab/compiled"
touch "$cache/base-0123456789ab.tar" "$cache/venv-wheelsmith"

fail() { echo "FAILED: $*" >&2; exit 1; }
cd "$scratch/clone"
echo "run 1: scripts/venv test with flask's wheel missing from the house"
DEPLOYHOOK_TEST_CACHE="$cache" scripts/venv test 2>"$scratch/run1.err" || {
  cat "$scratch/run1.err" >&2
  fail "expected scripts/venv to end with a venv from the indexes, it failed"
}
grep -F "scripts/venv: installing from the wheelhouse $house failed: deleting it" \
  "$scratch/run1.err" || fail "expected scripts/venv to say it deletes $house"
grep -F "no usable wheelhouse; installing from the package indexes" "$scratch/run1.err" ||
  fail "expected the fallback to the indexes"
[ ! -e "$house" ] || fail "expected $house gone, it is still there"
compgen -G "$house.*" >/dev/null && fail "expected nothing left aside: $(echo "$house".*)"
for kept in venv-wheels-0123456789ab/compiled base-0123456789ab.tar venv-wheelsmith; do
  [ -e "$cache/$kept" ] || fail "expected $cache/$kept untouched, it is gone"
done
.venv/bin/python -c 'import flask, webhook' || fail "expected a working venv"
echo "run 1: the house was deleted, loudly, and the venv came from the indexes"

echo "run 2: scripts/venv test again (a new venv) fills the house again"
rm -rf .venv
DEPLOYHOOK_TEST_CACHE="$cache" scripts/venv test 2>"$scratch/run2.err" ||
  fail "expected the second run to succeed: $(cat "$scratch/run2.err")"
grep -F "no usable wheelhouse" "$scratch/run2.err" && fail "expected no fallback in run 2"
[ -f "$house/compiled" ] && ls "$house"/wheels/flask-*.whl >/dev/null ||
  fail "expected $house filled again, with flask's wheel"
.venv/bin/python -c 'import flask, webhook' || fail "expected a working venv"
echo "run 2: the house was filled again and installed from"
echo "OK"
