"""The models of the ``aftersales`` app, defined in the sub-packages that own them.

Django registers an app's models from its ``models`` module; each sub-package
keeps its own (they get the ``aftersales`` label as modules of this app). This
module only gathers them, and is imported by nothing but Django and the
migrations: code imports a model from the sub-package that defines it.
"""

from aftersales.api.models import IdempotentRequest
from aftersales.audit.models import AuditAction, AuditEvent
from aftersales.core.models import UserProfile
from aftersales.imports.models import ImportJob
from aftersales.mail.models import EmailSuppression, MailboxMessage, OutboxEmail, new_message_id
from aftersales.webhooks.models import Webhook, WebhookDelivery, WebhookEvent, new_webhook_secret

__all__ = [
    "AuditAction",
    "AuditEvent",
    "EmailSuppression",
    "IdempotentRequest",
    "ImportJob",
    "MailboxMessage",
    "OutboxEmail",
    "UserProfile",
    "Webhook",
    "WebhookDelivery",
    "WebhookEvent",
    "new_message_id",
    "new_webhook_secret",
]
