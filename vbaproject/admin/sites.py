"""One admin site per client database, at ``/admin/<database>/``: the database is in every URL.

A tab, a bookmark, a shared link, the back button and a form posted from an old page all name
their database, so nothing a user does in one tab can make another tab's form write elsewhere.
Each ``ClientDatabaseAdminSite`` serves the entity admins (``register``) for its database; its
views run inside ``using_client_database`` and ``writing_as`` (the history's who and how), and
answer a staff user who may not use the database with the admin's styled "no access" page.
Which databases a user may use is ``vbaproject.accounts.permissions.databases_for_user``, the
API's rule too. The switcher in the header navigates to the same screen of another database.

The control site (``/admin/``, Django's default site) keeps users and API keys, and its home
page lists the client databases the user may open.
"""

import functools

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, Resolver404, path, resolve, reverse
from django.utils.functional import SimpleLazyObject
from django.utils.http import url_has_allowed_host_and_scheme

from vbaproject.accounts.permissions import databases_for_user
from vbaproject.db.routing import client_database_names, using_client_database
from vbaproject.history.context import writing_as
from vbaproject.history.models import Change, Via

_ENTITY_ADMINS = {}  # model -> ModelAdmin class, registered on every client database's site
SITE_PREFIX = "vba-"  # instance namespaces: "vba-demo" (never "admin", the control site's)


def register(*models):
    """``@register(Grievance)``: an entity admin, served by every client database's site."""

    def decorate(admin_class):
        for model in models:
            _ENTITY_ADMINS[model] = admin_class
        return admin_class

    return decorate


def user_databases(request):
    """The client databases the request's user may use, read once per request (the site's check,
    the header's switcher and the home page all ask)."""
    if not hasattr(request, "_vba_databases"):
        request._vba_databases = databases_for_user(getattr(request, "user", None))
    return request._vba_databases


def site_name(database):
    return f"{SITE_PREFIX}{database}"


class ClientDatabaseAdminSite(admin.AdminSite):
    """The admin of one client database."""

    index_template = "admin/vba_database_index.html"

    def __init__(self, database):
        super().__init__(name=site_name(database))
        self.database = database
        self.site_header = admin.site.site_header
        self.site_title = f"{database} · {admin.site.site_title}"
        self.index_title = f"Client database {database}"
        self.site_url = None
        self.enable_nav_sidebar = False

    def may_use(self, request):
        return self.database in user_databases(request)

    def has_permission(self, request):
        return super().has_permission(request) and self.may_use(request)

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            user = request.user
            if user.is_active and user.is_staff and not self.may_use(request):
                return no_access_response(request, self.database)
            with using_client_database(self.database), writing_as(user.get_username(), Via.ADMIN):
                response = inner(request, *args, **kwargs)
                # A TemplateResponse reads its queryset when rendered: render it while selected.
                if hasattr(response, "render") and not response.is_rendered:
                    response.render()
                return response

        return wrapper

    def each_context(self, request):
        return {**super().each_context(request), "vba_database": self.database}

    def index(self, request, extra_context=None):
        """The home page of the database; its "Recent actions" are the user's changes here."""
        recent = Change.objects.filter(username=request.user.get_username()).order_by("-at")[:10]
        links = {
            model.__name__: (model, f"admin:{model._meta.app_label}_{model._meta.model_name}_change")
            for model in self._registry
        }
        actions = []
        for change in recent:
            model, view = links.get(change.entity, (None, None))
            url = None
            if model is not None and change.action != "delete":
                url = reverse(view, args=[change.record_key], current_app=self.name)
            noun = model._meta.verbose_name if model is not None else change.entity
            actions.append({"change": change, "label": f"{noun} {change.record_key}", "url": url})
        context = {"vba_recent": actions, "vba_counts": self.home_counts(request)}
        return super().index(request, {**context, **(extra_context or {})})

    def home_counts(self, request):
        """The work waiting in this database: each entity admin's ``home_counts`` (the grievance
        queue's open, due-soon and overdue), for the entities the user may view."""
        counts = []
        for model_admin in self._registry.values():
            if hasattr(model_admin, "home_counts") and model_admin.has_view_permission(request):
                counts.extend(model_admin.home_counts(request))
        return counts

    def _build_app_dict(self, request, label=None):
        """The app list; an entity whose admin names a ``landing_query`` (the grievance queue's
        ``state=open``) is linked to that view of its list."""
        app_dict = super()._build_app_dict(request, label)
        apps = ([app_dict] if app_dict else []) if label else app_dict.values()
        for app in apps:
            for entry in app.get("models", []):
                model_admin = self._registry.get(entry.get("model"))
                query = getattr(model_admin, "landing_query", "")
                if query and entry.get("admin_url"):
                    entry["admin_url"] = f"{entry['admin_url']}?{query}"
        return app_dict


@functools.cache
def client_sites():
    """The admin site of every configured client database, built once, with every entity admin."""
    sites = {}
    for database in client_database_names():
        site = ClientDatabaseAdminSite(database)
        for model, admin_class in _ENTITY_ADMINS.items():
            site.register(model, admin_class)
        sites[database] = site
    return sites


def urls():
    """The URL patterns of every client database's admin, to go before the control site's."""
    return [path(f"admin/{database}/", site.urls) for database, site in client_sites().items()]


def databases_context(request):
    """Template context processor: ``vba_databases``, the client databases the user may open, and
    ``vba_database_homes``, (name, home page URL) of each."""
    names = SimpleLazyObject(lambda: user_databases(request))
    homes = SimpleLazyObject(
        lambda: [(name, reverse("admin:index", current_app=site_name(name))) for name in names]
    )
    return {"vba_databases": names, "vba_database_homes": homes}


def no_access_response(request, database=None):
    """The admin's styled page for a staff user who may not use ``database`` (or any database)."""
    context = {
        **admin.site.each_context(request),
        "title": "No access" if database else "No client database",
        "database": database,
    }
    return render(request, "admin/vba_no_database.html", context, status=403)


def _switched_url(request, database):
    """The screen of ``database`` matching the one the user was on: the same list, or its home."""
    home = reverse("admin:index", current_app=site_name(database))
    target = request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return home
    try:
        match = resolve(target.split("?", 1)[0])
    except Resolver404:
        return home
    if not match.namespace.startswith(SITE_PREFIX) or match.url_name in (None, "index"):
        return home
    # A record of one database is not the same record in another: go to its list instead.
    view = match.url_name
    if "object_id" in match.kwargs or view.endswith(("_history", "_delete", "_change")):
        view = view.rsplit("_", 1)[0] + "_changelist"
    try:
        return reverse(
            f"admin:{view}",
            kwargs={} if view.endswith("_changelist") else match.kwargs,
            current_app=site_name(database),
        )
    except NoReverseMatch:
        return home


def switch_database(request):
    """``GET /admin/vba-database/?database=other&next=...``: the same screen in another database."""
    database = request.GET.get("database", "")
    if database not in user_databases(request):
        return no_access_response(request, database or None)
    return HttpResponseRedirect(_switched_url(request, database))


switch_database_view = admin.site.admin_view(switch_database)
