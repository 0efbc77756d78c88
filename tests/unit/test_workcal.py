"""Working days with Chinese public holidays and make-up working days (调休)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from shared.workcal import is_workday, next_working_day_at


def test_national_day_is_off_and_its_make_up_saturday_is_a_working_day():
    assert is_workday(date(2026, 10, 1)) is False
    assert is_workday(date(2026, 10, 10)) is True  # 调休 Saturday


def test_a_year_without_official_data_falls_back_to_weekdays_minus_fixed_holidays():
    assert is_workday(date(2030, 1, 1)) is False
    assert is_workday(date(2030, 1, 2)) is True
    assert is_workday(date(2030, 1, 5)) is False  # Saturday


def test_the_callback_after_a_friday_resolution_is_due_on_monday_morning():
    friday_evening = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # 18:00 local
    due = next_working_day_at(friday_evening, time(10))
    assert due == datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # Monday 10:00 local
