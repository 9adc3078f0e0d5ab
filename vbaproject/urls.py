"""URLs: the admin at /admin/ (a site per client database at /admin/<database>/), the VBAPI
routes under /vbasoftware/, the load balancer's /healthz and /readyz (``vbaproject.health``)."""

from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from django.views.defaults import page_not_found
from django.views.generic import RedirectView

from vbaproject import health, timezones
from vbaproject.admin import sites
from vbaproject.api.envelope import problem

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/vba-database/", sites.switch_database_view, name="vba_database"),
    path("admin/my-settings/", timezones.my_settings_view, name="vba_my_settings"),
    *sites.urls(),
    path("admin/", admin.site.urls),
    path("vbasoftware/", include("vbaproject.api.urls")),
]


def handler404(request, exception):
    """API clients get the envelope for an unknown route; people get Django's page."""
    if request.path.startswith("/vbasoftware/"):
        return JsonResponse(problem(404, "There is no such route.", request.path), status=404)
    return page_not_found(request, exception)
