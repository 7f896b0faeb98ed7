"""Rows delivered with a lease and retries (outbox emails, webhook deliveries): which ones a worker may claim."""

from __future__ import annotations

import datetime as dt
from typing import Self, TypeVar

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

_M = TypeVar("_M", bound=models.Model)


class LeasedQuerySet(models.QuerySet[_M]):
    """Rows delivered with lease and retry (outbox emails, webhook deliveries): which ones a worker may claim."""

    # The column set once the row is delivered; ``failed_at`` marks giving up.
    done_field = "sent_at"

    def pending(self) -> Self:
        return self.filter(**{f"{self.done_field}__isnull": True, "failed_at__isnull": True})

    def done_before(self, moment: dt.datetime) -> Self:
        """Delivered or given up on before ``moment``, oldest first: what the retention prune deletes.

        Written as the ``*_done_idx`` partial indexes are (the condition, then
        the delivery time as ``done_at``), so the database walks the index
        from the oldest row and stops after the batch.
        """
        return (
            self.filter(Q(**{f"{self.done_field}__isnull": False}) | Q(failed_at__isnull=False))
            .alias(done_at=Coalesce(self.done_field, "failed_at"))
            .filter(done_at__lt=moment)
            .order_by("done_at")
        )

    def deliverable(self, at: dt.datetime | None = None) -> Self:
        """Pending, due, and not leased by a live worker."""
        moment = at or timezone.now()
        return (
            self.pending()
            .filter(send_after__lte=moment)
            .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=moment))
        )

    def claim(self, pk: int, *, lease_until: dt.datetime, at: dt.datetime) -> bool:
        """Lease one deliverable row for this worker: True when this call got it.

        A single conditional UPDATE: two workers racing on the same row both
        run it; the database serialises them and the second one's WHERE no
        longer matches (the lease is live), so it updates 0 rows.
        """
        return self.deliverable(at=at).filter(pk=pk).update(leased_until=lease_until, attempts=F("attempts") + 1) == 1
