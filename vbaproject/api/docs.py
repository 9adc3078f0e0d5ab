"""The OpenAPI document and Swagger UI, public: ``/vbasoftware/openapi.json``, ``/vbasoftware/docs/``.

The document itself is made by ``vbaproject.api.schema`` (this module is apart from it because
drf-spectacular's views import DRF's schema class, which lives there).
"""

from django.urls import path
from drf_spectacular.renderers import OpenApiJsonRenderer, OpenApiJsonRenderer2
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny


class OpenApiView(SpectacularJSONAPIView):
    """``GET /vbasoftware/openapi.json``: the document, as JSON, to anyone."""

    renderer_classes = [OpenApiJsonRenderer2, OpenApiJsonRenderer]
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []


class SwaggerView(SpectacularSwaggerView):
    """``GET /vbasoftware/docs/``: Swagger UI over the document, served from this host."""

    url_name = "vba-openapi"
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []


routes = [
    path("openapi.json", OpenApiView.as_view(), name="vba-openapi"),
    path("docs/", SwaggerView.as_view(), name="vba-docs"),
]
