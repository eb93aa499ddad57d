import pytest

from crm.db import unicode_like
from tests.factories import CustomerFactory


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("%żółć%", "Łukasz Żółć", True),
        ("%олена%", "Олена Коваленко", True),
        ("abc", "ABC", True),
        ("a_c", "abc", True),
        ("a\\_c", "abc", False),
        ("a\\_c", "a_c", True),
        ("100\\%", "100%", True),
        ("%x%", "abc", False),
    ],
)
def test_it_matches_like_patterns_ignoring_unicode_case(pattern, value, expected):
    assert unicode_like(pattern, value, "\\") is expected


def test_it_keeps_sql_null_semantics():
    assert unicode_like(None, "x") is None
    assert unicode_like("x", None) is None


@pytest.mark.django_db
def test_it_searches_polish_and_cyrillic_names_case_insensitively_on_every_database():
    CustomerFactory(name="Łukasz Żółć")
    CustomerFactory(name="Олена Коваленко")
    from customers.models import Customer

    assert Customer.objects.filter(name__icontains="ŻÓŁĆ").count() == 1
    assert Customer.objects.filter(name__icontains="олена").count() == 1


@pytest.mark.django_db
def test_it_treats_polish_tag_names_as_one_tag_whatever_their_case():
    from customers import services
    from customers.models import Tag

    first = services.tags_get_or_create(names=["Łowiectwo"])
    again = services.tags_get_or_create(names=["ŁOWIECTWO", "łowiectwo"])
    assert [t.pk for t in again] == [first[0].pk]
    assert Tag.objects.count() == 1
