"""The SQL of the risk sweeps, for PostgreSQL and SQLite (aftersales/risk/sweeps.py runs it).

Each sweep is one ``INSERT … SELECT`` per batch of customer ids: the database
picks the customers, writes the flags and skips those already flagged, with
no row passing through Python. ``NOT EXISTS`` skips customers with an open
flag cheaply; the partial unique index ``riskflag_one_open_per_reason`` is
the guarantee when two sweeps race: ``ON CONFLICT (customer_id, reason)
WHERE resolved_at IS NULL DO NOTHING`` names that index on PostgreSQL and on
SQLite (≥ 3.35, for RETURNING; writers are serialised there anyway), and any
other constraint violation still raises. Only the date arithmetic and the
JSON functions differ between the two (``Dialect``). Parameters are named
(``%(now)s``). The statements are assembled only from constants of this
module (hence the ``noqa: S608``); every value goes in as a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dialect:
    days_between: str  # whole days from timestamp {start} to timestamp {end}
    dates_between: str  # days from date {start} to date {end}
    json_object: str  # function building a JSON object
    json_array: str


POSTGRESQL = Dialect(
    days_between="FLOOR(EXTRACT(EPOCH FROM ({end} - {start})) / 86400)::integer",
    dates_between="({end} - {start})",
    json_object="jsonb_build_object",
    json_array="jsonb_build_array",
)
SQLITE = Dialect(
    days_between="CAST(julianday({end}) - julianday({start}) AS INTEGER)",
    dates_between="CAST(julianday({end}) - julianday({start}) AS INTEGER)",
    json_object="json_object",
    json_array="json_array",
)


def dialect_for(vendor: str) -> Dialect:
    if vendor == "postgresql":
        return POSTGRESQL
    if vendor == "sqlite":
        return SQLITE
    raise NotImplementedError(f"the risk sweeps have no SQL for {vendor}")


# Skips customers who already have an open flag for the reason (served by the partial unique index).
NOT_FLAGGED = """NOT EXISTS (
    SELECT 1 FROM customers_riskflag f
    WHERE f.customer_id = {customer} AND f.reason = %(reason)s AND f.resolved_at IS NULL
)"""

# Every column a flag needs (tests/aftersales/test_sql_drift.py fails when RiskFlag gains one this leaves out).
INSERT_FLAGS = """INSERT INTO customers_riskflag (customer_id, reason, detail, data, raised_at, resolution)
{select}
ON CONFLICT (customer_id, reason) WHERE resolved_at IS NULL DO NOTHING"""


def gone_quiet(d: Dialect) -> str:
    """Customers whose quiet_after has passed (customer_quiet_sweep_idx), with the days of silence."""
    days = d.days_between.format(start="COALESCE(c.last_contact_at, c.created_at)", end="%(now)s")
    threshold = d.days_between.format(start="c.last_contact_at", end="c.quiet_after")
    select = f"""SELECT q.id, %(reason)s,
    CASE WHEN q.last_contact_at IS NULL
        THEN 'No two-way contact on record in ' || CAST(q.days AS TEXT) || ' days as a customer'
        ELSE 'No two-way contact for ' || CAST(q.days AS TEXT) || ' days (quiet after '
            || CAST(q.threshold AS TEXT) || ')'
    END,
    {d.json_object}('days_silent', q.days, 'threshold_days', q.threshold,
        'last_contact_at', q.last_contact_at, 'quiet_after', q.quiet_after),
    %(now)s, ''
FROM (
    SELECT c.id, c.last_contact_at, c.quiet_after, {days} AS days, {threshold} AS threshold
    FROM customers_customer c
    WHERE c.quiet_after <= %(now)s AND c.id BETWEEN %(low)s AND %(high)s
      AND {NOT_FLAGGED.format(customer="c.id")}
) q
WHERE 1 = 1"""  # noqa: S608 (a WHERE before an upsert clause keeps SQLite's parser happy; harmless elsewhere)  # nosec B608
    return INSERT_FLAGS.format(select=select)


GONE_QUIET_BOUNDS = "SELECT MIN(id), MAX(id) FROM customers_customer WHERE quiet_after <= %(now)s"


def renewal_no_contact(d: Dialect) -> str:
    """A renewal within the window (purchase_renewal_idx) and no two-way contact since the cutoff."""
    to_renewal = d.dates_between.format(start="%(today)s", end="r.renewal_date")
    silent = d.days_between.format(start="c.last_contact_at", end="%(now)s")
    select = f"""SELECT c.id, %(reason)s,
    'Renewal on ' || CAST(r.renewal_date AS TEXT) || ' (in ' || CAST({to_renewal} AS TEXT) || ' days), '
        || CASE WHEN c.last_contact_at IS NULL THEN 'no two-way contact on record'
           ELSE 'no two-way contact for ' || CAST({silent} AS TEXT) || ' days' END,
    {d.json_object}('renewal_date', r.renewal_date, 'days_to_renewal', {to_renewal},
        'days_silent', {silent}, 'last_contact_at', c.last_contact_at),
    %(now)s, ''
