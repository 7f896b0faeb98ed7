"""The suppression list: addresses that must never be mailed again, kept only as sha256 hashes.

An erased customer's address goes on it; the outbox writes mail to it as
failed and the survey planner skips it, whoever the address is on next.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from aftersales.mail.models import EmailSuppression


def email_hash(address: str) -> str:
    """How an address is kept on the suppression list: sha256 of it, trimmed and lowercased."""
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()


def email_suppress(*, address: str, reason: str) -> EmailSuppression | None:
    """Put an address on the suppression list (idempotent); None for an empty address."""
    if not address.strip():
        return None
    suppression, _created = EmailSuppression.objects.get_or_create(
        email_hash=email_hash(address), defaults={"reason": reason[:200]}
    )
    return suppression


def email_suppressed(address: str) -> bool:
    """True when mail to ``address`` must not be sent (it belonged to an erased customer)."""
    return address in emails_suppressed([address])


def emails_suppressed(addresses: Iterable[str]) -> set[str]:
    """Which of ``addresses`` must not be mailed, in one query (a batch of mail)."""
    hashes = {address: email_hash(address) for address in addresses if address.strip()}
    if not hashes:
        return set()
    found = set(EmailSuppression.objects.filter(email_hash__in=hashes.values()).values_list("email_hash", flat=True))
    return {address for address, hashed in hashes.items() if hashed in found}
