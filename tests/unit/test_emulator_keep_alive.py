"""The emulator reads ``keep_alive`` as Ollama does: seconds as a number, a string only as a Go
duration, so a gateway that sends bare seconds as a string fails here as it would on Ollama."""

from __future__ import annotations

from datetime import timedelta

import pytest

from local.emulator.routing import HttpError
from local.emulator.validation import keep_alive


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (120, timedelta(seconds=120)),
        (1.5, timedelta(seconds=1.5)),
        ("5m", timedelta(minutes=5)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("-1s", timedelta(seconds=-1)),
        ("0", timedelta(0)),
        (None, None),
    ],
)
def test_numbers_and_go_durations_are_read(value, expected):
    assert keep_alive({"keep_alive": value} if value is not None else {}) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("120", 'time: missing unit in duration "120"'),
        ("1.5", 'time: missing unit in duration "1.5"'),
        ("soon", "time: invalid duration 'soon'"),
        (True, "keep_alive must be a number or a duration"),
    ],
)
def test_strings_without_a_unit_are_refused_like_ollama_does(value, message):
    with pytest.raises(HttpError) as caught:
        keep_alive({"keep_alive": value})
    assert caught.value.status == 400
    assert caught.value.message == message
