"""A start the settings refuse ends in their one line naming the variable, with exit
status 1: manage.py ended in Django's traceback around it, and gunicorn printed 165 lines
with it in the middle and "Reason: Worker failed to boot." last."""

import importlib
import os
import sys
from contextlib import contextmanager

from django.core.exceptions import ImproperlyConfigured


@contextmanager
def refused_in_one_line():
    """Ends the process with an ImproperlyConfigured's message alone on standard error."""
    try:
        yield
    except ImproperlyConfigured as refusal:
        sys.exit(str(refusal))


def settings_read() -> None:
    """Reads the settings module, or ends the process with its refusal's line. Only the
    module: Django's settings object would set the process's time zone to TIME_ZONE, and
    gunicorn's own lines are in UTC."""
    # Where portal/wsgi.py finds them: the image sets no DJANGO_SETTINGS_MODULE.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    with refused_in_one_line():
        importlib.import_module(os.environ["DJANGO_SETTINGS_MODULE"])
