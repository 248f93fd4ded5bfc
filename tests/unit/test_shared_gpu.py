"""The shared-GPU guard as a pure function (matrix row 34): table-tested."""

from __future__ import annotations

from typing import Any

import pytest

from functions.chat.translate.shared_gpu import (
    GpuLimits,
    OperatorChoice,
    guard,
    keep_alive_seconds,
)
from stratus.errors import ValidationError

LIMITS = GpuLimits(max_keep_alive_seconds=1800, max_num_ctx=32768)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (-1, -1.0),
        ("-1", -1.0),
        ("-1m", -60.0),
        (0, 0.0),
        ("0", 0.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("1.5h", 5400.0),
        ("300ms", 0.3),
        (42.5, 42.5),
        ("1000h", 3_600_000.0),
    ],
)
def test_keep_alive_reads_as_ollama_reads_it(value: Any, seconds: float):
    assert keep_alive_seconds(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["forever", "", "m", "-", True, None, [1], "5 m", "--1m"])
def test_keep_alive_that_ollama_would_refuse_is_a_422(value: Any):
    with pytest.raises(ValidationError, match="keep_alive"):
        keep_alive_seconds(value)


def test_a_user_cannot_choose_hardware_and_the_input_is_left_alone():
    body = {
        "model": "m",
        "keep_alive": -1,
        "options": {"num_gpu": 99, "num_ctx": 10**6, "top_k": 5},
    }
    guarded = guard(body, admin=False, limits=LIMITS, operator=OperatorChoice())
    assert guarded == {"model": "m", "options": {"num_ctx": 32768, "top_k": 5}}
    assert body["keep_alive"] == -1  # a copy was guarded


def test_options_that_empty_out_disappear_and_junk_num_ctx_is_refused():
    guarded = guard(
        {"model": "m", "options": {"num_thread": 8}},
        admin=False,
        limits=LIMITS,
        operator=OperatorChoice(),
    )
    assert "options" not in guarded
    with pytest.raises(ValidationError, match=r"options\.num_ctx"):
        guard(
            {"model": "m", "options": {"num_ctx": "big"}},
            admin=False,
            limits=LIMITS,
            operator=OperatorChoice(),
        )


def test_the_operator_wins_for_admins_too():
    operator = OperatorChoice(keep_alive="2h", num_ctx=65536)
    for admin in (False, True):
        guarded = guard(
            {"model": "m", "keep_alive": 5, "options": {"num_ctx": 4}},
            admin=admin,
            limits=LIMITS,
            operator=operator,
        )
        assert guarded["keep_alive"] == "2h"
        assert guarded["options"] == {"num_ctx": 65536}
