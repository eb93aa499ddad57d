import datetime as dt
import io
import re
import zoneinfo
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from customers import imports
from customers.imports.customers import CustomerImporter
from customers.models import (
    AcquisitionChannel,
    ConsentEvent,
    ConsentPurpose,
    Customer,
    FollowUp,
    Interaction,
    Order,
    Return,
    Tag,
)
from tests.factories import (
    ConsentEventFactory,
    CustomerFactory,
    OrderFactory,
    ReturnFactory,
)

WARSAW = zoneinfo.ZoneInfo("Europe/Warsaw")
DOCS = Path(django_settings.BASE_DIR) / "docs" / "import.md"


@pytest.fixture(autouse=True)
def _money_settings(settings):
    settings.DEFAULT_CURRENCY = "PLN"
    settings.FX_RATES = {"EUR": "4.25", "USD": "3.95"}
    settings.TIME_ZONE = "Europe/Warsaw"


def run(kind, text, *, encoding="utf-8", **kwargs):
    return imports.import_csv(kind=kind, file=io.BytesIO(text.encode(encoding)), **kwargs)


def errors(result):
    return [(e.row, e.field, e.message) for e in result.errors]


def counts(result):
    return (result.created, result.updated, result.unchanged, result.failed)


CUSTOMERS = (
    "external_id,email,name,country,acquisition_channel,acquired_at,tags,"
    "email_marketing_consent,surveys_consent\n"
    "C1,lukasz@example.com,Łukasz Żółć,pl,Paid search,2023-05-14,running;VIP,yes,no\n"
    "C2,olena@example.com,Олена Коваленко,UA,referral,,,no,\n"
)


# --- customers ------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_imports_customers_with_tags_and_consent(alice):
    Tag.objects.create(name="Running")

    result = run("customers", CUSTOMERS, user=alice)

    assert counts(result) == (2, 0, 0, 0)
    lukasz = Customer.objects.get(source="rapport", external_id="C1")
    assert lukasz.email == "lukasz@example.com"
    assert lukasz.country == "PL"
    assert lukasz.acquisition_channel == "paid_search"
    assert lukasz.acquired_at == dt.date(2023, 5, 14)
    assert sorted(t.name for t in lukasz.tags.all()) == ["Running", "VIP"]  # matched, created
    assert Tag.objects.count() == 2
    events = list(lukasz.consent_events.values_list("purpose", "granted", "source", "recorded_by"))
    # "no" for someone never asked is already the state: no event
    assert events == [(ConsentPurpose.EMAIL_MARKETING, True, ConsentEvent.Source.IMPORT, alice.pk)]
    olena = Customer.objects.get(external_id="C2")
    assert olena.acquired_at is None
    assert not olena.tags.exists()
    assert not olena.consent_events.exists()


@pytest.mark.django_db
def test_it_creates_nothing_when_the_same_customer_file_is_imported_again():
    run("customers", CUSTOMERS)
    links = Customer.tags.through.objects.count()

    again = run("customers", CUSTOMERS)

    assert counts(again) == (0, 0, 2, 0)
    assert Customer.objects.count() == 2
    assert ConsentEvent.objects.count() == 1
    assert Customer.tags.through.objects.count() == links == 2


@pytest.mark.django_db
def test_it_updates_changed_fields_and_leaves_absent_columns_alone():
    customer = CustomerFactory(
        external_id="C1", name="Old name", phone="+48 1", email="old@example.com"
    )
    customer.tags.add(Tag.objects.create(name="vip"))

    result = run("customers", "external_id,email\nC1,new@example.com\n")

    assert counts(result) == (0, 1, 0, 0)
    customer.refresh_from_db()
    assert customer.email == "new@example.com"
    assert (customer.name, customer.phone) == ("Old name", "+48 1")
    assert [t.name for t in customer.tags.all()] == ["vip"]


