"""Benchmark: importing a 100,000-row sales spreadsheet, then importing it again.

    DATABASE_URL=postgres://…/as_bench_import SECRET_KEY=… .venv/bin/python bench/import_100k.py [--rows 100000]

Needs a migrated, otherwise empty database (it creates two reps, three
products with check-up plans, and then the import's customers, purchases and
touch points; ``--cleanup`` deletes them again). Writes a CSV as Excel would
export it in Europe (BOM, ``;``, day-first dates, decimal commas), one sale
per row, about 60% of the customers with more than one sale, all recent
enough that every plan step is still ahead (the worst case: every row
schedules check-ups). Times the same steps the manager's page and
``import_sales`` run: read, preview (validation, every row), commit (one
transaction). The second import of the same file must change nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aftersales.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from aftersales.core.roles import REPS  # noqa: E402
from aftersales.imports.commit import import_commit  # noqa: E402
from aftersales.imports.mapping import guess_mapping  # noqa: E402
from aftersales.imports.reading import read_table  # noqa: E402
from aftersales.imports.validation import preview_table  # noqa: E402
from customers.models import Customer, Product, Purchase  # noqa: E402
from touchpoints.models import CheckupPlan, PlanStep, TouchPoint  # noqa: E402

HEADER = "Customer ID;Customer name;Company;Email;Rep;Order number;SKU;Order date;Delivery date;Total;Currency"


def setup() -> tuple:
    from django.contrib.auth.models import Group, User

    reps = []
    for name in ("bench-rep1", "bench-rep2"):
        user, _ = User.objects.get_or_create(username=name, defaults={"email": f"{name}@example.com"})
        user.groups.add(Group.objects.get_or_create(name=REPS)[0])
        reps.append(user)
    for n in range(3):
        plan, _ = CheckupPlan.objects.get_or_create(name=f"Bench plan {n}")
        if not plan.steps.exists():
            for position, days in enumerate((3, 30, 90), start=1):
                PlanStep.objects.create(plan=plan, position=position, offset_days=days, objective=f"Step {position}")
        Product.objects.get_or_create(sku=f"BENCH-{n}", defaults={"name": f"Bench product {n}", "default_plan": plan})
    return reps


def write_csv(path: Path, rows: int) -> None:
    rng = random.Random(42)  # noqa: S311 - benchmark data
    today = dt.date.today()
    customers = max(1, int(rows * 0.6))
    lines = [HEADER]
    for n in range(rows):
        c = n if n < customers else rng.randrange(customers)
        ordered = today - dt.timedelta(days=rng.randrange(0, 3))
        delivered = ordered + dt.timedelta(days=rng.randrange(0, 3))
        amount = f"{rng.randrange(100, 500000) / 100:.2f}".replace(".", ",")
        lines.append(
            f'BC{c:07d};Customer {c};"Company {c % 5000}; Ltd";c{c}@example.com;bench-rep{1 + c % 2};'
            f"BO{n:08d};BENCH-{n % 3};{ordered:%d/%m/%Y};{delivered:%d/%m/%Y};{amount};EUR"
        )
    path.write_bytes("\ufeff".encode() + ("\r\n".join(lines) + "\r\n").encode())


def run(path: Path, by) -> dict:
    started = time.perf_counter()
    table = read_table(path)
    read = time.perf_counter()
    preview = preview_table(table, guess_mapping(table.header))
    checked = time.perf_counter()
    assert not preview.errors, preview.errors[:5]
    result = import_commit(preview=preview, by=by)
    done = time.perf_counter()
    return {
        "read": read - started,
        "preview": checked - read,
        "commit": done - checked,
        "total": done - started,
        "result": result,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--cleanup", action="store_true")
    args = parser.parse_args()
    reps = setup()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sales.csv"
        write_csv(path, args.rows)
        print(f"{connection.vendor}, {args.rows:,} rows, {path.stat().st_size / 1e6:.1f} MB; load {os.getloadavg()}")
        for label in ("first import", "same file again"):
            timings = run(path, reps[0])
            print(
                f"{label}: read {timings['read']:.1f}s, preview {timings['preview']:.1f}s, "
                f"commit {timings['commit']:.1f}s, total {timings['total']:.1f}s — {timings['result']}"
            )
    print(
        f"rows now: customers {Customer.objects.filter(external_ref__startswith='BC').count():,}, "
        f"purchases {Purchase.objects.filter(external_ref__startswith='BO').count():,}, "
        f"touch points {TouchPoint.objects.filter(purchase__external_ref__startswith='BO').count():,}"
    )
    if args.cleanup:
        TouchPoint.objects.filter(purchase__external_ref__startswith="BO").delete()
        Purchase.objects.filter(external_ref__startswith="BO").delete()
        Customer.objects.filter(external_ref__startswith="BC").delete()


if __name__ == "__main__":
    main()
