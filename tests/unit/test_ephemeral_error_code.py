"""Reading DynamoDB's error code from pynamodb errors, including those with no response."""

from __future__ import annotations

from pynamodb.exceptions import UpdateError

from stratus.ephemeral.store import error_code


class _Cause(Exception):
    def __init__(self, response):
        super().__init__("cause")
        self.response = response


def test_the_code_of_a_conditional_failure():
    cause = _Cause({"Error": {"Code": "ConditionalCheckFailedException"}})
    assert error_code(UpdateError("x", cause=cause)) == "ConditionalCheckFailedException"


def test_a_timeout_has_no_response_and_no_code():
    assert error_code(UpdateError("x", cause=_Cause(None))) is None
    assert error_code(UpdateError("x", cause=TimeoutError())) is None
    assert error_code(UpdateError("x")) is None
