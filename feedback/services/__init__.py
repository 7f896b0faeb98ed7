"""Writes of the survey side, one module per job: ``<entity>_<verb>(*, ...)``, atomic.

* :mod:`.planning` — which customer is asked, by which rule, and when;
* :mod:`.invitations` — sending, reminding and discarding invitations;
* :mod:`.answers` — a customer's answer, stored once per invitation;
* :mod:`.loops` — the call-back on a low answer (opened by the worker), and
  closing it when the rep logs the call;
* :mod:`.unsubscribe` — the customer's e-mail consent;
* :mod:`.merge` — moving a duplicate's survey history to the customer it is merged into.

Import a name from its module (``feedback.services.answers``): the modules
load the models and the mail stack, and callers need only one of them.
"""
