from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from decimal import Decimal
from io import StringIO

import numpy as np
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Count, F, Max, Min

from crm import roles
from customers import demo
from customers.models import (
    ConsentEvent,
    Customer,
    FollowUp,
    Interaction,
    Order,
    Return,
    Tag,
)
from tests.factories import CustomerFactory, OrderFactory

END = dt.date(2026, 6, 15)
CYRILLIC = re.compile("[А-Яа-яІіЇїЄєҐґ]")


@pytest.fixture(autouse=True)
def fast_passwords(settings) -> None:
    # user_create hashes a throwaway password for each demo user: keep that cheap here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed(customers: int = 300, **options: object) -> demo.SeedReport:
    options = {"seed": 7, "end_date": END, "block_size": 100, **options}
    return demo.seed_demo(customers=customers, **options)  # type: ignore[arg-type]


def history_digest() -> str:
    """The seeded rows with primary keys made relative, so the digest does not depend on
    ids a PostgreSQL sequence already handed out."""
    base = {
        model: model.objects.aggregate(m=Min("id"))["m"] or 0
        for model in (Customer, Order, Interaction)
    }
    h = hashlib.sha256()
    for row in Customer.objects.order_by("id").values_list(
        "id", "name", "email", "phone", "country", "acquisition_channel", "acquired_at",
        "loyalty_member_since", "created_at", "updated_at",
    ):  # fmt: skip
        email = re.sub(r"\d+@", "@", row[2]) if row[2] else None
        h.update(repr((row[0] - base[Customer], row[1], email, *row[3:])).encode())
    for row in Order.objects.order_by("id").values_list(
        "id", "customer_id", "ordered_at", "amount", "currency", "base_amount", "status",
        "sales_channel", "product_line", "guarantee_days", "updated_at",
    ):  # fmt: skip
        h.update(repr((row[0] - base[Order], row[1] - base[Customer], *row[2:])).encode())
    for row in Return.objects.order_by("id").values_list(
        "order_id", "returned_at", "amount", "reason"
    ):
        h.update(repr((row[0] - base[Order], *row[1:])).encode())
    for row in Interaction.objects.order_by("id").values_list(
        "customer_id", "staff__username", "kind", "occurred_at", "summary", "outcome"
    ):
        h.update(repr((row[0] - base[Customer], *row[1:])).encode())
    for row in FollowUp.objects.order_by("id").values_list(
        "interaction_id", "due_on", "priority", "done_at", "reason"
    ):
        h.update(repr((row[0] - base[Interaction], *row[1:])).encode())
    tags = Customer.tags.through.objects.order_by("id").values_list("customer_id", "tag__name")
    h.update(repr([(c - base[Customer], t) for c, t in tags]).encode())
    events = ConsentEvent.objects.order_by("id").values_list(
        "customer_id", "purpose", "granted", "source", "occurred_at"
    )
    h.update(repr([(c - base[Customer], *rest) for c, *rest in events]).encode())
    return h.hexdigest()


# --- The generator, without a database ------------------------------------------------


def test_it_generates_the_same_arrays_for_the_same_seed() -> None:
    config = demo.DemoConfig(customers=250, seed=3, end_date=END, block_size=100)
    one, two = demo.Generator(config), demo.Generator(config)
    for b in range(one.blocks):
        left, right = one.block(b).tables, two.block(b).tables
        assert left.keys() == right.keys()
        for table, columns in left.items():
            for name, values in columns.items():
                assert np.array_equal(np.asarray(values), np.asarray(right[table][name])), name

    other = demo.Generator(demo.DemoConfig(customers=250, seed=4, end_date=END, block_size=100))
    assert other.block(0).tables["customer"]["name"] != one.block(0).tables["customer"]["name"]


def test_a_block_does_not_depend_on_how_many_blocks_follow() -> None:
    small = demo.Generator(demo.DemoConfig(customers=200, seed=3, end_date=END, block_size=100))
    large = demo.Generator(demo.DemoConfig(customers=900, seed=3, end_date=END, block_size=100))
    a, b = small.block(1).tables["order"], large.block(1).tables["order"]
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_bgnbd_repeats_match_the_expected_count() -> None:
    # Fixed lambda and p: E[min(K, J)] = sum_k P(K >= k) (1 - p)^(k - 1), K ~ Poisson(lam T).
    lam, p, age, n = 0.05, 0.1, 200.0, 200_000
    rng = np.random.default_rng(1)
    who, t = demo.bgnbd_repeats(rng, np.full(n, lam), np.full(n, p), np.full(n, age))
    mu = lam * age
    pmf = [math.exp(-mu + k * math.log(mu) - math.lgamma(k + 1)) for k in range(200)]
    tail = 1 - np.cumsum(pmf)  # P(K > k) = P(K >= k + 1)
    expected = sum(tail[k - 1] * (1 - p) ** (k - 1) for k in range(1, 150))
    assert len(who) / n == pytest.approx(expected, rel=0.01)
    assert (t > 0).all() and (t < age).all()
    assert (np.diff(who) >= 0).all()
    same = np.diff(who) == 0
    assert (np.diff(t)[same] >= 0).all()  # in time order within a customer


