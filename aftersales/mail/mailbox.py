"""An email backend that keeps outgoing mail in the database for the dev mailbox page.

Used when no SMTP server is configured: every message goes through Django's
mail stack as usual (headers, MIME, Message-ID) and is stored instead of sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from email.header import decode_header, make_header

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage


class DevMailboxBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        from aftersales.mail.models import MailboxMessage

        kept = 0
        for message in email_messages:
            if not message.recipients():
                continue
            mime = message.message()
            html = ""
            for content, mimetype in getattr(message, "alternatives", []) or []:
                if mimetype == "text/html":
                    html = str(content)
            if message.content_subtype == "html":
                html, text = str(message.body), ""
            else:
                text = str(message.body)
            MailboxMessage.objects.create(
                message_id=mime.get("Message-ID", ""),
                from_email=str(mime.get("From", message.from_email)),
                to=", ".join(message.recipients()),
                # Decoded: a non-ASCII subject travels as =?utf-8?...?= but is read as text.
                subject=str(make_header(decode_header(str(mime.get("Subject", message.subject))))),
                body_text=text,
                body_html=html,
                headers={key: str(value) for key, value in mime.items()},
                raw=mime.as_string(),
            )
            kept += 1
        return kept
