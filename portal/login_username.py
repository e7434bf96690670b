"""The account name a failed login is counted against, as the lockout tables can hold it."""

from axes.conf import settings
from axes.models import AccessAttempt


def login_username(request, credentials: dict | None = None) -> str | None:
    """The typed account name (as django-axes reads it), cut to the lockout tables' column.

    No account has a longer name (Django's hold at most 150 characters), but PostgreSQL
    refuses to store one, which would turn a failed login into an error page.
    """
    field = settings.AXES_USERNAME_FORM_FIELD
    if credentials:
        username = credentials.get(field)
    else:
        username = getattr(request, "data", request.POST).get(field)
    if not isinstance(username, str):
        return username
    return username[: AccessAttempt._meta.get_field("username").max_length]
