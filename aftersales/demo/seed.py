"""seed_demo's service: demo users, catalogue, then customers in chunks of fast writes."""

from __future__ import annotations

import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from aftersales.core.models import UserProfile
from aftersales.core.roles import REPS
from aftersales.demo import texts
from aftersales.demo.catalogue import ensure_catalogue
from aftersales.demo.generator import Generator
from aftersales.demo.people import build_pools
from aftersales.demo.pipeline import BackgroundWriter, InlineWriter
from aftersales.demo.rules import FastRandom
from aftersales.demo.state import Rows
from aftersales.demo.users import DEMO_USERS, ensure_demo_users
from aftersales.demo.writer import CUSTOMERS, INVITATIONS, PURCHASES, TABLES, TOUCHPOINTS, IdAllocator
from customers.models import Customer
from touchpoints.models import TouchPoint

DEMO_REF_PREFIX = "DEMO-C"
CHUNK_SIZE = 2000
DUE_TODAY_PER_REP = 4


@dataclass
class SeedResult:
    skipped: bool = False
    created: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def seed_demo(
    *,
    customers: int,
    seed: int = 42,
    if_empty: bool = False,
    reset: bool = False,
    progress: Callable[[int], None] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> SeedResult:
    """Create the demo users and ``customers`` demo customers with their whole history.

    ``if_empty``: do nothing at all when any customer exists (what `make run` uses).
    ``reset``: first delete the customers an earlier seed_demo created (and everything of theirs).
    """
    started = time.monotonic()
    if if_empty and Customer.objects.exists():
        return SeedResult(skipped=True)
    if connection.vendor == "sqlite":
        # One transaction: SQLite commits are the slow part, and the ids
        # counted on from MAX(id) stay ours while we hold the write lock.
        with transaction.atomic():
            created = _seed(customers, seed, reset, progress, chunk_size)
    else:
        # PostgreSQL: each chunk commits on its own (see pipeline.py).
        created = _seed(customers, seed, reset, progress, chunk_size)
        with connection.cursor() as cursor:
            for table in TABLES:  # fresh statistics, or the first queries plan for empty tables
                cursor.execute(f"ANALYZE {connection.ops.quote_name(table.name)}")
    return SeedResult(created=created, seconds=time.monotonic() - started)


def _seed(
    customers: int, seed: int, reset: bool, progress: Callable[[int], None] | None, chunk_size: int
) -> dict[str, int]:
    users = ensure_demo_users()
    if reset:
        Customer.objects.filter(external_ref__startswith=DEMO_REF_PREFIX).delete()
    catalogue = ensure_catalogue()
    for table in TABLES:
        table.check()
    rng = FastRandom(seed)
    generator = Generator(
        rng=rng,
        catalogue=catalogue,
        pools=build_pools(seed),
        reps=[users[spec.username].pk for spec in DEMO_USERS if spec.group == REPS],
        now=timezone.now(),
        take_id={
            "customer": IdAllocator(CUSTOMERS),
            "purchase": IdAllocator(PURCHASES),
            "touchpoint": IdAllocator(TOUCHPOINTS),
            "invitation": IdAllocator(INVITATIONS),
        },
    )
    created = _generate(generator, customers, chunk_size, progress)
    with transaction.atomic():
        created["touchpoints"] += _rep_agenda(generator, rng, users)
    return created


def _generate(
    generator: Generator,
    customers: int,
    chunk_size: int,
    progress: Callable[[int], None] | None,
) -> dict[str, int]:
    created = Rows().counts()
    writer = BackgroundWriter(progress) if BackgroundWriter.usable() else InlineWriter(progress)
    done = 0
    with writer:
        while done < customers:
            size = min(chunk_size, customers - done)
            for _ in range(size):
                generator.customer()
            rows, generator.rows = generator.rows, Rows()
            done += size
            writer.put(rows, done)
            for name, count in rows.counts().items():
                created[name] += count
    return created


def _rep_agenda(generator: Generator, rng: FastRandom, users: dict) -> int:
    """Follow-ups for each demo rep: a few due today, so *My day* is never empty, and two slightly overdue.

    "Today" is taken in both the rep's time zone and the server's: the due
    times fall in the hours that are today for either reading. The overdue
    ones are a day or two late, short of the 3 days that raise a flag.
    """
    now = timezone.now()
    server_tz = timezone.get_default_timezone()
    new = []
    for spec in DEMO_USERS:
        user = users[spec.username]
        mine = generator.rep_customers.get(user.pk) or []
        if not mine:
            continue
        profile = UserProfile.objects.filter(user=user).first()
        rep_tz = zoneinfo.ZoneInfo(profile.timezone if profile else "UTC")
        start = max(_midnight(now, rep_tz), _midnight(now, server_tz))
        end = min(_midnight(now, rep_tz) + timedelta(days=1), _midnight(now, server_tz) + timedelta(days=1))
        step = (end - start) / DUE_TODAY_PER_REP
        due_times = [start + step * i + step / 2 for i in range(DUE_TODAY_PER_REP)]
        objectives = list(texts.DUE_TODAY_OBJECTIVES[:DUE_TODAY_PER_REP])
        for hours, objective in zip((26, 50), texts.OVERDUE_OBJECTIVES, strict=True):
            due_times.append(now - timedelta(hours=hours))
            objectives.append(objective)
        for customer_id, due, objective in zip(rng.choices(mine, k=len(due_times)), due_times, objectives, strict=True):
            new.append(
                TouchPoint(
                    customer_id=customer_id,
                    assignee=user,
                    kind="follow_up",
                    channel="call",
                    objective=objective,
                    due_at=due.replace(second=0, microsecond=0),
                    created_by=user,
                )
            )
    TouchPoint.objects.bulk_create(new)
    return len(new)


def _midnight(moment: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    return moment.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
