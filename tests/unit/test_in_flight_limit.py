"""The deliverer's attempts in flight per endpoint: fewer while sends keep the writer busy."""

import pytest

from kurir.dispatch.webhook_deliverer import InFlightLimit


def test_it_starts_at_the_setting_and_halves_while_the_writer_is_busy() -> None:
    limit = InFlightLimit(25)
    assert limit.value == 25
    values = []
    for _ in range(4):
        limit.after_claim(writer_was_busy=True)
        values.append(limit.value)
    assert values == [12, 6, 6, 6]  # never below a quarter: deliveries still move


def test_it_takes_back_one_slot_per_claim_that_found_the_writer_free() -> None:
    limit = InFlightLimit(8)
    limit.after_claim(writer_was_busy=True)
    limit.after_claim(writer_was_busy=True)
    assert limit.value == 2
    climbed = []
    for _ in range(8):
        limit.after_claim(writer_was_busy=False)
        climbed.append(limit.value)
    assert climbed == [3, 4, 5, 6, 7, 8, 8, 8]


@pytest.mark.parametrize(("setting", "least"), [(1, 1), (3, 1), (4, 1), (25, 6), (100, 25)])
def test_the_least_is_a_quarter_of_the_setting_and_never_zero(setting: int, least: int) -> None:
    limit = InFlightLimit(setting)
    for _ in range(10):
        limit.after_claim(writer_was_busy=True)
    assert limit.value == least
