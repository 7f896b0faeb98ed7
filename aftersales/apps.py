from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AftersalesConfig(AppConfig):
    name = "aftersales"
    verbose_name = "Aftersales"

    def ready(self) -> None:
        # Keeps the Managers/Reps groups in place after every migrate and every
        # flush (which empties auth_group); only once per run, after our apps.
        post_migrate.connect(_sync_roles_after_feedback, dispatch_uid="aftersales.roles_sync")


def _sync_roles_after_feedback(sender, apps=None, using="default", **kwargs) -> None:
    # feedback is the last of our apps in INSTALLED_APPS: by then every model
    # whose permissions the roles need is migrated.
    if sender.label != "feedback":
        return
    from aftersales.core.roles import roles_sync

    roles_sync(apps)
