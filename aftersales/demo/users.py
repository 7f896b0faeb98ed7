"""The demo logins: one manager and two reps, created once and never duplicated."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group, User

from aftersales.core.models import UserProfile
from aftersales.core.roles import MANAGERS, REPS

DEMO_PASSWORD = "aftersales-demo"  # noqa: S105 - published demo login, printed by `make run`


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    group: str
    timezone: str


DEMO_USERS = (
    DemoUser("manager", "Irina", "Volkova", MANAGERS, "Europe/Madrid"),
    DemoUser("rep1", "Sam", "Carter", REPS, "America/New_York"),
    DemoUser("rep2", "Lucía", "Romero", REPS, "Europe/Madrid"),
)


def ensure_demo_users() -> dict[str, User]:
    """Create the demo users if missing. Existing ones keep their password: someone may have changed it."""
    users = {}
    for spec in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=spec.username,
            defaults={
                "first_name": spec.first_name,
                "last_name": spec.last_name,
                "email": f"{spec.username}@aftersales.example",
                # The manager reads the admin and the dev mailbox, both staff-only.
                "is_staff": spec.group == MANAGERS,
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        user.groups.add(Group.objects.get(name=spec.group))
        UserProfile.objects.get_or_create(user=user, defaults={"timezone": spec.timezone})
        users[spec.username] = user
    return users
