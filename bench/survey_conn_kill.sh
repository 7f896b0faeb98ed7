#!/usr/bin/env bash
# Benchmark: survey answers while PostgreSQL drops the app's connections (issue 14, docs/BENCHMARKS.md).
#
#   bench/survey_conn_kill.sh [DURATION_S] [CONNECTIONS]       (defaults 30 s, 16 connections)
#
# As bench/survey_load.sh (its database BENCH_DB, one unique token per POST,
# gunicorn and a Celery worker on the same cores, the rate limit on), but the
# client is bench/survey_conn_kill.py (it records which token got which
# answer) and, after a warm-up, a loop terminates every client backend of
# BENCH_DB (gunicorn's and the worker's) every KILL_EVERY seconds (0.5) with
# pg_terminate_backend. Reports the submissions, those answered with an error
# (anything but the thank-you redirect), the error rate, and lost answers:
# thanked but not stored as sent. Needs PostgreSQL at PG_URL (a superuser:
# terminating other roles' backends) and Redis at REDIS_URL. KEEP_DB=1 keeps
# the database.
set -euo pipefail

DURATION="${1:-30}"
CONNECTIONS="${2:-16}"
cd "$(dirname "$0")/.."
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432}"
BENCH_DB="${BENCH_DB:-as_bench_conn_kill}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/3}"
PORT="${PORT:-8094}"
WORKERS="${WORKERS:-4}"
KILL_EVERY="${KILL_EVERY:-0.5}"
WARM="${WARM:-5}"
N="${N:-$((DURATION * 500 + 1000))}"
PYTHON="${PYTHON:-.venv/bin/python}"
WORK="$(mktemp -d)"

export SECRET_KEY="${SECRET_KEY:-bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz}"
export VAR_DIR="${VAR_DIR:-/tmp/aftersales-bench-var}"
export DATABASE_URL="$PG_URL/$BENCH_DB"
export CACHE_URL="$REDIS_URL"
export CELERY_BROKER_URL="$REDIS_URL"
export PUBLIC_RATE_LIMIT_PER_MINUTE=1000000000
QUEUE="$BENCH_DB"  # its own queue: a dev worker on the same Redis takes nothing of this run's
export CELERY_TASK_DEFAULT_QUEUE="$QUEUE"
unset EMAIL_URL EMAIL_HOST EMAIL_BACKEND
export LOG_LEVEL=WARNING

psql "$PG_URL/postgres" -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $BENCH_DB" -c "CREATE DATABASE $BENCH_DB"
"$PYTHON" manage.py migrate -v 0
CSRF="$("$PYTHON" bench/survey_load.py "$((N + WARM * 500))" "$WORK/all.txt")"
head -n "$((WARM * 500))" "$WORK/all.txt" >"$WORK/warm.txt"
tail -n "$N" "$WORK/all.txt" >"$WORK/tokens.txt"
echo "prepared $N invitations; code $(git describe --always --dirty 2>/dev/null || echo "${CODE_LABEL:-unknown}"); load average: $(cut -d' ' -f1-3 /proc/loadavg)"

.venv/bin/gunicorn aftersales.wsgi --bind "127.0.0.1:$PORT" --workers "$WORKERS" --log-level warning \
  >"$WORK/gunicorn.log" 2>&1 &
GUNICORN=$!
"$PYTHON" -m celery -A aftersales purge -f -Q "$QUEUE" >/dev/null
"$PYTHON" -m celery -A aftersales worker --loglevel=WARNING --pool=threads --concurrency=2 \
  --without-gossip --without-mingle --without-heartbeat -Q "$QUEUE" >"$WORK/worker.log" 2>&1 &
WORKER=$!
KILLER=""
cleanup() {
  kill $KILLER "$GUNICORN" "$WORKER" 2>/dev/null || true
  wait $KILLER "$GUNICORN" "$WORKER" 2>/dev/null || true
  if [ "${KEEP_DB:-0}" != 1 ]; then psql "$PG_URL/postgres" -qX -c "DROP DATABASE IF EXISTS $BENCH_DB"; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
for _ in $(seq 50); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null && break; sleep 0.2; done

"$PYTHON" bench/survey_conn_kill.py load "$WORK/warm.txt" "$WORK/warm-results.txt" "http://127.0.0.1:$PORT" \
  "$CSRF" "$WARM" "$CONNECTIONS" >/dev/null

# Every KILL_EVERY seconds (psql's \watch), terminate every backend of the app's database but its own.
echo "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
  WHERE datname = '$BENCH_DB' AND pid <> pg_backend_pid() AND backend_type = 'client backend' \\watch $KILL_EVERY" |
  psql "$PG_URL/postgres" -qXtA >"$WORK/kills.txt" &
KILLER=$!
echo "gunicorn: $WORKERS workers; client: $CONNECTIONS connections, ${DURATION}s; backends killed every ${KILL_EVERY}s"
"$PYTHON" bench/survey_conn_kill.py load "$WORK/tokens.txt" "$WORK/results.txt" "http://127.0.0.1:$PORT" \
  "$CSRF" "$DURATION" "$CONNECTIONS"
kill "$KILLER"
wait "$KILLER" 2>/dev/null || true
KILLER=""
echo "kill rounds: $(wc -l <"$WORK/kills.txt"), backends terminated: $(paste -sd+ "$WORK/kills.txt" | bc)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

for _ in $(seq 40); do  # the worker opening the loops left pending (its own connections were killed too)
  left="$(psql "$DATABASE_URL" -qXAt -c "SELECT count(*) FROM feedback_surveyresponse WHERE loop_pending_at IS NOT NULL")"
  [ "$left" = 0 ] && break
  sleep 1
done
echo "loops still pending 40 s after the run: $left (beat's 30 s run of the job picks these up)"
"$PYTHON" bench/survey_conn_kill.py audit "$WORK/results.txt"
echo "answers retried after a lost connection: $(grep -c 'retrying once' "$WORK/gunicorn.log" || true)"
echo "server errors logged: $(grep -c 'Internal Server Error' "$WORK/gunicorn.log" || true)"
grep -h -o '^[a-zA-Z_.]*\(Error\|Exception\): .*' "$WORK/gunicorn.log" | cut -c1-120 | sort | uniq -c | sort -rn | head -5 || true