FROM (
    SELECT p.customer_id, MIN(p.renewal_date) AS renewal_date
    FROM customers_purchase p
    WHERE p.renewal_date >= %(today)s AND p.renewal_date <= %(window_end)s
      AND p.customer_id BETWEEN %(low)s AND %(high)s
    GROUP BY p.customer_id
) r
JOIN customers_customer c ON c.id = r.customer_id
WHERE (c.last_contact_at IS NULL OR c.last_contact_at < %(contact_cutoff)s)
  AND {NOT_FLAGGED.format(customer="c.id")}"""  # noqa: S608  # nosec B608
    return INSERT_FLAGS.format(select=select)


RENEWAL_BOUNDS = """SELECT MIN(customer_id), MAX(customer_id) FROM customers_purchase
WHERE renewal_date >= %(today)s AND renewal_date <= %(window_end)s"""

# The last three temperatures of each customer in the batch, newest first (t1), as one row.
LAST_THREE_TEMPERATURES = """SELECT ranked.customer_id,
    MAX(CASE WHEN ranked.rn = 1 THEN ranked.temperature END) AS t1,
    MAX(CASE WHEN ranked.rn = 2 THEN ranked.temperature END) AS t2,
    MAX(CASE WHEN ranked.rn = 3 THEN ranked.temperature END) AS t3
FROM (
    SELECT t.customer_id, t.temperature,
        ROW_NUMBER() OVER (PARTITION BY t.customer_id ORDER BY t.completed_at DESC, t.id DESC) AS rn
    FROM touchpoints_touchpoint t
    WHERE t.status = 'done' AND t.temperature IS NOT NULL AND t.customer_id BETWEEN %(low)s AND %(high)s
) ranked
WHERE ranked.rn <= 3
GROUP BY ranked.customer_id"""

FALLING = f"SELECT * FROM ({LAST_THREE_TEMPERATURES}) temps WHERE temps.t3 > temps.t2 AND temps.t2 > temps.t1"  # noqa: S608  # nosec B608


def cold_temperature(d: Dialect) -> str:
    """Strictly falling temperature over the last three done check-ups (a window function)."""
    select = f"""SELECT falling.customer_id, %(reason)s,
    'Temperature falling over the last three check-ups: ' || CAST(falling.t3 AS TEXT) || %(arrow)s
        || CAST(falling.t2 AS TEXT) || %(arrow)s || CAST(falling.t1 AS TEXT),
    {d.json_object}('temperatures', {d.json_array}(falling.t3, falling.t2, falling.t1)),
    %(now)s, ''
FROM ({FALLING}) falling
WHERE {NOT_FLAGGED.format(customer="falling.customer_id")}"""  # noqa: S608  # nosec B608
    return INSERT_FLAGS.format(select=select)


# Resolves open cold-temperature flags of the batch once a newer reading ended the fall.
RESOLVE_WARMED_UP = f"""UPDATE customers_riskflag
SET resolved_at = %(now)s, resolution = %(resolution)s
WHERE reason = %(reason)s AND resolved_at IS NULL AND raised_at <= %(now)s
  AND customer_id BETWEEN %(low)s AND %(high)s
  AND EXISTS (
    SELECT 1 FROM touchpoints_touchpoint t
    WHERE t.customer_id = customers_riskflag.customer_id AND t.status = 'done'
      AND t.temperature IS NOT NULL AND t.completed_at > customers_riskflag.raised_at
  )
  AND customer_id NOT IN (SELECT falling.customer_id FROM ({FALLING}) falling)"""  # noqa: S608  # nosec B608

TEMPERATURE_BOUNDS = """SELECT MIN(customer_id), MAX(customer_id) FROM touchpoints_touchpoint
WHERE status = 'done' AND temperature IS NOT NULL"""


# The notification claim, for a list of flag ids. Two notifiers racing for
# the same rows both run it; on PostgreSQL the second waits for the first's
# row locks, re-checks ``owner_notified_at IS NULL`` and skips those rows.
# By hand for its RETURNING: the ORM's update() says how many rows it won, not which.
def claim(count: int) -> str:
    ids = ", ".join(["%s"] * count)
    return f"""UPDATE customers_riskflag SET owner_notified_at = %s
WHERE id IN ({ids}) AND owner_notified_at IS NULL AND resolved_at IS NULL
RETURNING id, customer_id, reason"""  # noqa: S608  # nosec B608
