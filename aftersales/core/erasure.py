"""Erasure (GDPR): what an erased value reads as wherever its row must stay (sent mail, the audit trail)."""

ERASED_TEXT = "(erased)"
