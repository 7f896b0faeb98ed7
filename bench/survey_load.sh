#!/usr/bin/env bash
# Benchmark: survey submissions per second against gunicorn on PostgreSQL (docs/BENCHMARKS.md).
#
#   bench/survey_load.sh [DURATION_S] [CONNECTIONS]        (defaults 30 s, 16 connections)
#
# Needs wrk (`apt-get install wrk`), PostgreSQL at PG_URL (a superuser,
# default postgres://postgres@127.0.0.1:5432) and Redis at REDIS_URL (cache
# for the shared per-IP rate limit, and the Celery broker the owner's mail is
# queued on). Creates the database BENCH_DB, migrates it, prepares N unique
# tokens (one per request: each POST is a first answer), starts gunicorn on
# PORT, runs wrk, stops gunicorn and drops the database unless KEEP_DB=1.
# The rate limit stays on (every request counts in Redis) with a limit the
# single benchmark client never reaches.
set -euo pipefail

DURATION="${1:-30}"
CONNECTIONS="${2:-16}"
cd "$(dirname "$0")/.."
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432}"
BENCH_DB="${BENCH_DB:-as_bench_survey}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/3}"
PORT="${PORT:-8093}"
WORKERS="${WORKERS:-4}"
THREADS="${THREADS:-1}"
WRK_THREADS="${WRK_THREADS:-2}"
N="${N:-$((DURATION * 600 + 1000))}"
WARM="${WARM:-5}"  # seconds of warm-up (imports, template and catalogue loading per worker), not measured
PYTHON="${PYTHON:-.venv/bin/python}"
WORK="$(mktemp -d)"

export SECRET_KEY="${SECRET_KEY:-bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz}"
export VAR_DIR="${VAR_DIR:-/tmp/aftersales-bench-var}"
export DATABASE_URL="$PG_URL/$BENCH_DB"
export CACHE_URL="$REDIS_URL"
export CELERY_BROKER_URL="$REDIS_URL"
export PUBLIC_RATE_LIMIT_PER_MINUTE=1000000000
export LOG_LEVEL=WARNING

psql "$PG_URL/postgres" -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $BENCH_DB" -c "CREATE DATABASE $BENCH_DB"
"$PYTHON" manage.py migrate -v 0
CSRF="$("$PYTHON" bench/survey_load.py "$((N + WARM * 600))" "$WORK/all.txt")"
# Separate tokens for the warm-up, so every measured POST is a first answer.
head -n "$((WARM * 600))" "$WORK/all.txt" >"$WORK/warm.txt"
tail -n "$N" "$WORK/all.txt" >"$WORK/tokens.txt"
echo "prepared $N invitations; load average: $(cut -d' ' -f1-3 /proc/loadavg)"

.venv/bin/gunicorn aftersales.wsgi --bind "127.0.0.1:$PORT" --workers "$WORKERS" --threads "$THREADS" \
  --log-level warning >"$WORK/gunicorn.log" 2>&1 &
GUNICORN=$!
cleanup() {
  kill "$GUNICORN" 2>/dev/null || true
  wait "$GUNICORN" 2>/dev/null || true
  if [ "${KEEP_DB:-0}" != 1 ]; then psql "$PG_URL/postgres" -qX -c "DROP DATABASE IF EXISTS $BENCH_DB"; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
for _ in $(seq 50); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null && break; sleep 0.2; done

TOKENS_FILE="$WORK/warm.txt" CSRF="$CSRF" WRK_THREADS="$WRK_THREADS" \
  wrk -t "$WRK_THREADS" -c "$CONNECTIONS" -d "${WARM}s" --timeout 10s -s bench/survey_load.lua "http://127.0.0.1:$PORT" >/dev/null
echo "gunicorn: $WORKERS workers x $THREADS threads; wrk: $WRK_THREADS threads, $CONNECTIONS connections, ${DURATION}s"
TOKENS_FILE="$WORK/tokens.txt" CSRF="$CSRF" WRK_THREADS="$WRK_THREADS" \
  wrk -t "$WRK_THREADS" -c "$CONNECTIONS" -d "${DURATION}s" --timeout 10s -s bench/survey_load.lua "http://127.0.0.1:$PORT"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "(counts below include the warm-up)"
psql "$DATABASE_URL" -qXAt -c "SELECT 'responses: ' || count(*) FROM feedback_surveyresponse" \
  -c "SELECT 'close-the-loop touch points: ' || count(*) FROM touchpoints_touchpoint WHERE kind = 'close_loop'" \
  -c "SELECT 'owner alerts in the outbox: ' || count(*) FROM aftersales_outboxemail WHERE kind = 'notification'"
"$PYTHON" - <<PY
import redis
r = redis.Redis.from_url("$REDIS_URL")
print("celery messages queued (removed):", r.llen("celery"))
r.delete("celery")
PY
if grep -q -i error "$WORK/gunicorn.log"; then echo "gunicorn log:"; tail -20 "$WORK/gunicorn.log"; fi
