"""A bulk request's receivers: numbers read, repeats dropped, texts rendered, faults named."""

import random

import pytest

from kurir.api.body import FormFields
from kurir.api.broadcast_requests import BroadcastCreateRequest, CustomerCreateRequest, convert_bulk
from kurir.domain.errors import ValidationError
from kurir.domain.receivers import Invalid, Receiver, read_phone, read_phones, render_texts
from kurir.domain.spintax import parse_template


def test_numbers_are_read_and_repeats_dropped_keeping_the_first() -> None:
    read = read_phones(
        [
            Receiver(0, "08111111111", "a"),
            Receiver(1, "+62 811-1111-111", "b"),
            Receiver(2, "0811", "c"),
            Receiver(3, "08122222222", None, {"name": "Sari"}),
        ],
        region="ID",
        international_only=False,
    )
    assert [(r.index, r.phone, r.written) for r in read.recipients] == [
        (0, "628111111111", "08111111111"),
        (3, "628122222222", "08122222222"),
    ]
    assert read.invalid == [Invalid(2, "0811", "phone is not a valid phone number: '0811'")]
    assert read.duplicates == 1


def test_international_only_wants_the_country_code() -> None:
    assert read_phone("628111111111", "ID", international_only=True) == "628111111111"
    assert read_phone("+62 811 1111 111", "ID", international_only=True) == "628111111111"
    with pytest.raises(ValidationError, match="phone is not an international number: '0811"):
        read_phone("08111111111", "ID", international_only=True)


def test_texts_are_rendered_and_faults_named_by_receiver() -> None:
    recipients = read_phones(
        [
            Receiver(0, "08111111111", "{Halo|Hai} {name}", {"name": "Budi"}),
            Receiver(1, "08111111112", "Halo {nama}"),
            Receiver(2, "08111111113", None),
            Receiver(3, "08111111114", "x" * 5000),
            Receiver(4, "08111111115", "Hai {name} {opt1}"),
        ],
        region="ID",
        international_only=False,
    ).recipients
    rendered = render_texts(
        recipients,
        default=parse_template("Selamat datang"),
        field="message",
        max_length=4096,
        required=True,
        contact_fields={"628111111115": {"name": "Sari", "opt1": "VIP"}},
        rng=random.Random(1),
    )
    texts = dict(rendered.texts)
    assert texts["628111111111"] in ("Halo Budi", "Hai Budi")
    assert texts["628111111113"] == "Selamat datang"
    assert texts["628111111115"] == "Hai Sari VIP"
    assert [(fault.index, fault.phone) for fault in rendered.invalid] == [
        (1, "08111111112"),
        (3, "08111111114"),
    ]
    assert rendered.invalid[0].reason.startswith("message: unknown placeholder {nama}")
    assert rendered.invalid[1].reason.startswith("message is 5000 characters")


def test_nested_form_keys_are_folded_into_lists() -> None:
    form = FormFields(
        {
            "device": "default",
            "title": "T",
            "receiver[1][phone]": "08111111112",
            "receiver[0][phone]": "08111111111",
            "receiver[0][message]": "Halo",
        }
    )
    body = convert_bulk(form, BroadcastCreateRequest)
    assert [(r.phone, r.message) for r in body.receiver] == [
        ("08111111111", "Halo"),
        ("08111111112", None),
    ]
    encoded = FormFields({"customers": '[{"phone": "0811", "name": "A"}]'})
    assert convert_bulk(encoded, CustomerCreateRequest).customers[0].name == "A"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"title": "T"}, "device is required"),
        ({"device": "d", "title": "T", "receiver": "x"}, "receiver must be an array"),
        ({"device": "d", "title": "T", "receiver": [{}]}, "receiver[0].phone is required"),
        (
            {"device": "d", "title": "T", "receiver": [{"phone": 1.5}]},
            "receiver[0].phone must be text or a number",
        ),
        ({"device": "d", "title": None}, "title is required"),
        (
            {"device": "d", "title": "T", "interval_from": []},
            "interval_from must be a number of seconds",
        ),
    ],
)
def test_a_field_of_the_wrong_shape_is_named(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        convert_bulk(fields, BroadcastCreateRequest)
    assert raised.value.message == message
