"""Campaign pages (arriving with the campaigns issue) and the public unsubscribe link."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from campaigns.services.outbox import customer_unsubscribe
from campaigns.tokens import ALL_PURPOSES, unsubscribe_read
from customers.models import ConsentPurpose, Customer


@permission_required("customers.view_customer", raise_exception=True)
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "campaigns/index.html")


def _masked(email: str) -> str:
    """a***@example.com: enough for people to recognise their address, no more."""
    local, _, domain = (email or "").partition("@")
    return f"{local[:1]}***@{domain}" if domain else ""


@login_not_required
@never_cache
# RFC 8058 one-click: the mail provider POSTs "List-Unsubscribe=One-Click" with no
# cookies or CSRF token. The signed token is the authorisation, and the only effect
# is to stop mail, so CSRF protection has nothing to protect here.
@csrf_exempt
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows what would happen and changes nothing (scanners open links); POST acts."""
    req = unsubscribe_read(token)
    customer = Customer.objects.filter(pk=req.customer_id).first() if req else None
    if req is None or customer is None:
        return render(request, "campaigns/unsubscribe_invalid.html", status=400)
    labels = dict(ConsentPurpose.choices)
    context = {
        "token": token,
        "email": _masked(customer.email or ""),
        "what": "all marketing email and surveys"
        if req.purpose == ALL_PURPOSES
        else labels[req.purpose].lower(),
        "all_token": None,
    }
    if request.method == "POST":
        scope = request.POST.get("scope")
        purpose = ALL_PURPOSES if scope == "all" else req.purpose
        if scope == "all":
            context["what"] = "all marketing email and surveys"
        customer_unsubscribe(customer_id=customer.pk, purpose=purpose)
        return render(request, "campaigns/unsubscribe_done.html", context)
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    context["offer_all"] = req.purpose != ALL_PURPOSES
    return render(request, "campaigns/unsubscribe.html", context)
