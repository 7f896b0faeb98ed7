#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import secrets
import sys
from pathlib import Path

# Commands that only read the code (models, migrations, message catalogues) and never
# sign, encrypt or serve anything: they run without SECRET_KEY, on a throwaway key for
# this process. Everything else needs one (aftersales/settings.py), but for commands run by
# hand on one machine with nothing configured (below).
KEYLESS_COMMANDS = {"makemigrations", "compilemessages", "makemessages", "sqlmigrate"}
# Commands that serve requests: like gunicorn (aftersales/wsgi.py), never on a dev key.
SERVING_COMMANDS = {"runserver", "testserver"}


def _one_machine() -> bool:
    """Nothing configured: no SECRET_KEY, no DEBUG either way, no DATABASE_URL (the embedded SQLite)."""
    return not any(os.environ.get(name) for name in ("SECRET_KEY", "DATABASE_URL")) and "DEBUG" not in os.environ


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aftersales.settings")
    command = sys.argv[1] if len(sys.argv) > 1 else "help"
    if command in KEYLESS_COMMANDS and not os.environ.get("SECRET_KEY"):
        os.environ["SECRET_KEY"] = secrets.token_urlsafe(50)
    elif command not in SERVING_COMMANDS and _one_machine():
        # The jobs run by hand (README: send_reminders, outbox_deliver, …) in a fresh checkout sign
        # their links with the key `make run` keeps in var/, so the mail they send opens on that
        # server. Any sign of a real deployment (DEBUG=false, a DATABASE_URL) still needs SECRET_KEY.
        from aftersales.core.env import dev_secret_key, env_str

        var_dir = Path(env_str("VAR_DIR", str(Path(__file__).resolve().parent / "var")))
        var_dir.mkdir(parents=True, exist_ok=True)
        os.environ["SECRET_KEY"] = dev_secret_key(var_dir)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
