"""The ``Idempotency-Key`` header on API writes: the same key from the same user gets the same answer.

A client that timed out does not know whether its sale was recorded; it
sends the request again with the same key. The first response is stored
with the key (per user) in the same transaction as the write, so a replay
is exactly the original answer and the write happens once. Two requests
with the same key at the same moment race on the unique (user, key) row:
the loser's transaction rolls back (its purchase with it) and it replays
the winner's answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from django.db import IntegrityError, transaction
from rest_framework import status
from rest_framework.response import Response

from aftersales.api.models import IdempotentRequest
from aftersales.core.fields import field_max_length

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = field_max_length(IdempotentRequest, "key")


def _fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _replay(stored: IdempotentRequest, fingerprint: str) -> Response:
    if stored.fingerprint != fingerprint:
        return Response(
            {HEADER: ["This key was already used for a different request; use a new key for a new request."]},
            status=status.HTTP_422_UNPROCESSABLE_ENTITY,
        )
    return Response(stored.body, status=stored.status_code, headers={"Idempotent-Replayed": "true"})


def idempotent(request, write: Callable[[], Response]) -> Response:
    """Run ``write`` once per (user, Idempotency-Key); without the header, just run it."""
    key = request.headers.get(HEADER, "").strip()
    if not key:
        return write()
    if len(key) > MAX_KEY_LENGTH:
        return Response({HEADER: [f"At most {MAX_KEY_LENGTH} characters."]}, status=status.HTTP_400_BAD_REQUEST)
    if not key.isprintable():
        return Response({HEADER: ["Use printable characters only."]}, status=status.HTTP_400_BAD_REQUEST)
    fingerprint = _fingerprint(request)
    stored = IdempotentRequest.objects.filter(user=request.user, key=key).first()
    if stored is not None:
        return _replay(stored, fingerprint)
    try:
        with transaction.atomic():
            response = write()
            # Only answers worth replaying are kept: a 4xx the client can fix is not a "done" write.
            if response.status_code < 400:
                IdempotentRequest.objects.create(
                    user=request.user,
                    key=key,
                    fingerprint=fingerprint,
                    status_code=response.status_code,
                    body=json.loads(json.dumps(response.data, default=str)),
                )
    except IntegrityError:
        stored = IdempotentRequest.objects.filter(user=request.user, key=key).first()
        if stored is None:
            raise
        return _replay(stored, fingerprint)
    return response
