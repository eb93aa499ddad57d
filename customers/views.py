"""Customer pages and the follow-up queue: thin doors onto selectors and services."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from campaigns import selectors as campaign_selectors
from customers import selectors, services
from customers.forms import (
    ConsentForm,
    CustomerForm,
    CustomerSearchForm,
    FollowUpDoneForm,
    InteractionForm,
)
from customers.models import ConsentEvent, Customer, FollowUp, Segment

PAGE_SIZE = 50


@permission_required("customers.view_customer", raise_exception=True)
def customer_list(request: HttpRequest) -> HttpResponse:
    form = CustomerSearchForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    customers = selectors.customer_list(
        query=filters.get("q", ""), channel=filters.get("channel", ""), tag=filters.get("tag", "")
    ).prefetch_related("tags")
    page = Paginator(customers, PAGE_SIZE).get_page(request.GET.get("page"))
    query_string = request.GET.copy()
    query_string.pop("page", None)
    return render(
        request,
        "customers/list.html",
        {
            "form": form,
            "page": page,
            "tags": selectors.tag_list()[:200],
            "query_string": query_string.urlencode(),
        },
    )


def _detail_context(request: HttpRequest, customer: Customer, **forms: object) -> dict[str, object]:
    return {
        "customer": customer,
        "summary": selectors.customer_summary(customer=customer),
        "consent": selectors.customer_consent_state(customer=customer),
        "orders": selectors.customer_orders(customer=customer)[:100],
        "timeline": selectors.customer_timeline(customer=customer)[:100],
        "open_follow_ups": selectors.customer_open_follow_ups(customer=customer),
        "value": selectors.customer_value_current(customer_id=customer.pk),
        "segment_history": selectors.customer_segment_history(customer_id=customer.pk),
        "messages_sent": campaign_selectors.customer_messages(customer=customer, limit=15),
        "interaction_form": forms.get("interaction_form") or InteractionForm(),
        "consent_form": forms.get("consent_form") or ConsentForm(),
        "can_log": request.user.has_perm("customers.add_interaction"),
        "can_consent": request.user.has_perm("customers.add_consentevent"),
        "today": timezone.localdate(),
        "segment_labels": dict(Segment.choices),
    }


@permission_required("customers.view_customer", raise_exception=True)
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer.objects.prefetch_related("tags"), pk=pk)
    return render(request, "customers/detail.html", _detail_context(request, customer))


def _customer_form_page(request: HttpRequest, customer: Customer) -> HttpResponse:
    form = CustomerForm(request.POST or None, instance=customer)
    if request.method == "POST":
        if form.is_valid():
            customer = services.customer_save(customer=form.instance, tag_names=form.tag_names())
            messages.success(request, "Customer saved.")
            return redirect(customer)
        messages.error(request, "The customer was not saved: correct the marked fields.")
    status = 400 if form.errors else 200
    return render(
        request, "customers/form.html", {"form": form, "customer": customer}, status=status
    )


@permission_required("customers.add_customer", raise_exception=True)
def customer_create(request: HttpRequest) -> HttpResponse:
    return _customer_form_page(request, Customer())


@permission_required("customers.change_customer", raise_exception=True)
def customer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _customer_form_page(request, get_object_or_404(Customer, pk=pk))


@require_POST
@permission_required("customers.add_interaction", raise_exception=True)
def interaction_create(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer, pk=pk)
    form = InteractionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The interaction was not saved: correct the marked fields.")
        context = _detail_context(request, customer, interaction_form=form)
        return render(request, "customers/detail.html", context, status=400)
    services.interaction_log(customer=customer, staff=request.user, **form.cleaned_data)
    messages.success(request, "Interaction logged.")
    return redirect(f"{customer.get_absolute_url()}#timeline")


@require_POST
@permission_required("customers.add_consentevent", raise_exception=True)
def consent_create(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer, pk=pk)
    form = ConsentForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Consent was not recorded: correct the marked fields.")
        context = _detail_context(request, customer, consent_form=form)
        return render(request, "customers/detail.html", context, status=400)
    services.consent_record(
        customer=customer,
        source=ConsentEvent.Source.STAFF,
        recorded_by=request.user,
        **form.cleaned_data,
    )
    messages.success(request, "Consent recorded.")
    return redirect(f"{customer.get_absolute_url()}#consent")


@permission_required("customers.view_followup", raise_exception=True)
def followup_queue(request: HttpRequest) -> HttpResponse:
    mine = request.GET.get("mine") == "1"
    assigned = request.user.pk if mine else None
    queue = selectors.followup_queue(assigned_to_id=assigned)
    page = Paginator(queue, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "customers/followups.html",
        {
            "page": page,
            "mine": mine,
            "counts": selectors.followup_counts(assigned_to_id=assigned),
            "today": timezone.localdate(),
            "can_close": request.user.has_perm("customers.change_followup"),
        },
    )


@require_POST
@permission_required("customers.change_followup", raise_exception=True)
def followup_done(request: HttpRequest, pk: int) -> HttpResponse:
    follow_up = get_object_or_404(FollowUp, pk=pk)
    form = FollowUpDoneForm(request.POST)
    resolution = form.cleaned_data["resolution"] if form.is_valid() else ""
    if services.followup_complete(
        follow_up_id=follow_up.pk, user=request.user, resolution=resolution
    ):
        messages.success(request, f"Follow-up with {follow_up.customer} marked done.")
    else:
        messages.info(request, "That follow-up was already done.")
    next_url = request.POST.get("next", "")
    if next_url == "customer":
        return redirect(follow_up.customer.get_absolute_url())
    return redirect("customers:followups")
