"""Alert texts (alerting/notices.py) that need no database."""

from __future__ import annotations

import datetime as dt

from smartcron.alerting.notices import when


def test_when_gives_the_task_zone_and_utc() -> None:
    moment = dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.UTC)
    assert when(moment, "Europe/Berlin") == "2026-07-01 14:00:00 CEST (2026-07-01 12:00:00 UTC)"


def test_when_says_a_utc_moment_once() -> None:
    moment = dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.UTC)
    assert when(moment, "UTC") == "2026-07-01 12:00:00 UTC"
    # Europe/London in winter is GMT, a zone of its own: both stay, as a reader there expects.
    assert when(dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC), "Europe/London").startswith(
        "2026-01-05 09:00:00 GMT ("
    )
