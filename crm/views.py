"""Project-level pages: the dashboard, team administration and the health check."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required, permission_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from crm.forms import UserCreateForm
from customers import selectors as customer_selectors
from customers import services as customer_services


def dashboard(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "crm/dashboard.html",
        {
            "figures": customer_selectors.dashboard_figures(),
            "my_follow_ups": customer_selectors.followup_counts(assigned_to_id=request.user.pk),
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


@login_not_required
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
