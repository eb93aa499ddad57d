"""The interactive API docs (Swagger UI) under the site's strict Content-Security-Policy."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import log_in, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Chromium logs CSP violations to the console (the page fixture fails on those); this
# also records the violation events themselves, which name the directive.
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


def test_it_renders_the_api_docs_and_runs_a_request_with_the_session(page, bob):
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    log_in(page, "bob")
    page.goto("/api/docs/")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Rapport API")
    operation = page.locator("#operations-Customer_value-segments_list")
    expect(operation).to_be_visible()
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    expect(page.locator(".swagger-ui section.models")).to_contain_text("Problem")

    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    live = operation.locator(".live-responses-table tr.response .response-col_status")
    expect(live).to_have_text("200")
    expect(operation.locator(".live-responses-table")).to_contain_text('"results"')
    screenshot(page, "api-docs")

    assert page.evaluate("window.__cspViolations") == []
