"""Who is a manager, who is a rep: the two groups and what each may do.

The groups are created by the data migration ``aftersales.0003_roles`` and
kept in step after every ``migrate`` (and every test-database flush) by
:func:`roles_sync`, connected to ``post_migrate``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from django.apps.registry import Apps
    from django.contrib.auth.models import AnonymousUser, User

# Who does something: the signed-in user a service acts for and records (``by``, ``actor``, ``created_by``...).
# The project keeps Django's own user model (no AUTH_USER_MODEL). Written as a string so that this module
# imports nothing from the auth app at runtime (it is imported before the app registry is ready).
Actor: TypeAlias = "User"
# Whoever a role check is asked about: a request's user, signed in or not.
Visitor: TypeAlias = "User | AnonymousUser"

MANAGERS = "Managers"
REPS = "Reps"

# Model permissions per role. Row scoping (a rep sees only their own
# customers) is enforced by the QuerySets the views use.
MANAGER_MODELS = {
    "customers": ["customer", "product", "purchase", "riskflag"],
    "touchpoints": ["checkupplan", "planstep", "touchpoint"],
    "feedback": ["survey", "surveyinvitation", "surveyresponse"],
    "aftersales": ["outboxemail"],
    # Locked-out logins (django-axes): deleting an access attempt in the admin unlocks the account.
    "axes": ["accessattempt"],
}
REP_PERMISSIONS = {
    "customers": {
        "customer": ["view", "change"],
        "purchase": ["view", "add"],
        "product": ["view"],
        "riskflag": ["view", "change"],
    },
    "touchpoints": {"checkupplan": ["view"], "planstep": ["view"], "touchpoint": ["view", "add", "change"]},
    "feedback": {"surveyresponse": ["view"], "surveyinvitation": ["view"]},
}


def _group_names(user: Visitor) -> frozenset[str]:
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    cached: frozenset[str] | None = getattr(user, "_aftersales_groups", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        user._aftersales_groups = cached  # type: ignore[union-attr]  # a per-request cache on the user object
    return cached


def is_manager(user: Visitor) -> bool:
    return bool(getattr(user, "is_superuser", False)) or MANAGERS in _group_names(user)


def is_rep(user: Visitor) -> bool:
    return REPS in _group_names(user)


def roles_sync(apps: Apps | None = None, **kwargs: Any) -> None:
    """Create the role groups if missing and give them their permissions (idempotent).

    Works with the historical app registry of a migration (``apps``) or the
    live one (as a ``post_migrate`` receiver, where ``apps`` is also passed).
    """
    from django.apps import apps as live_apps
    from django.contrib.auth.management import create_permissions

    registry = apps or live_apps
    for app_label in ("auth", "aftersales", "customers", "touchpoints", "feedback"):
        try:
            app_config = registry.get_app_config(app_label)
        except LookupError:
            return  # an app of ours is not migrated yet: the next post_migrate will do it
        # create_permissions skips app configs without a models module (migration stubs have none).
        # (it only tests the attribute for truth, hence a bare True where no module is loaded).
        app_config.models_module = getattr(app_config, "models_module", None) or True  # type: ignore[assignment]
        create_permissions(app_config, apps=registry, verbosity=0)
    Group = registry.get_model("auth", "Group")
    Permission = registry.get_model("auth", "Permission")

    managers, _ = Group.objects.get_or_create(name=MANAGERS)
    perms: list[Any] = []  # Permission rows of the registry in use (historical models are not the live class)
    for app_label, model_names in MANAGER_MODELS.items():
        perms += Permission.objects.filter(content_type__app_label=app_label, content_type__model__in=model_names)
    managers.permissions.set(perms)

    reps, _ = Group.objects.get_or_create(name=REPS)
    perms = []
    for app_label, models in REP_PERMISSIONS.items():
        for model, actions in models.items():
            codenames = [f"{action}_{model}" for action in actions]
            perms += Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
    reps.permissions.set(perms)
