import pytest
from django.urls import reverse

from campaigns.models import Message
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_the_outbox_is_readable_but_not_editable_in_the_admin(alice_client):
    message = Message.objects.create(customer=CustomerFactory(), kind="survey", template="message")

    assert alice_client.get(reverse("admin:campaigns_message_changelist")).status_code == 200
    change = alice_client.get(reverse("admin:campaigns_message_change", args=[message.pk]))
    assert change.status_code == 200
    assert b'type="submit" value="Save"' not in change.content
    assert alice_client.get(reverse("admin:campaigns_message_add")).status_code == 403
