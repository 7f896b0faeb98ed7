"""Who is a manager, who is a rep: the two groups created by migration."""

from __future__ import annotations

MANAGERS = "Managers"
REPS = "Reps"


def _group_names(user) -> frozenset[str]:
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    cached = getattr(user, "_aftersales_groups", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        user._aftersales_groups = cached
    return cached


def is_manager(user) -> bool:
    return bool(getattr(user, "is_superuser", False)) or MANAGERS in _group_names(user)


def is_rep(user) -> bool:
    return REPS in _group_names(user)
