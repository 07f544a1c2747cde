"""FHIR date/dateTime/instant text becomes the closed range of UTC microseconds it stands for."""
from __future__ import annotations

import pytest

from engine.errors import InvalidRequest
from engine.fhir.dates import format_instant, parse_range, parse_range_or_raise
from tests.unit.support import SECOND, us

MINUTE = 60 * SECOND
DAY = 86_400 * SECOND


def test_a_year_covers_the_first_to_the_last_microsecond_of_that_year():
    assert parse_range("2020") == (us(2020), us(2021) - 1)


def test_a_month_covers_every_day_of_that_month():
    assert parse_range("2021-04") == (us(2021, 4, 1), us(2021, 5, 1) - 1)


def test_february_of_a_leap_year_has_twenty_nine_days():
    assert parse_range("2020-02") == (us(2020, 2, 1), us(2020, 2, 29) + DAY - 1)


def test_february_of_a_common_year_has_twenty_eight_days():
    assert parse_range("2021-02") == (us(2021, 2, 1), us(2021, 2, 28) + DAY - 1)


def test_february_of_a_century_year_not_divisible_by_400_is_not_leap():
    assert parse_range("1900-02")[1] == us(1900, 2, 28) + DAY - 1


def test_december_ends_at_the_new_year():
    assert parse_range("1999-12") == (us(1999, 12, 1), us(2000) - 1)


def test_a_day_covers_twenty_four_hours():
    assert parse_range("2020-02-29") == (us(2020, 2, 29), us(2020, 3, 1) - 1)


def test_a_time_to_the_minute_covers_that_minute():
    assert parse_range("2020-05-06T07:08Z") == (us(2020, 5, 6, 7, 8), us(2020, 5, 6, 7, 8) + MINUTE - 1)


def test_a_time_to_the_second_covers_that_second():
    assert parse_range("2020-05-06T07:08:09Z") == (us(2020, 5, 6, 7, 8, 9), us(2020, 5, 6, 7, 8, 9) + SECOND - 1)


def test_milliseconds_cover_one_millisecond():
    low = us(2020, 5, 6, 7, 8, 9, 123_000)
    assert parse_range("2020-05-06T07:08:09.123Z") == (low, low + 999)


def test_one_fractional_digit_covers_a_tenth_of_a_second():
    low = us(2020, 5, 6, 7, 8, 9, 500_000)
    assert parse_range("2020-05-06T07:08:09.5Z") == (low, low + 99_999)


def test_microseconds_are_exact():
    low = us(2020, 5, 6, 7, 8, 9, 123_456)
    assert parse_range("2020-05-06T07:08:09.123456Z") == (low, low)


def test_digits_beyond_microseconds_are_truncated():
    low = us(2020, 5, 6, 7, 8, 9, 123_456)
    assert parse_range("2020-05-06T07:08:09.1234567Z") == (low, low)


def test_a_positive_offset_is_subtracted_to_reach_utc():
    assert parse_range("2020-01-01T10:00:00+02:00")[0] == us(2020, 1, 1, 8)


def test_a_negative_offset_is_added_to_reach_utc():
    assert parse_range("2020-01-01T22:30:00-05:30")[0] == us(2020, 1, 2, 4)


def test_an_offset_can_move_the_range_into_another_year():
    assert parse_range("2020-12-31T23:00:00-02:00") == (us(2021, 1, 1, 1), us(2021, 1, 1, 1) + SECOND - 1)


def test_z_and_plus_zero_mean_the_same_instant():
    assert parse_range("2020-03-04T05:06:07Z") == parse_range("2020-03-04T05:06:07+00:00")


def test_a_time_without_a_zone_is_taken_as_utc():
    assert parse_range("2020-03-04T05:06:07") == parse_range("2020-03-04T05:06:07Z")


def test_surrounding_whitespace_is_ignored():
    assert parse_range(" 2020 ") == parse_range("2020")


def test_dates_before_the_epoch_are_negative():
    assert parse_range("1969-12-31") == (-DAY, -1)


@pytest.mark.parametrize("text", [
    "2020-02-30", "2021-02-29", "2020-13", "2020-00", "2020-04-31", "2020-01-01T24:00Z", "2020-01-01T10:60Z",
    "garbage", "", "20", "2020-1-1", "2020-01-01T", "2020-01-01 10:00", "2020-01-01T10:00:00+2", "0000",
    "2020-01-01T10:00:00.Z",
])
def test_malformed_or_impossible_dates_give_none(text):
    assert parse_range(text) is None


def test_a_non_string_gives_none():
    assert parse_range(2020) is None  # type: ignore[arg-type]


def test_search_input_that_is_not_a_date_is_a_bad_request_naming_the_parameter():
    with pytest.raises(InvalidRequest, match="birthdate"):
        parse_range_or_raise("2020-02-30", "birthdate")


def test_an_instant_is_formatted_in_utc_with_milliseconds():
    assert format_instant(us(2021, 3, 4, 5, 6, 7, 891_234)) == "2021-03-04T05:06:07.891+00:00"


def test_the_epoch_is_formatted_with_zero_padding():
    assert format_instant(0) == "1970-01-01T00:00:00.000+00:00"


def test_a_formatted_instant_parses_back_to_the_millisecond_it_names():
    moment = us(2022, 11, 12, 13, 14, 15, 678_000)
    assert parse_range(format_instant(moment)) == (moment, moment + 999)
