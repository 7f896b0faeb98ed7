from django.apps import AppConfig


class TouchpointsConfig(AppConfig):
    name = "touchpoints"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from touchpoints.selectors import remember_timezone

        # Not business logic: it only primes the session so the navigation
        # counts know the rep's day without a query on every page.
        user_logged_in.connect(remember_timezone, dispatch_uid="touchpoints.remember_timezone")