@pytest.mark.django_db
def test_it_clears_a_field_given_as_an_empty_cell_and_replaces_tags():
    customer = CustomerFactory(external_id="C1", phone="+48 1", country="PL")
    customer.tags.add(Tag.objects.create(name="vip"), Tag.objects.create(name="b2b"))

    result = run(
        "customers", "external_id,phone,acquisition_channel,tags\nC0,,,vip\nC1,,,b2b;new\n"
    )

    assert counts(result) == (1, 1, 0, 0)
    assert [t.name for t in Customer.objects.get(external_id="C0").tags.all()] == ["vip"]
    customer.refresh_from_db()
    assert customer.phone == ""
    assert customer.acquisition_channel == "other"  # the default
    assert customer.country == "PL"  # no column: untouched
    assert sorted(t.name for t in customer.tags.all()) == ["b2b", "new"]


@pytest.mark.django_db
def test_it_records_consent_only_when_it_changes_the_current_state():
    customer = CustomerFactory(external_id="C1")
    ConsentEventFactory(customer=customer, purpose="email_marketing", granted=True)
    ConsentEventFactory(customer=customer, purpose="surveys", granted=True)
    text = "external_id,email_marketing_consent,surveys_consent\nC1,YES,false\n"

    first = run("customers", text)
    second = run("customers", text)

    assert counts(first) == (0, 1, 0, 0)
    assert counts(second) == (0, 0, 1, 0)
    imported = customer.consent_events.filter(source=ConsentEvent.Source.IMPORT)
    assert list(imported.values_list("purpose", "granted")) == [("surveys", False)]


@pytest.mark.django_db
def test_it_rejects_an_email_that_belongs_to_another_customer():
    CustomerFactory(source="shop", external_id="X9", email="Anna@Example.com")
    text = "external_id,email,name\nC1,anna@example.COM,Anna\nC2,jan@example.com,Jan\n"

    result = run("customers", text)

    assert errors(result) == [
        (
            2,
            "email",
            "anna@example.COM already belongs to another customer (external_id X9 from shop).",
        ),
    ]
    assert counts(result) == (1, 0, 0, 1)
    assert list(
        Customer.objects.filter(source="rapport").values_list("external_id", flat=True)
    ) == ["C2"]


@pytest.mark.django_db
def test_it_lets_a_customer_keep_their_own_email_in_another_case():
    CustomerFactory(external_id="C1", email="anna@example.com")

    result = run("customers", "external_id,email\nC1,ANNA@example.com\n")

    assert counts(result) == (0, 1, 0, 0)
    assert Customer.objects.get().email == "ANNA@example.com"


@pytest.mark.django_db
def test_it_rejects_an_email_given_to_two_customers_in_one_file_even_across_batches():
    text = (
        "external_id,email\n"
        "C1,anna@example.com\nC2,jan@example.com\nC3,ANNA@example.com\nC4,jan@example.com\n"
    )

    result = run("customers", text, batch_size=3)

    assert errors(result) == [
        (4, "email", "ANNA@example.com is also the email in row 2."),
        (5, "email", "jan@example.com already belongs to another customer (external_id C2)."),
    ]
    assert Customer.objects.count() == 2


@pytest.mark.django_db
def test_it_rejects_a_repeated_external_id_naming_the_first_row_across_batches():
    text = "external_id,name\nC1,Anna\nC2,Jan\nC3,Ewa\nC1,Anna again\n"

    result = run("customers", text, batch_size=2)

    assert errors(result) == [(5, "external_id", "C1 is also in row 2; an id may appear once.")]
    assert Customer.objects.get(external_id="C1").name == "Anna"
    assert counts(result) == (3, 0, 0, 1)


@pytest.mark.django_db
def test_it_reports_bad_rows_with_row_field_and_reason_while_good_rows_land():
    text = (
        "external_id,email,country,acquired_at,acquisition_channel,surveys_consent\n"
        "C1,ok@example.com,PL,2024-03-15,email,yes\n"
        "C2,not-an-email,POL,15/03/2024,telepathy,maybe\n"
        "\n"
        ",x@example.com,PL,,,\n"
        "C5,fine@example.com,UA,,,\n"
    )

    result = run("customers", text)

    channels = ", ".join(AcquisitionChannel.values)
    assert errors(result) == [
        (3, "email", "Enter a valid email address."),
        (3, "country", "Enter a 2-letter country code (ISO 3166-1), e.g. PL."),
        (3, "acquisition_channel", f"Unknown value 'telepathy'; use one of: {channels}."),
        (3, "acquired_at", "Enter a date as YYYY-MM-DD, e.g. 2024-03-15."),
        (
            3,
            "surveys_consent",
            "Enter yes or no (also accepted: true/false, 1/0), or leave it empty.",
        ),
        (5, "external_id", "This field is required."),
    ]
    assert counts(result) == (2, 0, 0, 2)
    assert sorted(Customer.objects.values_list("external_id", flat=True)) == ["C1", "C5"]
    assert result.summary() == "customers: 2 created, 0 updated, 0 unchanged, 2 errors"


