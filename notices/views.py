"""The page where a user turns e-mail notices on or off, and the language switch that
keeps the chosen language on the account for them."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.i18n import set_language

from .forms import NoticeChoicesForm
from .kinds import kinds_for
from .models import OptOut
from .services import language_remember, notice_choices_save


def notice_settings(request):
    kinds = kinds_for(request.user)
    if request.method == "POST":
        form = NoticeChoicesForm(request.POST, kinds=kinds)
        if form.is_valid():
            notice_choices_save(user=request.user, kinds=kinds, wanted=form.wanted())
            messages.success(request, _("Your e-mail choices are saved."))
            return redirect("notices:settings")
    else:
        off = set(OptOut.objects.filter(user=request.user).values_list("kind", flat=True))
        form = NoticeChoicesForm(kinds=kinds,
                                 initial={kind.slug: kind.slug not in off for kind in kinds})
    return render(request, "notices/settings.html", {"form": form, "kinds": kinds})


@login_not_required  # the language can be chosen on the login page too
def language_choose(request):
    """Django's set_language; a logged-in user's choice is also kept for their e-mails,
    and for the browsers they log in on without the switch's cookie."""
    response = set_language(request)
    chosen = response.cookies.get(settings.LANGUAGE_COOKIE_NAME)
    if chosen is not None and request.user.is_authenticated:
        language_remember(user=request.user, language=chosen.value)
    return response
