import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from tests.factories import FollowUpFactory, InteractionFactory, ReturnFactory

MODELS = list(apps.get_app_config("customers").get_models())


def test_it_registers_every_customer_model_in_the_admin():
    assert [m.__name__ for m in MODELS if m not in admin.site._registry] == []


@pytest.mark.django_db
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_it_opens_every_admin_list_and_change_page_for_an_administrator(alice_client, model):
    ReturnFactory()
    FollowUpFactory(interaction=InteractionFactory())
    opts = model._meta
    response = alice_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert response.status_code == 200
    obj = model.objects.first()
    if obj is not None:
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        assert alice_client.get(url).status_code == 200


@pytest.mark.django_db
def test_it_keeps_support_staff_out_of_the_django_admin(charlie_client):
    response = charlie_client.get(reverse("admin:customers_customer_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