@pytest.mark.django_db
@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["no-bom", "bom"])
@pytest.mark.parametrize("delimiter", [",", ";"])
def test_it_keeps_polish_and_cyrillic_names_with_or_without_bom(bom, delimiter):
    text = f"External ID{delimiter}Name\nC1{delimiter}Łukasz Żółć\nC2{delimiter}Олена Коваленко\n"

    result = imports.import_csv(kind="customers", file=io.BytesIO(bom + text.encode()))

    assert counts(result) == (2, 0, 0, 0)
    names = dict(Customer.objects.values_list("external_id", "name"))
    assert names == {"C1": "Łukasz Żółć", "C2": "Олена Коваленко"}


@pytest.mark.django_db
def test_it_reads_a_text_stream_and_quoted_cells_with_separators_and_line_breaks():
    text = '\ufeffexternal_id;name;tags\nC1;"Kowalski; Jan";"a;b"\nC2;"Line\nbreak";\nC3;x;\n'

    result = imports.import_csv(kind="customers", file=io.StringIO(text, newline=""))

    assert counts(result) == (3, 0, 0, 0)
    assert Customer.objects.get(external_id="C1").name == "Kowalski; Jan"
    assert Customer.objects.get(external_id="C1").tags.count() == 2
    assert Customer.objects.get(external_id="C2").name == "Line\nbreak"


@pytest.mark.django_db
def test_it_rejects_only_the_row_that_is_not_utf8():
    data = (
        "external_id,name\nC1,Łukasz\n".encode()
        + "C2,Żółć\n".encode("cp1250")
        + "C3,Олена\n".encode()
    )

    result = imports.import_csv(kind="customers", file=io.BytesIO(data))

    assert errors(result) == [(3, "", "This row is not UTF-8 text; save the file as 'CSV UTF-8'.")]
    assert sorted(Customer.objects.values_list("name", flat=True)) == ["Łukasz", "Олена"]


@pytest.mark.django_db
def test_it_warns_once_about_unknown_columns():
    result = run("customers", "external_id,shoe_size,Favourite Colour\nC1,42,red\nC2,43,blue\n")

    assert result.warnings == ["Ignored unknown columns: shoe_size, favourite_colour."]
    assert counts(result) == (2, 0, 0, 0)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        ("customers", "email,name\na@example.com,Anna\n", "Missing required column external_id"),
        ("orders", "external_id;amount\nO1;10\n", "customer_external_id, ordered_at"),
        ("customers", "", "The file is empty"),
        ("customers", "external_id,Name,name\nC1,a,b\n", "Column 'name' appears more than once"),
        ("invoices", "external_id\nC1\n", "Unknown kind 'invoices'"),
    ],
)
def test_it_imports_nothing_when_the_file_as_a_whole_is_unusable(kind, text, message):
    with pytest.raises(imports.ImportFileError, match=re.escape(message)):
        run(kind, text)
    assert not Customer.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_file_whose_header_is_not_utf8():
    with pytest.raises(imports.ImportFileError, match="not UTF-8"):
        run("customers", "external_id,Nazwisko_właściciela\nC1,x\n", encoding="cp1250")


@pytest.mark.django_db
def test_it_pins_a_database_refusal_to_its_row_and_lands_the_rest_of_the_batch(monkeypatch):
    CustomerFactory(source="shop", external_id="X9", email="taken@example.com")
    # Blind the lookup, as a concurrent import writing the email meanwhile would.
    monkeypatch.setattr(CustomerImporter, "_email_owners", lambda self, emails: {})
    text = "external_id,email,tags\nC1,a@example.com,x\nC2,taken@example.com,y\nC3,,z\n"

    result = run("customers", text)

    assert [(e.row, e.field) for e in result.errors] == [(3, "")]
    assert result.errors[0].message.startswith("Could not be saved:")
    assert counts(result) == (2, 0, 0, 1)
    assert sorted(
        Customer.objects.filter(source="rapport").values_list("external_id", flat=True)
    ) == ["C1", "C3"]
    assert sorted(Tag.objects.values_list("name", flat=True)) == [
        "x",
        "z",
    ]  # nothing of the refused row