def test_it_matches_the_targets_at_a_realistic_size() -> None:
    generator = demo.Generator(demo.DemoConfig(customers=20_000, seed=42, end_date=END))
    repeats, orders = [], 0
    for b in range(generator.blocks):
        block = generator.block(b)
        repeats.append(block.tables["customer"]["_repeats"])
        orders += block.rows("order")
    repeats = np.concatenate(repeats)
    assert 8 <= orders / 20_000 <= 12
    assert 0.35 <= (repeats == 0).mean() <= 0.45


def test_its_own_copies_of_the_model_vocabularies_match_the_models() -> None:
    # customers/demo/params.py spells these out so that generating imports no ORM.
    from customers.demo import params

    assert set(params.KINDS) <= set(Interaction.Kind.values)
    assert set(params.OUTCOMES) <= set(Interaction.Outcome.values)
    assert set(params.DIRECTIONS) <= set(Interaction.Direction.values)
    priorities = (params.PRIORITY_URGENT, params.PRIORITY_HIGH, params.PRIORITY_NORMAL)
    assert priorities == (
        FollowUp.Priority.URGENT,
        FollowUp.Priority.HIGH,
        FollowUp.Priority.NORMAL,
    )
    own_roles = (params.ROLE_ADMIN, params.ROLE_RETENTION, params.ROLE_SUPPORT)
    assert own_roles == (roles.ADMIN, roles.RETENTION, roles.SUPPORT)


def test_it_spells_ukrainian_and_polish_names_in_ascii_for_email() -> None:
    assert demo._ascii("Шевченко") == "shevchenko"
    assert demo._ascii("Їжакевич") == "izhakevych"
    assert demo._ascii("Wiśniewska-Łąka") == "wisniewska-laka"


# --- Writing ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_writes_a_consistent_history() -> None:
    report = seed()

    assert Customer.objects.count() == report.created["customer"] == 300
    assert Order.objects.count() == report.created["order"]
    assert not Customer.objects.annotate(n=Count("orders")).filter(n=0).exists()
    assert not Order.objects.exclude(customer__in=Customer.objects.all()).exists()
    assert not Return.objects.exclude(order__in=Order.objects.all()).exists()
    assert not Order.objects.filter(amount__lt=0).exists()
    assert not Order.objects.filter(base_amount__lt=0).exists()
    assert set(Order.objects.values_list("status", flat=True)) <= set(Order.Status.values)
    assert Order.objects.filter(status="paid").count() > 0.9 * Order.objects.count()

    end = dt.datetime.combine(END, dt.time(), dt.UTC)  # TIME_ZONE is UTC in the tests
    assert Order.objects.aggregate(m=Max("ordered_at"))["m"] < end
    assert Order.objects.aggregate(m=Min("ordered_at"))["m"] >= end - dt.timedelta(days=3 * 366)
    first = Customer.objects.annotate(first=Min("orders__ordered_at"))
    assert all(c.acquired_at == c.first.date() for c in first)

    # one-off buyers: a plausible share at this size
    one_off = Customer.objects.annotate(n=Count("orders")).filter(n=1).count() / 300
    assert 0.2 <= one_off <= 0.6


@pytest.mark.django_db
def test_returns_stay_within_the_guarantee_and_the_order_amount() -> None:
    seed()
    returns = Return.objects.select_related("order")
    assert returns.count() > 0
    for r in returns:
        assert r.order.status == Order.Status.PAID
        assert Decimal("0") < r.amount <= r.order.amount
        assert r.order.ordered_at < r.returned_at
        assert r.returned_at <= r.order.ordered_at + dt.timedelta(days=r.order.guarantee_days)
    assert Return.objects.filter(reason="").count() == 0


@pytest.mark.django_db
def test_amounts_are_in_the_market_currency_and_converted_to_the_base() -> None:
    seed()
    rates, _ = demo.fx_rates()
    for order in Order.objects.all()[:2000]:
        if order.currency == settings.DEFAULT_CURRENCY:
            assert order.base_amount == order.amount
        else:
            expected = order.amount * Decimal(str(rates[order.currency]))
            assert abs(order.base_amount - expected) <= Decimal("0.01")
    by_country = dict(Order.objects.values_list("customer__country", "currency").distinct())
    assert by_country["PL"] == "PLN"
    assert by_country["UA"] == "UAH"
    # hryvnia amounts are hryvnia-sized
    uah = Order.objects.filter(currency="UAH").aggregate(m=Max("amount"))["m"]
    pln = Order.objects.filter(currency="PLN").aggregate(m=Max("amount"))["m"]
    assert uah > 3 * pln


