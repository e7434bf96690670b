#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    from django.core.management import execute_from_command_line
    from django.db import OperationalError

    from portal.refusal import refused_in_one_line

    try:
        with refused_in_one_line():
            execute_from_command_line(sys.argv)
    except OperationalError as error:
        # The database away (down, refusing, a wrong DATABASE_URL host): one line saying so,
        # where each command ended with a traceback that an operator had to read through.
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        sys.stderr.write(f"The database does not answer: {first_line or type(error).__name__}"
                         "\nCheck DATABASE_URL and that the database server runs.\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