# --- orders ---------------------------------------------------------------------------

ORDERS = (
    "external_id,customer_external_id,ordered_at,amount,currency,base_amount,status,"
    "sales_channel,product_line,guarantee_days\n"
    "O1,C1,2024-03-15,100.00,,,,,Shoes,\n"
    "O2,C1,2024-03-16T10:00:00Z,80.00,eur,,refunded,Mobile app,,730\n"
    "O3,C1,2024-03-17 09:15,120,USD,470.40,paid,store,,0\n"
)


@pytest.mark.django_db
def test_it_imports_orders_converting_to_the_default_currency():
    CustomerFactory(external_id="C1")

    result = run("orders", ORDERS)

    assert counts(result) == (3, 0, 0, 0)
    o1, o2, o3 = Order.objects.order_by("external_id")
    # a date alone is midnight in TIME_ZONE
    assert o1.ordered_at == dt.datetime(2024, 3, 15, tzinfo=WARSAW)
    assert (o1.amount, o1.currency, o1.base_amount) == (Decimal("100.00"), "PLN", Decimal("100.00"))
    assert (o1.status, o1.sales_channel, o1.guarantee_days) == ("paid", "web", 30)
    assert o2.ordered_at == dt.datetime(2024, 3, 16, 10, tzinfo=dt.UTC)  # aware: as given
    assert (o2.currency, o2.base_amount) == ("EUR", Decimal("340.00"))
    assert (o2.status, o2.sales_channel, o2.guarantee_days) == ("refunded", "app", 730)
    assert o3.ordered_at == dt.datetime(2024, 3, 17, 9, 15, tzinfo=WARSAW)  # naive: local
    assert o3.base_amount == Decimal("470.40")  # given, not converted
    assert o3.guarantee_days == 0


@pytest.mark.django_db
def test_it_rounds_a_converted_amount_to_the_cent():
    CustomerFactory(external_id="C1")

    run(
        "orders",
        "external_id,customer_external_id,ordered_at,amount,currency\nO1,C1,2024-03-15,10.01,USD\n",
    )

    assert Order.objects.get().base_amount == Decimal("39.54")  # 39.5395


@pytest.mark.django_db
def test_it_creates_nothing_when_the_same_order_file_is_imported_again():
    CustomerFactory(external_id="C1")
    run("orders", ORDERS)

    again = run("orders", ORDERS)
    changed = run("orders", ORDERS.replace("100.00", "90.00"))

    assert counts(again) == (0, 0, 3, 0)
    assert counts(changed) == (0, 1, 2, 0)
    assert Order.objects.count() == 3
    assert Order.objects.get(external_id="O1").base_amount == Decimal("90.00")


@pytest.mark.django_db
def test_it_rejects_comma_decimals_suggesting_a_dot():
    CustomerFactory(external_id="C1")
    header = "external_id;customer_external_id;ordered_at;amount\n"

    semicolons = run("orders", header + "O1;C1;2024-03-15;12,50\nO2;C1;2024-03-15;12.50\n")
    commas = run("orders", header.replace(";", ",") + "O3,C1,2024-03-15,12,50\n")

    assert errors(semicolons) == [(2, "amount", "Use a dot for decimals: 12.50, not 12,50.")]
    assert errors(commas) == [
        (
            2,
            "",
            "This row has 5 values but the header has 4 columns: a value containing ',' must "
            "be in double quotes, and amounts use a dot (12.50, not 12,50).",
        )
    ]
    assert list(Order.objects.values_list("external_id", flat=True)) == ["O2"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("-5", "Must be 0 or more."),
        ("1,234.50", "Use a dot for decimals and no thousands separators, e.g. 1234.50."),
        ("12.505", "Use at most 2 decimal places, e.g. 12.50."),
        ("1e3", "Enter an amount such as 12.50."),
        ("1000000000000", "Too large: at most 12 digits before the point."),
    ],
)
def test_it_explains_what_is_wrong_with_an_amount(amount, message):
    CustomerFactory(external_id="C1")

    result = run(
        "orders",
        f'external_id,customer_external_id,ordered_at,amount\nO1,C1,2024-03-15,"{amount}"\n',
    )

    assert errors(result) == [(2, "amount", message)]


