"""Which client database the admin works on, and the switcher that chooses it.

A staff user works on one client database at a time: the one chosen with the switcher in the
admin header (kept in the session), else the first the user may use. Every admin request runs
inside ``using_client_database`` for it, so every admin read and write goes there. Which
databases a user may use is ``vbaproject.accounts.permissions.databases_for_user``, the API's
rule too.
A staff user without any gets a clear page instead of the entity screens.
"""

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from vbaproject.accounts.permissions import databases_for_user
from vbaproject.apps import is_entity_app
from vbaproject.db.routing import using_client_database
from vbaproject.history.context import writing_as
from vbaproject.history.models import Via

SESSION_KEY = "vba_database"
# Admin views that read entity tables besides the entity apps' own pages.
_ENTITY_VIEWS = frozenset({"autocomplete", "r"})


def admin_database(request, names=None):
    """The client database ``request``'s user works on in the admin, or ``None``."""
    names = databases_for_user(request.user) if names is None else names
    chosen = request.session.get(SESSION_KEY)
    return chosen if chosen in names else (names[0] if names else None)


def _admin_prefix():
    return reverse("admin:index")


def _needs_database(request, prefix):
    first = request.path_info[len(prefix) :].split("/", 1)[0]
    return first in _ENTITY_VIEWS or is_entity_app(first)


class AdminClientDatabaseMiddleware:
    """Run every admin request of a staff user inside ``using_client_database``.

    Sets ``request.vba_databases`` (the databases the user may use) and ``request.vba_database``
    (the one this request works on, or ``None``) for the views and the header's switcher.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        prefix = _admin_prefix()
        user = getattr(request, "user", None)
        if not request.path_info.startswith(prefix) or not (user and user.is_active and user.is_staff):
            return self.get_response(request)
        request.vba_databases = databases_for_user(user)
        request.vba_database = name = admin_database(request, request.vba_databases)
        if name is None:
            if _needs_database(request, prefix):
                return no_database_response(request)
            return self.get_response(request)
        with using_client_database(name), writing_as(user.get_username(), Via.ADMIN):
            return self.get_response(request)


def no_database_response(request):
    context = {**admin.site.each_context(request), "title": "No client database"}
    return render(request, "admin/vba_no_database.html", context, status=403)


def _after_switch_url(request):
    """Where to go after switching: back where the user was, but not to a record of the old database."""
    target = request.POST.get("next") or _admin_prefix()
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return _admin_prefix()
    try:
        match = resolve(target.split("?", 1)[0])
    except Resolver404:
        return _admin_prefix()
    if match.namespace == "admin" and "object_id" in match.kwargs:
        # A record of the old database may not exist (or be another record) in the new one.
        model_view = match.url_name.rsplit("_", 1)[0]
        try:
            return reverse(f"admin:{model_view}_changelist")
        except NoReverseMatch:
            return _admin_prefix()
    return target


@require_POST
def switch_database(request):
    """Keep the chosen client database in the session, if the user may use it."""
    name = request.POST.get("database", "")
    if name in databases_for_user(request.user):
        request.session[SESSION_KEY] = name
        messages.success(request, f"You are now working on the client database “{name}”.")
    else:
        messages.error(request, f"You may not use the client database “{name}”.")
    return HttpResponseRedirect(_after_switch_url(request))


switch_database_view = admin.site.admin_view(switch_database)
