#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import secrets
import sys

# Commands that only read the code (models, migrations, message catalogues) and never
# sign, encrypt or serve anything: they run without SECRET_KEY, on a throwaway key for
# this process. Everything else still refuses to start without one (aftersales/settings.py).
KEYLESS_COMMANDS = {"makemigrations", "compilemessages", "makemessages", "sqlmigrate"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aftersales.settings")
    if len(sys.argv) > 1 and sys.argv[1] in KEYLESS_COMMANDS and not os.environ.get("SECRET_KEY"):
        os.environ["SECRET_KEY"] = secrets.token_urlsafe(50)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
