"""API-key format, hashing and credential extraction from headers."""

from __future__ import annotations

import hashlib
import string

import pytest

from stratus.auth import api_keys
from stratus.auth.authenticator import extract_credential
from stratus.errors import AuthenticationError


def test_generated_keys_are_sk_prefixed_with_192_random_bits():
    keys = {api_keys.generate() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert key.startswith("sk-")
        body = key.removeprefix("sk-")
        assert len(body) * 4 >= 128
        assert set(body) <= set(string.hexdigits.lower())
        assert api_keys.is_well_formed(key)


def test_only_a_hash_and_a_short_prefix_are_derived_for_storage():
    key = api_keys.generate()
    assert api_keys.digest(key) == hashlib.sha256(key.encode()).hexdigest()
    prefix = api_keys.display_prefix(key)
    assert key.startswith(prefix)
    assert len(prefix) == 11


@pytest.mark.parametrize(
    "candidate",
    [
        "sk-",
        "sk-" + "a" * 47,
        "sk-" + "a" * 49,
        "sk-" + "A" * 48,
        "sk-" + "g" * 48,
        "sk-' OR '1'='1",
        "sk-" + "a" * 40 + "';--  ",
        "sk-" + "é" * 48,
        "sk-" + "a" * 47 + "\n",
    ],
)
def test_malformed_keys_are_recognised_without_any_lookup(candidate):
    assert api_keys.looks_like_key(candidate)
    assert not api_keys.is_well_formed(candidate)


@pytest.mark.parametrize(
    ("authorization", "api_key", "expected"),
    [
        (["Bearer tok"], [], "tok"),
        (["bearer tok"], [], "tok"),
        (["BEARER  tok "], [], "tok"),
        ([], ["sk-abc"], "sk-abc"),
        (["Bearer sk-abc"], ["sk-abc"], "sk-abc"),
    ],
)
def test_credentials_come_from_either_header(authorization, api_key, expected):
    assert extract_credential(authorization, api_key) == expected


@pytest.mark.parametrize(
    ("authorization", "api_key"),
    [
        ([], []),
        (["Basic dXNlcjpwYXNz"], []),
        (["Bearer"], []),
        (["Bearer a b"], []),
        (["Bearer one", "Bearer two"], []),
        ([], ["sk-a", "sk-b"]),
        ([], ["not-a-key"]),
        (["Bearer sk-abc"], ["sk-def"]),
        (["Bearer " + "a" * 5000], []),
    ],
)
def test_missing_ambiguous_or_odd_credentials_are_401(authorization, api_key):
    with pytest.raises(AuthenticationError) as raised:
        extract_credential(authorization, api_key)
    assert raised.value.headers == {"WWW-Authenticate": "Bearer"}