@pytest.mark.django_db
def test_customers_look_like_people_from_their_market() -> None:
    seed()
    ua = Customer.objects.filter(country="UA")
    assert ua.exists()
    assert all(CYRILLIC.search(c.name) for c in ua)
    assert set(ua.values_list("locale", flat=True)) == {"uk"}
    assert set(Customer.objects.filter(country="PL").values_list("locale", flat=True)) == {"pl"}
    assert Customer.objects.filter(country="PL").count() > 100

    emails = list(Customer.objects.exclude(email=None).values_list("email", flat=True))
    assert 0.9 * 300 <= len(emails) < 300
    assert len({e.lower() for e in emails}) == len(emails)
    assert all(re.fullmatch(r"[a-z0-9._-]+\d+@example\.(com|net|org)", e) for e in emails)
    assert set(Customer.objects.values_list("source", flat=True)) == {demo.DEMO_SOURCE}


@pytest.mark.django_db
def test_tags_loyalty_and_consent_make_sense() -> None:
    seed()
    per_customer = Customer.objects.annotate(n=Count("tags")).values_list("n", flat=True)
    assert max(per_customer) <= 3
    assert set(Tag.objects.values_list("name", flat=True)) >= set(demo.TAGS)

    members = Customer.objects.exclude(loyalty_member_since=None).annotate(n=Count("orders"))
    assert members.exists()
    assert all(m.n > 1 and m.loyalty_member_since >= m.acquired_at for m in members)

    assert ConsentEvent.objects.filter(purpose="email_marketing", granted=True).count() > 150
    assert ConsentEvent.objects.filter(granted=False, source="unsubscribe").exists()
    assert not ConsentEvent.objects.filter(occurred_at__lt=F("customer__created_at")).exists()
    assert not ConsentEvent.objects.filter(customer__email=None).exists()


@pytest.mark.django_db
def test_staff_talk_to_customers_and_keep_a_follow_up_queue() -> None:
    seed(customers=1000)
    staff = set(Interaction.objects.values_list("staff__username", flat=True))
    assert staff <= {"admin", "marta", "oleh", "kasia"}
    assert {"marta", "oleh", "kasia"} <= staff
    with_talks = Customer.objects.filter(interactions__isnull=False).distinct().count()
    assert 0.05 * 1000 <= with_talks <= 0.25 * 1000
    assert not Interaction.objects.filter(occurred_at__lt=F("customer__created_at")).exists()

    follow_ups = FollowUp.objects.all()
    assert (
        follow_ups.filter(done_at__isnull=False).count() > follow_ups.filter(done_at=None).count()
    )
    assert follow_ups.filter(done_at=None).exists()
    assert not follow_ups.filter(done_at__isnull=False, done_by=None).exists()
    assert not follow_ups.filter(assigned_to=None).exists()


@pytest.mark.django_db
def test_it_creates_the_demo_staff_once_with_roles_and_no_usable_password() -> None:
    User = get_user_model()
    seed(customers=20)
    seed(customers=20)
    expected = {"admin": roles.ADMIN, "marta": roles.RETENTION, "oleh": roles.SUPPORT}
    expected["kasia"] = roles.SUPPORT
    for username, role in expected.items():
        user = User.objects.get(username=username)
        assert list(user.groups.values_list("name", flat=True)) == [role]
        assert not user.has_usable_password()
    assert User.objects.get(username="marta").get_full_name() == "Marta Nowak"
    assert User.objects.get(username="kasia").last_name == "Wiśniewska"
    assert User.objects.get(username="admin").is_staff


@pytest.mark.django_db
def test_it_leaves_an_existing_staff_user_alone(alice) -> None:
    User = get_user_model()
    User.objects.create_user(username="oleh", password="keep-this-one-9")
    seed(customers=20)
    oleh = User.objects.get(username="oleh")
    assert oleh.check_password("keep-this-one-9")


@pytest.mark.django_db
def test_the_same_seed_writes_the_same_history() -> None:
    seed(chunk_size=100)
    first = history_digest()
    Customer.objects.all().delete()
    seed(chunk_size=300)  # other transaction boundaries, same data
    assert history_digest() == first


