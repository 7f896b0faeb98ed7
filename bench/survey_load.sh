#!/usr/bin/env bash
# Benchmark: survey submissions per second against gunicorn on PostgreSQL (docs/BENCHMARKS.md).
#
#   bench/survey_load.sh [DURATION_S] [CONNECTIONS]        (defaults 30 s, 16 connections)
#
# Needs wrk (`apt-get install wrk`), PostgreSQL at PG_URL (a superuser,
# default postgres://postgres@127.0.0.1:5432) and Redis at REDIS_URL (cache
# for the shared per-IP rate limit, and the Celery broker). Creates the
# database BENCH_DB, migrates it, prepares N unique tokens (one per request:
# each POST is a first answer), starts gunicorn on PORT and a Celery worker
# (as the Procfile runs it) on the same two cores, runs wrk, waits for the
# worker to open every pending loop and deliver the owners' alerts (to the dev
# mailbox), reports how long answers waited for their call-back, stops both
# and drops the database unless KEEP_DB=1. The rate limit stays on (every
# request counts in Redis) with a limit the single benchmark client never reaches.
# WORKER_LOG_LEVEL=INFO KEEP_WORKER_LOG=FILE keep the worker's log (each loop run and its batch size).
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
# Its own queue, so a dev worker on the same Redis takes nothing of the benchmark's.
QUEUE="aftersales-bench"
export CELERY_TASK_DEFAULT_QUEUE="$QUEUE"
unset EMAIL_URL EMAIL_HOST EMAIL_BACKEND  # the owners' alerts go to the dev mailbox (the bench database)
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
# Start from an empty queue: tasks left by an interrupted run would run in this one.
"$PYTHON" -m celery -A aftersales purge -f -Q "$QUEUE" >/dev/null
"$PYTHON" -m celery -A aftersales worker --loglevel="${WORKER_LOG_LEVEL:-WARNING}" --pool=threads --concurrency=2 \
  --without-gossip --without-mingle --without-heartbeat -Q "$QUEUE" >"$WORK/worker.log" 2>&1 &
WORKER=$!
cleanup() {
  kill "$GUNICORN" "$WORKER" 2>/dev/null || true
  wait "$GUNICORN" "$WORKER" 2>/dev/null || true
  if [ "${KEEP_DB:-0}" != 1 ]; then psql "$PG_URL/postgres" -qX -c "DROP DATABASE IF EXISTS $BENCH_DB"; fi
  if [ -n "${KEEP_WORKER_LOG:-}" ]; then cp "$WORK/worker.log" "$KEEP_WORKER_LOG"; fi
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
for _ in $(seq 120); do  # the worker finishing the loops opened during the run
  left="$(psql "$DATABASE_URL" -qXAt -c "SELECT (SELECT count(*) FROM feedback_surveyresponse WHERE loop_pending_at IS NOT NULL)
    + (SELECT count(*) FROM aftersales_outboxemail WHERE sent_at IS NULL AND failed_at IS NULL)")"
  [ "$left" = 0 ] && break
  sleep 1
done
psql "$DATABASE_URL" -qXAt -c "SELECT 'responses: ' || count(*) FROM feedback_surveyresponse" \
  -c "SELECT 'loops still pending: ' || count(*) FROM feedback_surveyresponse WHERE loop_pending_at IS NOT NULL" \
  -c "SELECT 'close-the-loop touch points: ' || count(*) FROM touchpoints_touchpoint WHERE kind = 'close_loop'" \
  -c "SELECT 'owner alerts delivered (dev mailbox): ' || count(*) FROM aftersales_outboxemail
        WHERE kind = 'notification' AND sent_at IS NOT NULL" \
  -c "SELECT 'answer to call-back opened, p50 / p95 / max: '
        || round(percentile_cont(0.5) WITHIN GROUP (ORDER BY s)::numeric, 2) || ' / '
        || round(percentile_cont(0.95) WITHIN GROUP (ORDER BY s)::numeric, 2) || ' / ' || round(max(s)::numeric, 2) || ' s'
      FROM (SELECT extract(epoch FROM t.created_at - r.submitted_at) AS s FROM feedback_surveyresponse r
            JOIN touchpoints_touchpoint t ON t.id = r.followup_id) x" \
  -c "SELECT 'answer to owner alert delivered, p95 / max: '
        || round(percentile_cont(0.95) WITHIN GROUP (ORDER BY s)::numeric, 2) || ' / ' || round(max(s)::numeric, 2) || ' s'
      FROM (SELECT extract(epoch FROM o.sent_at - r.submitted_at) AS s FROM feedback_surveyresponse r
            JOIN aftersales_outboxemail o ON o.customer_id = r.customer_id AND o.kind = 'notification') x"
if grep -q -i error "$WORK/gunicorn.log"; then echo "gunicorn log:"; tail -20 "$WORK/gunicorn.log"; fi
if grep -q "ERROR\|Traceback" "$WORK/worker.log"; then echo "worker log:"; tail -20 "$WORK/worker.log"; fi
