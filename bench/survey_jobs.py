"""Time the survey jobs once on the current database, inside a transaction that is rolled back.

DATABASE_URL=postgres://… python manage.py seed_demo --customers 20000
DATABASE_URL=postgres://… python manage.py shell < bench/survey_jobs.py
"""

import time

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from feedback.services.invitations import invitations_plan, invitations_remind, invitations_send


class Rollback(Exception):
    pass


def timed(label, job):
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        count = job()
    print(f"{label}: {count} in {time.perf_counter() - started:.2f} s, {len(queries)} queries")


try:
    with transaction.atomic():
        timed("plan", invitations_plan)
        timed("plan again (nothing new)", invitations_plan)
        timed("send", invitations_send)
        timed("remind", invitations_remind)
        raise Rollback
except Rollback:
    pass