@pytest.mark.django_db
def test_a_second_run_adds_customers_after_the_first() -> None:
    seed(customers=120)
    seed(customers=120)
    assert Customer.objects.count() == 240
    emails = Customer.objects.exclude(email=None).values_list("email", flat=True)
    assert len(set(emails)) == len(emails)
    # the sequences moved past the explicit ids, so ordinary inserts still work
    customer = CustomerFactory()
    order = OrderFactory(customer=customer)
    assert customer.pk > Customer.objects.exclude(pk=customer.pk).aggregate(m=Max("id"))["m"]
    assert order.pk > Order.objects.exclude(pk=order.pk).aggregate(m=Max("id"))["m"]


@pytest.mark.django_db
def test_a_failing_chunk_leaves_nothing_of_itself(monkeypatch) -> None:
    write_table = demo._Database._write_table
    calls = {"return": 0}

    def failing(self, cursor, key, columns, payload) -> None:
        if key == "return":
            calls["return"] += 1
            if calls["return"] == 2:  # the second chunk, after its customers and orders
                raise RuntimeError("disk full")
        write_table(self, cursor, key, columns, payload)

    monkeypatch.setattr(demo._Database, "_write_table", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        seed(customers=300, chunk_size=100)
    assert Customer.objects.count() == 100
    assert not Order.objects.exclude(customer__in=Customer.objects.all()).exists()


@pytest.mark.django_db
def test_the_command_seeds_and_reports() -> None:
    out = StringIO()
    call_command("seed_demo", "--customers", "40", "--end-date", "2025-01-31", stdout=out)
    assert "Seeded 40 customers" in out.getvalue()
    assert "s," in out.getvalue()
    assert Customer.objects.count() == 40
    end = dt.datetime(2025, 1, 31, tzinfo=dt.UTC)
    assert Order.objects.aggregate(m=Max("ordered_at"))["m"] < end


@pytest.mark.django_db
def test_if_empty_does_nothing_when_customers_exist() -> None:
    CustomerFactory()
    out = StringIO()
    call_command("seed_demo", "--if-empty", "--customers", "40", stdout=out)
    assert "nothing seeded" in out.getvalue()
    assert Customer.objects.count() == 1
    assert not get_user_model().objects.filter(username="marta").exists()


@pytest.mark.django_db
def test_if_empty_seeds_an_empty_database() -> None:
    call_command("seed_demo", "--if-empty", "--customers", "30", stdout=StringIO())
    assert Customer.objects.count() == 30


@pytest.mark.django_db
def test_the_reference_check_finds_a_dangling_row() -> None:
    # Stands in for the foreign-key triggers when PostgreSQL loads with them off.
    from django.db import connection

    order = OrderFactory()
    database = demo._Database()
    last = database.last_ids()
    with connection.cursor() as cursor:
        database._check_references(cursor, last, last)  # nothing new: nothing to check
        before = dict(last, order=order.pk - 1)
        database._check_references(cursor, before, last)  # the factory's order is fine
        Order.objects.filter(pk=order.pk).update(customer_id=10**9)  # FK checked at commit
        with pytest.raises(RuntimeError, match=r"dangling Order\.customer"):
            database._check_references(cursor, before, last)
        Order.objects.filter(pk=order.pk).update(customer_id=order.customer_id)


@pytest.mark.django_db(transaction=True)
def test_parallel_writers_write_the_same_history_as_one(require_postgres) -> None:
    from django.db import transaction

    with transaction.atomic():  # inside a transaction it writes on this connection only
        seed(chunk_size=100)
    one_writer = history_digest()
    Customer.objects.all().delete()

    seed(chunk_size=100)  # three chunks, two connections
    assert history_digest() == one_writer
    assert not Order.objects.exclude(customer__in=Customer.objects.all()).exists()
    assert not FollowUp.objects.exclude(interaction__in=Interaction.objects.all()).exists()
    customer = CustomerFactory()  # the sequences ended after the last chunk
    assert customer.pk > Customer.objects.exclude(pk=customer.pk).aggregate(m=Max("id"))["m"]


def test_it_writes_every_column_of_the_tables_it_fills() -> None:
    # COPY leaves out nothing silently: a new model field must be added to demo._columns.
    config = demo.DemoConfig(customers=50, seed=1, end_date=END, block_size=50)
    block = demo.Generator(config).block(0)
    ids = {key: np.arange(1, block.rows(key) + 1) for key in demo.TABLES}
    ctx = {"staff": np.arange(1, 5), "tags": np.arange(1, len(demo.TAGS) + 1)}
    for key, model in demo.TABLES.items():
        written = {name for name, _, _ in demo._columns(key, block.tables[key], ids, ctx)}
        assert written == {f.name for f in model._meta.concrete_fields}, model.__name__