@pytest.mark.django_db
def test_it_rejects_orders_of_unknown_customers_and_currencies_without_a_rate():
    CustomerFactory(external_id="C1")
    CustomerFactory(source="shop", external_id="C2")  # another source does not count
    text = (
        "external_id,customer_external_id,ordered_at,amount,currency\n"
        "O1,C2,2024-03-15,10,PLN\n"
        "O2,C1,2024-03-15,10,GBP\n"
        "O3,C1,2024-03-15,10,EUR\n"
        "O4,C1,yesterday,10,EURO\n"
    )

    result = run("orders", text)

    assert [(e.row, e.field) for e in result.errors] == [
        (2, "customer_external_id"),
        (3, "currency"),
        (5, "ordered_at"),
        (5, "currency"),
    ]
    assert "import the customers first" in result.errors[0].message
    assert "add a base_amount column" in result.errors[1].message
    assert "FX_RATES" in result.errors[1].message
    assert list(Order.objects.values_list("external_id", flat=True)) == ["O3"]


@pytest.mark.django_db
def test_it_keeps_an_existing_orders_currency_when_the_file_has_no_currency_column():
    order = OrderFactory(
        customer=CustomerFactory(external_id="C1"),
        external_id="O1",
        amount=Decimal("10.00"),
        currency="EUR",
        base_amount=Decimal("42.50"),
    )

    result = run(
        "orders",
        "external_id,customer_external_id,ordered_at,amount\n"
        f"O1,C1,{order.ordered_at.isoformat()},20.00\n",
    )

    assert counts(result) == (0, 1, 0, 0)
    order.refresh_from_db()
    assert (order.amount, order.currency, order.base_amount) == (
        Decimal("20.00"),
        "EUR",
        Decimal("85.00"),
    )


# --- returns --------------------------------------------------------------------------


@pytest.fixture
def eur_order(db):
    return OrderFactory(
        customer=CustomerFactory(external_id="C1"),
        external_id="O1",
        ordered_at=dt.datetime(2024, 3, 15, 18, tzinfo=WARSAW),
        amount=Decimal("100.00"),
        currency="EUR",
        base_amount=Decimal("425.00"),
    )


RETURNS = (
    "external_id,order_external_id,returned_at,amount,reason\n"
    "R1,O1,2024-03-15,30.00,Wrong size\n"  # a date alone on the order's day is fine
    'R2,O1,2024-03-20T10:00:00+01:00,70.00,"Damaged, box crushed"\n'
)


@pytest.mark.django_db
def test_it_imports_returns_at_the_orders_exchange_rate(eur_order):
    result = run("returns", RETURNS)

    assert counts(result) == (2, 0, 0, 0)
    r1, r2 = Return.objects.order_by("external_id")
    assert (r1.order, r1.amount, r1.base_amount) == (eur_order, Decimal("30.00"), Decimal("127.50"))
    assert r2.reason == "Damaged, box crushed"
    assert r2.base_amount == Decimal("297.50")


@pytest.mark.django_db
def test_it_creates_nothing_when_a_full_return_is_imported_again(eur_order):
    run("returns", RETURNS)

    again = run("returns", RETURNS)  # must not count the returns it rewrites twice

    assert counts(again) == (0, 0, 2, 0)
    assert Return.objects.count() == 2


@pytest.mark.django_db
def test_it_rejects_returns_beyond_the_order_amount_or_before_the_order(eur_order):
    ReturnFactory(order=eur_order, external_id="R0", amount=Decimal("60.00"))
    text = (
        "external_id,order_external_id,returned_at,amount\n"
        "R1,O1,2024-03-16,30.00\n"
        "R2,O1,2024-03-17,10.01\n"
        "R3,O1,2024-03-14T23:59:00+01:00,1.00\n"
        "R4,O404,2024-03-17,1.00\n"
    )

    result = run("returns", text)

    assert errors(result) == [
        (3, "amount", "Returns of order O1 would total 100.01, more than its amount 100.00."),
        (4, "returned_at", "Before the order's date (2024-03-15)."),
        (
            5,
            "order_external_id",
            "No order with external_id O404 in source rapport; import the orders first.",
        ),
    ]
    assert sorted(Return.objects.values_list("external_id", flat=True)) == ["R0", "R1"]


