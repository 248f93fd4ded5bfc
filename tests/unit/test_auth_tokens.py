"""The token codec alone: pinned algorithm and header, required claims, mutated claims."""

from __future__ import annotations

import time

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stratus.auth.tokens import ALGORITHM, InvalidTokenError, TokenCodec
from tests.support import jwt_forge

KEY = "unit-test-signing-key-0123456789abcdef-XYZ"
REQUIRED = ("sub", "exp", "iat", "jti", "ver")


def _codec() -> TokenCodec:
    return TokenCodec(KEY, lifetime_seconds=3600)


def test_issued_token_round_trips_with_every_claim():
    token, claims = _codec().issue("user-1", 7)
    decoded = _codec().verify(token)
    assert decoded == claims
    assert jwt.get_unverified_header(token) == {"alg": ALGORITHM, "typ": "JWT"}
    payload = jwt_forge.claims_of(token)
    assert set(payload) == set(REQUIRED)
    assert payload["exp"] - payload["iat"] == 3600
    assert len(payload["jti"]) == 32


def test_each_token_has_its_own_jti():
    assert _codec().issue("u", 0)[1].session_id != _codec().issue("u", 0)[1].session_id


@pytest.mark.parametrize("missing", REQUIRED)
def test_every_claim_is_required(missing):
    token, _ = _codec().issue("user-1", 0)
    claims = jwt_forge.claims_of(token)
    del claims[missing]
    with pytest.raises(InvalidTokenError):
        _codec().verify(jwt.encode(claims, KEY, algorithm=ALGORITHM))


@pytest.mark.parametrize("header", ["kid", "jku", "jwk", "x5u", "x5c", "crit", "cty"])
def test_extra_headers_are_refused_even_with_a_valid_signature(header):
    token, _ = _codec().issue("user-1", 0)
    claims = jwt_forge.claims_of(token)
    forged = jwt_forge.hs256({"alg": "HS256", "typ": "JWT", header: "x"}, claims, KEY.encode())
    with pytest.raises(InvalidTokenError):
        _codec().verify(forged)


def test_expired_token_is_refused_with_no_leeway():
    codec = TokenCodec(KEY, lifetime_seconds=1, clock=lambda: time.time() - 2)
    token, _ = codec.issue("user-1", 0)
    with pytest.raises(InvalidTokenError):
        _codec().verify(token)


_claim_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.text(max_size=80),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(REQUIRED), value=_claim_values)
def test_mutating_a_claim_and_resigning_with_another_key_always_fails(name, value):
    token, _ = _codec().issue("user-1", 3)
    claims = jwt_forge.claims_of(token)
    claims[name] = value
    forged = jwt_forge.hs256({"alg": "HS256", "typ": "JWT"}, claims, b"attacker-key")
    with pytest.raises(InvalidTokenError):
        _codec().verify(forged)


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(REQUIRED), value=_claim_values)
def test_a_claim_of_the_wrong_type_fails_even_when_signed_with_the_real_key(name, value):
    token, original = _codec().issue("user-1", 3)
    claims = jwt_forge.claims_of(token)
    claims[name] = value
    forged = jwt_forge.hs256({"alg": "HS256", "typ": "JWT"}, claims, KEY.encode())
    try:
        decoded = _codec().verify(forged)
    except InvalidTokenError:
        return
    # Accepted only when the value is well typed and unexpired; the session lookup decides the
    # rest. Anything else getting through would be a parsing hole.
    if name in {"sub", "jti"}:
        assert isinstance(value, str)
        assert 0 < len(value) <= 64
    else:
        assert isinstance(value, int)
        assert not isinstance(value, bool)
    assert decoded.expires_at > time.time()
    assert original.user_id == decoded.user_id or name == "sub"


@settings(max_examples=200, deadline=None)
@given(position=st.integers(min_value=0), replacement=st.characters(codec="ascii"))
def test_changing_any_character_never_yields_different_valid_claims(position, replacement):
    token, original = _codec().issue("user-1", 3)
    index = position % len(token)
    mutated = token[:index] + replacement + token[index + 1 :]
    try:
        decoded = _codec().verify(mutated)
    except InvalidTokenError:
        return
    # Base64 has spare bits in its last character; a change there may decode the same.
    assert decoded == original
