"""The REST API's foundation: authentication, permissions, problem details, pagination,
the OpenAPI schema and its docs page."""

import base64
import json
import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.staticfiles import finders
from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.management import call_command
from django.urls import reverse
from rest_framework.exceptions import ErrorDetail
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory
from rest_framework.throttling import UserRateThrottle

from crm.rest.pagination import CursorPagination
from crm.rest.problems import PROBLEM_JSON, field_errors, problem_exception_handler
from customers import selectors
from customers.models import Customer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    "/api/clv-runs/",
    "/api/clv-runs/1/",
    "/api/segments/",
    "/api/segments/champions/customers/",
    "/api/customers/1/value/",
    "/api/schema/",
    "/api/no-such-thing/",
]
URN = "urn:rapport:problem:"


def assert_problem(response, status: int, kind: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM_JSON
    body = response.json()
    assert body["type"] == URN + kind
    assert body["status"] == status
    assert body["title"] and body["detail"]
    assert body["instance"] == response.wsgi_request.get_full_path()
    return body


def user_with(*perms: str):
    user = get_user_model().objects.create_user("dora", password="x" * 12)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


# --- authentication and permissions ------------------------------------------------------


@pytest.mark.parametrize("url", ENDPOINTS)
def test_it_answers_anonymous_api_requests_with_a_problem_not_a_login_redirect(client, url):
    response = client.get(url)
    body = assert_problem(response, 401, "not-authenticated")
    assert body["detail"] == "Authentication credentials were not provided."
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_it_sends_anonymous_visitors_of_the_api_docs_to_the_login_page(client):
    response = client.get(reverse("api:docs"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_refuses_reads_without_the_model_view_permission(client):
    client.force_login(user_with())
    body = assert_problem(client.get("/api/clv-runs/"), 403, "permission-denied")
    assert body["title"] == "Permission denied"


def test_it_checks_the_permission_of_the_model_each_endpoint_exposes(client):
    client.force_login(user_with("customers.view_clvrun"))
    assert client.get("/api/clv-runs/").status_code == 200
    assert_problem(client.get("/api/segments/"), 403, "permission-denied")
    assert_problem(client.get("/api/customers/1/value/"), 403, "permission-denied")


def test_it_checks_permissions_before_saying_what_exists(client):
    # a user who may not read values learns nothing about which customers exist
    client.force_login(user_with("customers.view_customer"))
    assert_problem(client.get("/api/customers/999999/value/"), 403, "permission-denied")


@pytest.mark.parametrize("persona", ["alice_client", "bob_client", "charlie_client"])
def test_it_lets_every_role_read_the_value_endpoints(persona, request):
    api = request.getfixturevalue(persona)
    for url in ["/api/clv-runs/", "/api/segments/", "/api/segments/lost/customers/"]:
        assert api.get(url).status_code == 200, url


def test_it_enforces_csrf_on_writes_with_a_session(alice):
    from django.test import Client

    api = Client(enforce_csrf_checks=True)
    api.force_login(alice)
    body = assert_problem(api.post("/api/clv-runs/", {}), 403, "permission-denied")
    assert "CSRF" in body["detail"]


# --- problem details ------------------------------------------------------------------


def test_it_answers_unknown_api_paths_with_a_not_found_problem(alice_client):
    for url in ["/api/", "/api/no-such-thing/", "/api/clv-runs", "/api/clv-runs/abc/"]:
        body = assert_problem(alice_client.get(url), 404, "not-found")
        assert "/api/docs/" in body["detail"]


def test_it_answers_an_unknown_object_with_a_not_found_problem(alice_client):
    body = assert_problem(alice_client.get("/api/clv-runs/999999/"), 404, "not-found")
    assert body["title"] == "Not found"


def test_it_answers_a_wrong_method_with_a_405_problem_and_allow(alice_client):
    response = alice_client.post("/api/clv-runs/", {}, content_type="application/json")
    body = assert_problem(response, 405, "method-not-allowed")
    assert body["detail"] == 'Method "POST" not allowed.'
    assert response["Allow"] == "GET, HEAD, OPTIONS"


def test_it_lists_each_invalid_parameter_as_a_field_error(alice_client):
    response = alice_client.get("/api/clv-runs/?status=done&time_unit=month")
    body = assert_problem(response, 400, "validation-error")
    assert body["title"] == "Invalid request"
    assert {e["field"] for e in body["errors"]} == {"status", "time_unit"}
    assert all(e["code"] == "invalid_choice" and e["message"] for e in body["errors"])
    assert body["detail"] == "The request has 2 errors; each is listed in errors."


@pytest.mark.parametrize(
    ("query", "field"), [("page_size=0", "page_size"), ("page_size=x", "page_size")]
)
def test_it_rejects_a_bad_page_size_as_a_field_error(alice_client, query, field):
    body = assert_problem(alice_client.get(f"/api/clv-runs/?{query}"), 400, "validation-error")
    assert [e["field"] for e in body["errors"]] == [field]
    assert body["detail"] == body["errors"][0]["message"]


def _token(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "%F0%9F%98%80",
        _token({}),
        _token({"k": []}),  # wrong number of keys
        _token({"k": ["noon", 1]}),  # not a time
        _token({"k": ["2026-01-01T00:00:00Z", "one"]}),  # not an id
        _token({"k": [{"a": 1}, [2]]}),
    ],
)
def test_it_rejects_a_forged_cursor_as_a_field_error(alice_client, cursor):
    body = assert_problem(
        alice_client.get(f"/api/clv-runs/?cursor={cursor}"), 400, "validation-error"
    )
    assert [e["field"] for e in body["errors"]] == ["cursor"]


def test_it_throttles_with_a_429_problem_and_retry_after(alice, alice_client, monkeypatch):
    monkeypatch.setitem(UserRateThrottle.THROTTLE_RATES, "user", "2/minute")
    key = f"throttle_user_{alice.pk}"
    cache.delete(key)
    try:
        assert alice_client.get("/api/clv-runs/").status_code == 200
        assert alice_client.get("/api/clv-runs/").status_code == 200
        response = alice_client.get("/api/clv-runs/")
        body = assert_problem(response, 429, "throttled")
        assert body["title"] == "Too many requests"
        assert 0 < int(response["Retry-After"]) <= 60
    finally:
        cache.delete(key)


def test_it_answers_an_unexpected_error_with_a_500_problem(alice_client, monkeypatch):
    def broken():
        raise RuntimeError("database on fire")

    monkeypatch.setattr(selectors, "clv_run_queryset", broken)
    alice_client.raise_request_exception = False
    body = assert_problem(alice_client.get("/api/clv-runs/"), 500, "server-error")
    assert "fire" not in body["detail"]  # internals stay in the log


def test_it_keeps_the_html_error_page_outside_the_api(alice_client, monkeypatch):
    def broken():
        raise RuntimeError("database on fire")

    monkeypatch.setattr(selectors, "dashboard_figures", broken)
    alice_client.raise_request_exception = False
    response = alice_client.get(reverse("dashboard"))
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


def test_it_flattens_nested_errors_to_dotted_fields():
    detail = {
        "email": [ErrorDetail("Enter a valid email address.", code="invalid")],
        "lines": [{}, {"amount": [ErrorDetail("Must be positive.", code="min_value")]}],
        "non_field_errors": [ErrorDetail("Order is closed.", code="closed")],
    }
    assert list(field_errors(detail)) == [
        {"field": "email", "message": "Enter a valid email address.", "code": "invalid"},
        {"field": "lines.1.amount", "message": "Must be positive.", "code": "min_value"},
        {"field": None, "message": "Order is closed.", "code": "closed"},
    ]


def test_it_reports_a_services_django_validation_error_as_field_errors():
    request = Request(APIRequestFactory().post("/api/things/"))
    error = DjangoValidationError({"role": "Unknown role 'boss'.", "__all__": "Nope."})
    response = problem_exception_handler(error, {"request": request, "view": None})
    assert response.status_code == 400
    assert response.data["type"] == URN + "validation-error"
    assert response.data["errors"] == [
        {"field": "role", "message": "Unknown role 'boss'.", "code": "invalid"},
        {"field": None, "message": "Nope.", "code": "invalid"},
    ]
    assert request.accepted_media_type == PROBLEM_JSON


def test_it_renders_errors_of_the_yaml_schema_view_as_problem_json(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi")
    body = assert_problem(response, 401, "not-authenticated")
    assert body["status"] == 401


# --- cursor pagination ------------------------------------------------------------------


class _View:
    cursor_ordering = ("name", "id")


def _page(url: str, queryset) -> dict:
    paginator = CursorPagination()
    request = Request(APIRequestFactory().get(url))
    rows = paginator.paginate_queryset(queryset, request, view=_View())
    return paginator.page_data([r.pk for r in rows])


def test_it_pages_forward_and_back_over_ties_visiting_every_row_once():
    # three names for 20 customers: ties across page boundaries on the first field
    for i in range(20):
        CustomerFactory(name=["Anna", "Borys", "Cezary"][i % 3])
    queryset = Customer.objects.all()
    expected = list(queryset.order_by("name", "id").values_list("pk", flat=True))

    seen, url, pages = [], "http://testserver/x/?page_size=3", []
    while url:
        page = _page(url, queryset)
        pages.append(page)
        seen += page["results"]
        url = page["next"]
    assert seen == expected
    assert len(pages) == 7 and pages[0]["previous"] is None

    back, url = list(pages[-1]["results"]), pages[-1]["previous"]
    while url:
        page = _page(url, queryset)
        back = page["results"] + back
        url = page["previous"]
    assert back == expected


def test_it_caps_the_page_size_at_the_maximum():
    CustomerFactory.create_batch(3)
    paginator = CursorPagination()
    request = Request(APIRequestFactory().get("/x/?page_size=100000"))
    paginator.paginate_queryset(Customer.objects.all(), request, view=_View())
    assert paginator.page_size == CursorPagination.max_page_size


# --- schema and docs --------------------------------------------------------------------


def test_it_generates_a_valid_openapi_schema_without_warnings(tmp_path):
    out = tmp_path / "schema.json"
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--format",
        "openapi-json",
        "--file",
        str(out),
        stderr=StringIO(),
    )
    schema = json.loads(out.read_text())
    assert schema["openapi"].startswith("3.")
    assert {
        "/api/clv-runs/",
        "/api/clv-runs/{id}/",
        "/api/segments/",
        "/api/segments/{slug}/customers/",
        "/api/customers/{id}/value/",
    } <= set(schema["paths"])


def test_it_documents_problem_details_for_every_operation(alice_client):
    response = alice_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert {"Problem", "ValidationProblem"} <= set(schema["components"]["schemas"])
    for path, item in schema["paths"].items():
        for operation in item.values():
            responses = operation["responses"]
            assert PROBLEM_JSON in responses["403"]["content"], path
            assert "429" in responses, path
            if "{" in path:
                assert "404" in responses, path
    runs = schema["paths"]["/api/clv-runs/"]["get"]["responses"]
    assert runs["400"]["content"][PROBLEM_JSON]["schema"]["$ref"].endswith("ValidationProblem")


def test_it_serves_the_docs_page_without_inline_script_or_style(alice_client):
    response = alice_client.get(reverse("api:docs"))
    assert response.status_code == 200
    html = response.content.decode()
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "<style" not in html and "style=" not in html
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert len(scripts) == 3
    assert all('src="' in attrs and not body.strip() for attrs, body in scripts)
    assert "http://" not in html and "https://" not in html  # nothing from a CDN

    init = re.search(r'<script src="([^"]*script=[^"]*)"', html).group(1)
    script = alice_client.get(init.replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in script.content.decode()
    assert '"/api/schema/"' in script.content.decode()


def test_it_ships_swagger_ui_as_static_files():
    for name in ["swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"]:
        assert finders.find(f"drf_spectacular_sidecar/swagger-ui-dist/{name}"), name
    assert finders.find("css/api-docs.css")
