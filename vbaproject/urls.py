"""URLs: the admin at /admin/, the VBAPI routes under /vbasoftware/."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("vbasoftware/", include("vbaproject.api_urls")),
]
