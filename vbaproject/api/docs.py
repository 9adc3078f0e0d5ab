"""The OpenAPI document and Swagger UI, public: ``/vbasoftware/openapi.json``, ``/vbasoftware/docs/``.

The document itself is made by ``vbaproject.api.schema`` (this module is apart from it because
drf-spectacular's views import DRF's schema class, which lives there). It is built and rendered
once per process and media type, then served as those bytes: building it took 18 ms a request,
on a route that is public and unthrottled. A changed setting (tests) empties the cache.
"""

import threading

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpResponse
from django.urls import path
from drf_spectacular.renderers import OpenApiJsonRenderer, OpenApiJsonRenderer2
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SCHEMA_KWARGS, SpectacularJSONAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

_rendered = {}  # the renderer's media type → (body, headers)
_building = threading.Lock()


@receiver(setting_changed)
def _forget_the_document(**kwargs):
    _rendered.clear()


class OpenApiView(SpectacularJSONAPIView):
    """``GET /vbasoftware/openapi.json``: the document, as JSON, to anyone."""

    renderer_classes = [OpenApiJsonRenderer2, OpenApiJsonRenderer]
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    @extend_schema(**SCHEMA_KWARGS)  # as the method it replaces: not in the document itself
    def get(self, request, *args, **kwargs):
        renderer, _ = self.perform_content_negotiation(request)
        media_type = renderer.media_type  # not the Accept header's parameters: one entry per renderer
        cached = _rendered.get(media_type)
        if cached is None:
            with _building:
                cached = _rendered.get(media_type)
                if cached is None:
                    response = super().get(request, *args, **kwargs)
                    context = {"request": request, "response": response, "view": self}
                    body = renderer.render(response.data, media_type, context)
                    content_type = (
                        f"{media_type}; charset={renderer.charset}" if renderer.charset else media_type
                    )
                    headers = {
                        "Content-Type": content_type,
                        "Content-Disposition": response["Content-Disposition"],
                    }
                    cached = _rendered[media_type] = (body, headers)
        body, headers = cached
        return HttpResponse(body, headers=headers)


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
