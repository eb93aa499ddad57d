"""The REST API's URLs, mounted at /api/: the router, the OpenAPI schema and its docs.

Register an app's viewsets on ``router``; the shared machinery (problem details,
permissions, pagination) is in ``crm/rest/`` and configured in settings.REST_FRAMEWORK.

DRF views are exempt from LoginRequiredMiddleware (DRF sets ``login_required = False``),
so DRF's authentication and permissions guard them and an anonymous client gets a problem
JSON 403, never a redirect to the login page. The docs page is for people in a browser:
it sends them to the login page like every other page.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.contrib.auth.decorators import login_required
from django.urls import path, re_path
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from customers.api import ingest as ingest_api
from customers.api import views as customers_api

app_name = "api"

# SimpleRouter: no browsable root view (DefaultRouter's skips model permissions).
router = SimpleRouter()
router.register("clv-runs", customers_api.CLVRunViewSet, basename="clv-run")
router.register("segments", customers_api.SegmentViewSet, basename="segment")
router.register("customers", customers_api.CustomerViewSet, basename="customer")
router.register("customers", ingest_api.CustomerRecordViewSet, basename="customer-record")
router.register("orders", ingest_api.OrderViewSet, basename="order")
router.register("returns", ingest_api.ReturnViewSet, basename="return")
router.register("interactions", ingest_api.InteractionViewSet, basename="interaction")


class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI from the sidecar's static files, its settings in a separate script
    (?script): the CSP allows no inline script or style (templates/api/docs.html)."""

    template_name = "api/docs.html"
    title = "Rapport API"


@extend_schema(exclude=True)
class NotFoundView(APIView):
    """Any other path under /api/: a not-found problem for every method."""

    permission_classes = [IsAuthenticated]

    def http_method_not_allowed(self, request: Any, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotFound("No API endpoint at this path; the endpoints are listed at /api/docs/.")

    options = http_method_not_allowed


urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", login_required(DocsView.as_view(url_name="api:schema")), name="docs"),
    *router.urls,
    re_path(r"", NotFoundView.as_view(), name="not-found"),
]