# --- interactions ---------------------------------------------------------------------

INTERACTIONS = (
    "external_id,customer_external_id,staff,kind,direction,occurred_at,summary,outcome,"
    "follow_up_on\n"
    "T1,C1,charlie,call,inbound,2024-03-21T10:05:00+01:00,Asked about the refund.,complaint,"
    "2024-03-25\n"
    "T2,C1,,Email,,2024-03-22,Sent the label.,,\n"
)


@pytest.mark.django_db
def test_it_imports_interactions_with_one_follow_up_for_the_staff_member(charlie):
    customer = CustomerFactory(external_id="C1", name="Олена Коваленко")

    result = run("interactions", INTERACTIONS)

    assert counts(result) == (2, 0, 0, 0)
    t1, t2 = Interaction.objects.order_by("external_id")
    assert (t1.customer, t1.staff, t1.kind, t1.direction) == (customer, charlie, "call", "inbound")
    assert t1.outcome == "complaint"
    assert (t2.staff, t2.kind, t2.direction, t2.outcome) == (None, "email", "outbound", "neutral")
    follow_up = FollowUp.objects.get()
    assert (follow_up.interaction, follow_up.customer) == (t1, customer)
    assert (follow_up.due_on, follow_up.assigned_to) == (dt.date(2024, 3, 25), charlie)
    assert follow_up.priority == FollowUp.Priority.HIGH
    assert follow_up.reason == "Follow up on call: Asked about the refund."


@pytest.mark.django_db
def test_it_never_duplicates_a_follow_up_on_reimport(charlie, bob):
    CustomerFactory(external_id="C1")
    run("interactions", INTERACTIONS)

    again = run("interactions", INTERACTIONS)
    moved = run("interactions", INTERACTIONS.replace("charlie", "bob").replace("03-25", "03-27"))

    blank = run("interactions", INTERACTIONS.replace("2024-03-25", ""))

    assert counts(again) == (0, 0, 2, 0)
    assert counts(moved) == (0, 1, 1, 0)
    assert counts(blank) == (0, 1, 1, 0)  # back to charlie; the follow-up stays
    follow_up = FollowUp.objects.get()
    assert (follow_up.due_on, follow_up.assigned_to) == (dt.date(2024, 3, 27), bob)


@pytest.mark.django_db
def test_it_leaves_a_done_follow_up_done_on_reimport(charlie):
    CustomerFactory(external_id="C1")
    run("interactions", INTERACTIONS)
    FollowUp.objects.update(done_at=dt.datetime(2024, 3, 24, tzinfo=dt.UTC))

    again = run("interactions", INTERACTIONS.replace("03-25", "04-01"))

    assert counts(again) == (0, 0, 2, 0)
    assert FollowUp.objects.get().due_on == dt.date(2024, 3, 25)


@pytest.mark.django_db
def test_it_rejects_unknown_staff_and_missing_summaries(charlie):
    CustomerFactory(external_id="C1")
    text = (
        "external_id,customer_external_id,staff,kind,occurred_at,summary\n"
        "T1,C1,mallory,call,2024-03-21,Hello\n"
        "T2,C1,charlie,carrier pigeon,2024-03-21,  \n"
        "T3,C1,charlie,visit,2024-03-21,Came to the store.\n"
    )

    result = run("interactions", text)

    assert [(e.row, e.field) for e in result.errors] == [
        (2, "staff"),
        (3, "kind"),
        (3, "summary"),
    ]
    assert result.errors[0].message == "No user with username mallory."
    assert list(Interaction.objects.values_list("external_id", flat=True)) == ["T3"]
    assert not FollowUp.objects.exists()


