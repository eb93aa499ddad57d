import pytest
from django.contrib.auth.models import Group

from crm import roles


@pytest.mark.django_db
def test_it_creates_the_three_role_groups_after_migrate():
    assert set(Group.objects.values_list("name", flat=True)) >= {"admin", "retention", "support"}


@pytest.mark.django_db
def test_it_gives_support_interactions_but_not_customer_deletion(charlie):
    assert charlie.has_perm("customers.add_interaction")
    assert charlie.has_perm("customers.change_followup")
    assert charlie.has_perm("customers.view_order")
    assert not charlie.has_perm("customers.add_order")
    assert not charlie.has_perm("customers.delete_customer")
    assert not charlie.has_perm("auth.change_user")


@pytest.mark.django_db
def test_it_keeps_erasure_from_the_retention_team(bob):
    assert bob.has_perm("customers.add_order")
    assert bob.has_perm("customers.change_customer")
    assert not bob.has_perm("customers.delete_customer")
    assert not bob.has_perm("auth.change_user")


@pytest.mark.django_db
def test_it_gives_admins_everything_and_the_admin_site(alice):
    assert alice.has_perm("auth.change_user")
    assert alice.has_perm("customers.delete_customer")
    assert alice.is_staff


def test_it_applies_negative_patterns_after_positive_ones():
    patterns = ["customers.*", "!customers.delete_customer"]
    assert roles._permission_matches(patterns, "customers.add_order")
    assert not roles._permission_matches(patterns, "customers.delete_customer")
    assert not roles._permission_matches(patterns, "auth.add_user")


@pytest.mark.django_db
def test_it_resyncs_roles_idempotently(charlie):
    before = set(Group.objects.get(name="support").permissions.values_list("codename", flat=True))
    roles.roles_sync()
    roles.roles_sync()
    after = set(Group.objects.get(name="support").permissions.values_list("codename", flat=True))
    assert before == after
    assert "add_interaction" in after
