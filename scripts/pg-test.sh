#!/usr/bin/env bash
# pg-test.sh BUILD_DIR — runs the metadata store tests on a real PostgreSQL:
# initdb into a temp dir (as the `postgres` user when run as root: the
# server refuses root), starts it on 127.0.0.1 and a free port, creates a
# database, runs BUILD_DIR/bin/test_meta with WEIR_TEST_PG_URL set (its
# "meta" group on SQLite, "meta_rest" through weir-server, then
# "meta_postgres" and "meta_rest_postgres"), stops the server.
# BUILD_DIR must be configured with -DWEIR_POSTGRES=ON.
# Needs Debian's postgresql package (binaries under /usr/lib/postgresql/*/bin,
# or set WEIR_PG_BIN). Ends with "pg: N passed, N failed".
set -u
bin=$(cd "${1:?usage: scripts/pg-test.sh BUILD_DIR}" && pwd)/bin
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
pass=0
fail=0

finish() {
  echo "pg: $pass passed, $fail failed"
  [ "$fail" -eq 0 ]
  exit
}

pgbin=${WEIR_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
  echo "not ok - no PostgreSQL server binaries (apt-get install postgresql, or set WEIR_PG_BIN)"
  fail=1
  finish
fi
if [ ! -x "$bin/test_meta" ]; then
  echo "not ok - $bin/test_meta is missing; build it: ninja -C $(dirname "$bin") test_meta"
  fail=1
  finish
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/weir-pg.XXXXXX")
# as_pg CMD...: runs a server command as an unprivileged user.
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres "$work"
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi
cleanup() {
  as_pg "$pgbin/pg_ctl" -D "$work/data" -m fast -w stop >/dev/null 2>&1
  if [ "$fail" -eq 0 ]; then rm -rf "$work"; else echo "pg: logs kept in $work"; fi
}
trap cleanup EXIT

# A port nothing listens on (bash's /dev/tcp connects, or fails).
port=""
for p in $(seq 25432 25531); do
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
if [ -z "$port" ]; then
  echo "not ok - no free port in 25432..25531"
  fail=1
  finish
fi

if ! as_pg "$pgbin/initdb" -D "$work/data" -U weir -A trust -E UTF8 --no-sync \
    >"$work/initdb.log" 2>&1; then
  sed 's/^/    /' "$work/initdb.log" | tail -20
  echo "not ok - initdb"
  fail=1
  finish
fi
if ! as_pg "$pgbin/pg_ctl" -D "$work/data" -l "$work/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $work -c fsync=off" start \
    >"$work/pg_ctl.log" 2>&1; then
  sed 's/^/    /' "$work/server.log" | tail -20
  echo "not ok - pg_ctl start"
  fail=1
  finish
fi
if ! "$pgbin/createdb" -h 127.0.0.1 -p "$port" -U weir weir_test >"$work/createdb.log" 2>&1; then
  sed 's/^/    /' "$work/createdb.log"
  echo "not ok - createdb"
  fail=1
  finish
fi

mkdir -p "$work/tmp"
out=$work/test_meta.out
(cd "$repo/tests" && WEIR_TEST_PG_URL="postgresql://weir@127.0.0.1:$port/weir_test" \
  WEIR_TEST_TMP=$work/tmp CMOCKA_MESSAGE_OUTPUT=stdout "$bin/test_meta") >"$out" 2>&1
rc=$?
cat "$out"
pass=$(grep -c '^\[       OK \]' "$out")
# cmocka names a failed test twice (as it fails and in the summary).
fail=$(grep -E '^\[  (FAILED|ERROR)   ?\] test_' "$out" | sort -u | wc -l)
if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
if ! grep -q '^\[ RUN      \] test_pg_open_creates_mlmd_schema' "$out"; then
  echo "not ok - the meta_postgres group did not run (is BUILD_DIR configured with -DWEIR_POSTGRES=ON?)"
  fail=$((fail + 1))
fi
finish
