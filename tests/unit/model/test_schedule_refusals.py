"""An OnCalendar expression systemd refuses gets a reason naming its part (systemd itself says
only "Invalid argument")."""

from __future__ import annotations

import pytest

from smartcron.model.schedule.analyze import refused_part


@pytest.mark.parametrize(
    ("expression", "said"),
    [
        ("Mon..Fri *-*-* 25:00:00", "the hour '25' of '25:00:00' is out of range (0-23)"),
        ("*-*-* 12:61", "the minute '61' of '12:61' is out of range (0-59)"),
        ("2026-13-01 00:00:00", "the month '13' of '2026-13-01' is out of range (1-12)"),
        ("*-*-32 00:00:00", "the day '32' of '*-*-32' is out of range (1-31)"),
        ("Mo..Fri *-*-* 12:00:00", "'Mo' is not a day of the week"),
    ],
)
def test_refused_part_names_the_part_and_what_is_allowed(expression: str, said: str) -> None:
    assert said in refused_part(expression)


def test_refused_part_says_nothing_when_no_part_stands_out() -> None:
    assert refused_part("garbage here") == ""
    assert refused_part("Mon *-*-* 00:00:00") == ""
