#!/usr/bin/env bash
# Benchmark: `manage.py seed_demo --customers N` on a fresh PostgreSQL database.
#
#   bench/seed_demo.sh [N]            (default N=100000)
#
# Drops and recreates the database BENCH_DB (default as_bench_seed) on the server
# at PG_URL (default postgres://postgres@127.0.0.1:5432, a superuser), migrates
# it, times the seeding, prints the rows per table, then drops the database
# again unless KEEP_DB=1. Results are recorded in docs/BENCHMARKS.md.
#
# BENCH_ROLE=name runs the app as that ordinary (non-superuser) role, created
# if missing and owning the database: seed_demo then keeps PostgreSQL's
# foreign-key checks, which a superuser lets it skip.
set -euo pipefail

N="${1:-100000}"
cd "$(dirname "$0")/.."
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432}"
BENCH_DB="${BENCH_DB:-as_bench_seed}"
BENCH_ROLE="${BENCH_ROLE:-}"
PYTHON="${PYTHON:-.venv/bin/python}"

export SECRET_KEY="${SECRET_KEY:-bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz}"
export VAR_DIR="${VAR_DIR:-/tmp/aftersales-bench-var}"

psql "$PG_URL/postgres" -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $BENCH_DB"
if [ -n "$BENCH_ROLE" ]; then
  psql "$PG_URL/postgres" -qX -v ON_ERROR_STOP=1 <<SQL
SELECT 'CREATE ROLE $BENCH_ROLE LOGIN NOSUPERUSER' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$BENCH_ROLE')
\gexec
CREATE DATABASE $BENCH_DB OWNER $BENCH_ROLE;
SQL
  export DATABASE_URL="$(echo "$PG_URL" | sed -E "s#//[^@]*@#//$BENCH_ROLE@#")/$BENCH_DB"
else
  psql "$PG_URL/postgres" -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE $BENCH_DB"
  export DATABASE_URL="$PG_URL/$BENCH_DB"
fi
echo "== database: $DATABASE_URL"
"$PYTHON" manage.py migrate --verbosity 0

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB RAM, $(psql "$PG_URL/postgres" -qXtAc 'SHOW server_version') PostgreSQL"
echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine slows the run)"
echo "== time $PYTHON manage.py seed_demo --customers $N"
time "$PYTHON" manage.py seed_demo --customers "$N"
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== rows per table"
psql "$DATABASE_URL" -qX -c "
  SELECT 'customers' AS table, count(*) FROM customers_customer
  UNION ALL SELECT 'purchases', count(*) FROM customers_purchase
  UNION ALL SELECT 'touch points', count(*) FROM touchpoints_touchpoint
  UNION ALL SELECT 'survey invitations', count(*) FROM feedback_surveyinvitation
  UNION ALL SELECT 'survey responses', count(*) FROM feedback_surveyresponse
  UNION ALL SELECT 'risk flags', count(*) FROM customers_riskflag
  UNION ALL SELECT 'database size (MB)', pg_database_size(current_database()) / 1024 / 1024"

if [ "${KEEP_DB:-0}" != "1" ]; then
  psql "$PG_URL/postgres" -qX -c "DROP DATABASE $BENCH_DB"
fi
