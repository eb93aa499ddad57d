"""Project-level pages: the dashboard, team administration and the health check."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from campaigns import selectors as campaign_selectors
from crm import selectors as crm_selectors
from crm import services as crm_services
from crm.forms import ApiKeyCreateForm, UserCreateForm
from crm.models import ApiKey
from customers import selectors as customer_selectors
from customers import services as customer_services


def dashboard(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "crm/dashboard.html",
        {
            "figures": customer_selectors.dashboard_figures(),
            "my_follow_ups": customer_selectors.followup_counts(assigned_to_id=request.user.pk),
            "contact_limit": (
                f"at most {settings.CONTACT_LIMIT_MESSAGES} marketing and survey emails"
                f" per customer in {settings.CONTACT_LIMIT_DAYS} days"
            ),
            "outbox": campaign_selectors.outbox_summary(days=7)
            if request.user.has_perm("campaigns.view_message")
            else None,
        },
    )


@permission_required("auth.change_user", raise_exception=True)
def team(request: HttpRequest) -> HttpResponse:
    created = None
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user, password = customer_services.user_create(**form.cleaned_data)
        # Shown once, never stored in clear: the admin passes it on and the user changes it.
        created = {"username": user.username, "password": password}
        messages.success(request, f"User {user.username} created.")
        form = UserCreateForm()
    users = get_user_model().objects.prefetch_related("groups").order_by("username")
    return render(request, "crm/team.html", {"form": form, "users": users, "created": created})


@permission_required("crm.view_apikey", raise_exception=True)
@never_cache  # the new key is on this page once
def api_keys(request: HttpRequest) -> HttpResponse:
    created = None
    form = ApiKeyCreateForm(request.POST or None)
    if request.method == "POST":
        if not request.user.has_perm("crm.add_apikey"):
            raise PermissionDenied
        if form.is_valid():
            api_key, created = crm_services.api_key_create(
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                created_by=request.user,
            )
            messages.success(request, f"API key {api_key.name} created.")
            form = ApiKeyCreateForm()
    keys = crm_selectors.api_key_list()
    return render(
        request, "crm/api_keys.html", {"form": form, "keys": keys, "created_key": created}
    )


@require_POST
@permission_required("crm.change_apikey", raise_exception=True)
def api_key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    api_key = get_object_or_404(ApiKey, pk=pk)
    crm_services.api_key_revoke(api_key=api_key)
    messages.success(request, f"API key {api_key.name} revoked; it no longer works.")
    return redirect("api-keys")


@login_not_required
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
