"""The language a user chose, given to a browser that logs in without one."""

from django.conf import settings


class LanguageKeptMiddleware:
    """Sets the language cookie of the answer to a login that found the user's chosen
    language and the browser had none (notices.services.language_keep_at_login): the pages
    after it are in that language, as on the computer it was chosen on."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if kept := getattr(request, "language_kept", None):
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME, kept, max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH, domain=settings.LANGUAGE_COOKIE_DOMAIN,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
        return response
