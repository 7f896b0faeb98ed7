"""Prepare the survey-submission benchmark: N answerable invitations with known tokens.

    DATABASE_URL=postgres://… python bench/survey_load.py N TOKENS_FILE

Creates one rep, one survey, N customers and one sent invitation each, in
bulk, and writes the N clear tokens (one a line) to TOKENS_FILE for the load
generator (bench/survey_load.lua). Prints a CSRF secret the client sends as
both cookie and header, as a browser that loaded the page would.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aftersales.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import transaction  # noqa: E402
from django.middleware.csrf import _get_new_csrf_string  # noqa: E402
from django.utils import timezone  # noqa: E402

from customers.models import Customer  # noqa: E402
from feedback.models import Survey, SurveyInvitation, hash_token, new_token  # noqa: E402

BATCH = 5_000


def main(count: int, tokens_file: Path) -> None:
    now = timezone.now()
    rep, _ = get_user_model().objects.get_or_create(
        username="bench-rep", defaults={"email": "bench-rep@example.com", "first_name": "Bench"}
    )
    survey = Survey.objects.create(name="Bench survey")
    tokens = [new_token() for _ in range(count)]
    languages = ["en", "es", "ru"]
    with transaction.atomic():
        for start in range(0, count, BATCH):
            size = min(BATCH, count - start)
            customers = Customer.objects.bulk_create(
                [
                    Customer(
                        name=f"Bench customer {start + i}",
                        email=f"bench{start + i}@example.com",
                        owner=rep,
                        language=languages[(start + i) % 3],
                        timezone="Europe/Madrid",
                    )
                    for i in range(size)
                ]
            )
            SurveyInvitation.objects.bulk_create(
                [
                    SurveyInvitation(
                        survey=survey,
                        customer=customer,
                        token_hash=hash_token(tokens[start + i]),
                        language=customer.language,
                        send_at=now - timedelta(hours=1),
                        sent_at=now - timedelta(hours=1),
                        expires_at=now + timedelta(days=28),
                    )
                    for i, customer in enumerate(customers)
                ]
            )
    tokens_file.write_text("\n".join(tokens) + "\n")
    print(_get_new_csrf_string())


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]))
