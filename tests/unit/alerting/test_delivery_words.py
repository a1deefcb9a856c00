"""How a message's delivery is said to people (db/alerts.delivery_words)."""

from __future__ import annotations

from types import SimpleNamespace

from smartcron.db.alerts import delivery_words


def _row(state: str, **extra: object) -> SimpleNamespace:
    values = {"state": state, "attempts": 0, "last_error": None, "sent_via": None}
    return SimpleNamespace(**{**values, "held_for": "stock-take", **extra})


def test_delivery_words_of_a_held_message_names_its_window() -> None:
    # It said "queued", as if it were about to go out.
    assert delivery_words(_row("held")) == (
        "held by window stock-take: sent in its summary when it ends"
    )
    assert delivery_words(_row("released")) == "sent in the summary of window stock-take"


def test_delivery_words_of_other_states() -> None:
    assert delivery_words(_row("pending")) == "queued"
    assert delivery_words(_row("sent", sent_via=["ops"])) == "sent via ops"
    assert delivery_words(_row("failed", last_error="refused")).startswith("NOT delivered, gave up")
