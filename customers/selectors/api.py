"""Reads for the ingest API's lists: customers and orders as integrations sync them."""

from __future__ import annotations

from django.db.models import QuerySet

from customers.models import Customer, Order


def customer_api_queryset() -> QuerySet[Customer]:
    return Customer.objects.prefetch_related("tags")


def order_api_queryset() -> QuerySet[Order]:
    return Order.objects.select_related("customer").only(
        *(f.name for f in Order._meta.concrete_fields), "customer__external_id"
    )