# --- the command ----------------------------------------------------------------------


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.django_db
def test_the_command_prints_a_summary_and_succeeds(tmp_path, capsys):
    text = 'external_id;name;tags\nC1;Łukasz Żółć;"running;vip"\nC2;Олена Коваленко;\n'
    path = write(tmp_path, "customers.csv", text)

    call_command("import_csv", "customers", path, "--source", "shop", "--delimiter", ";")

    out, err = capsys.readouterr()
    assert out == "customers: 2 created, 0 updated, 0 unchanged, 0 errors\n"
    assert err == ""
    names = Customer.objects.filter(source="shop").values_list("name", flat=True)
    assert sorted(names) == ["Łukasz Żółć", "Олена Коваленко"]
    assert Customer.objects.get(name="Łukasz Żółć").tags.count() == 2


@pytest.mark.django_db
def test_the_command_lists_every_error_on_stderr_and_fails(tmp_path, capsys):
    path = write(
        tmp_path,
        "customers.csv",
        "external_id,email,colour\nC1,a@example.com,red\nC2,nope,blue\nC2,b@example.com,\n",
    )

    with pytest.raises(CommandError, match="2 rows were not imported"):
        call_command("import_csv", "customers", path)

    out, err = capsys.readouterr()
    assert out == "customers: 1 created, 0 updated, 0 unchanged, 2 errors\n"
    assert err.splitlines() == [
        "warning: Ignored unknown column: colour.",
        "row 3, email: Enter a valid email address.",
        "row 4, external_id: C2 is also in row 3; an id may appear once.",
    ]
    assert Customer.objects.get().external_id == "C1"


@pytest.mark.django_db
def test_the_command_imports_nothing_without_a_required_column(tmp_path):
    path = write(tmp_path, "orders.csv", "external_id,amount\nO1,10\n")

    with pytest.raises(
        CommandError,
        match=r"Missing required columns customer_external_id, ordered_at .*Nothing was imported",
    ):
        call_command("import_csv", "orders", path)
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_the_command_explains_a_missing_file_or_unknown_kind(tmp_path):
    with pytest.raises(CommandError, match=r"Cannot open .*missing\.csv: No such file"):
        call_command("import_csv", "customers", str(tmp_path / "missing.csv"))
    with pytest.raises(CommandError, match="invalid choice: 'invoices'"):
        call_command("import_csv", "invoices", str(tmp_path / "missing.csv"))


@pytest.mark.django_db
def test_the_command_shows_how_many_errors_it_did_not_list(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("customers.imports.base.ERRORS_KEPT", 2)
    path = write(
        tmp_path, "c.csv", "external_id,email\n" + "".join(f"C{i},bad{i}\n" for i in range(5))
    )

    with pytest.raises(CommandError, match="5 rows were not imported"):
        call_command("import_csv", "customers", path)

    err = capsys.readouterr().err.splitlines()
    assert err == [
        "row 2, email: Enter a valid email address.",
        "row 3, email: Enter a valid email address.",
        "... and 3 more errors not shown.",
    ]


# --- the documentation ----------------------------------------------------------------


def test_the_documentation_describes_every_column():
    text = DOCS.read_text()
    for kind, importer in imports.KINDS.items():
        section = text.split(f"## {kind}\n", 1)[1].split("\n## ", 1)[0]
        for column in importer.columns:
            assert f"| `{column}` |" in section, f"{kind}.{column} is not documented"


@pytest.mark.django_db
def test_the_documented_examples_import_cleanly_and_idempotently(tmp_path, capsys):
    examples = dict(re.findall(r"```csv (\w+)\n(.*?)```", DOCS.read_text(), re.DOTALL))
    assert list(examples) == list(imports.KINDS)

    for kind, text in examples.items():
        call_command("import_csv", kind, write(tmp_path, f"{kind}.csv", text))
    for kind, text in examples.items():
        call_command("import_csv", kind, write(tmp_path, f"{kind}.csv", text))

    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "customers: 3 created, 0 updated, 0 unchanged, 0 errors",
        "orders: 3 created, 0 updated, 0 unchanged, 0 errors",
        "returns: 2 created, 0 updated, 0 unchanged, 0 errors",
        "interactions: 2 created, 0 updated, 0 unchanged, 0 errors",
        "customers: 0 created, 0 updated, 3 unchanged, 0 errors",
        "orders: 0 created, 0 updated, 3 unchanged, 0 errors",
        "returns: 0 created, 0 updated, 2 unchanged, 0 errors",
        "interactions: 0 created, 0 updated, 2 unchanged, 0 errors",
    ]
