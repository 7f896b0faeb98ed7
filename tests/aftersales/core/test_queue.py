"""Tasks queued by name (aftersales/core/queue.py): every name a service sends is a task the workers know."""

from __future__ import annotations

import ast
import importlib

from aftersales.celery import app
from tests.conftest import ROOT

PACKAGES = ("aftersales", "customers", "touchpoints", "feedback")
SENDERS = {"task_send", "task_send_on_commit"}


def sent_task_names() -> dict[str, str]:
    """{task name: module sending it} for every task_send/task_send_on_commit call in the project's code."""
    names = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts or path.name == "queue.py":
                continue
            tree = ast.parse(path.read_text(), str(path))
            calls = [
                node
                for node in ast.walk(tree)
                if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in SENDERS
            ]
            if not calls:
                continue
            module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
            for call in calls:
                first = call.args[0]
                if isinstance(first, ast.Constant):
                    names[first.value] = module.__name__
                else:
                    assert isinstance(first, ast.Name), f"{path}:{call.lineno}: name the task with a constant"
                    names[getattr(module, first.id)] = module.__name__
    return names


def test_every_task_a_service_queues_by_name_is_registered():
    """A name with no task behind it (a typo, a tasks module the worker never imports) would be queued and lost."""
    app.loader.import_default_modules()
    sent = sent_task_names()
    # The outbox, webhooks, the import and the loop job queue theirs by name (at least).
    assert len(set(sent.values())) >= 4
    unknown = {name: module for name, module in sent.items() if name not in app.tasks}
    assert not unknown, f"queued by name but not registered: {unknown}"
