"""client_ip(): forwarded headers count only from trusted proxies; API Gateway's source IP wins,
except over the viewer address CloudFront vouches for with its origin secret."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from stratus.runtime_secrets import reset_runtime_secrets
from stratus.settings import reset_settings
from stratus.web.client_ip import client_ip, request_client_ip
from tests.support.services import patched_environ

LOOPBACK = ("127.0.0.1",)


def scope(
    peer: str | None = "127.0.0.1",
    forwarded: list[str] | None = None,
    event: dict[str, Any] | None = None,
) -> Any:
    headers = [(b"host", b"api.example")]
    headers += [(b"x-forwarded-for", value.encode("latin-1")) for value in forwarded or []]
    result: dict[str, Any] = {
        "type": "http",
        "headers": headers,
        "client": (peer, 51234) if peer is not None else None,
    }
    if event is not None:
        result["aws.event"] = event
    return result


def test_without_forwarded_header_the_peer_is_the_client():
    assert client_ip(scope("203.0.113.7"), LOOPBACK) == "203.0.113.7"


def test_untrusted_peer_cannot_spoof_with_forwarded_header():
    forged = scope("203.0.113.7", ["1.2.3.4"])
    assert client_ip(forged, LOOPBACK) == "203.0.113.7"


def test_trusted_peer_forwards_the_client():
    assert client_ip(scope("127.0.0.1", ["198.51.100.9"]), LOOPBACK) == "198.51.100.9"


def test_trusted_peer_takes_the_right_most_untrusted_hop():
    # The client forged "6.6.6.6" in front; our trusted proxies appended the rest.
    hops = ["6.6.6.6, 198.51.100.9, 10.0.0.5"]
    trusted = ("127.0.0.1", "10.0.0.5")
    assert client_ip(scope("127.0.0.1", hops), trusted) == "198.51.100.9"


def test_repeated_forwarded_headers_are_one_list():
    hops = ["6.6.6.6", "198.51.100.9, 10.0.0.5"]
    trusted = ("127.0.0.1", "10.0.0.5")
    assert client_ip(scope("127.0.0.1", hops), trusted) == "198.51.100.9"


def test_cidr_entries_are_trusted():
    trusted = ("10.0.0.0/8", "fd00::/8")
    hops = ["198.51.100.9, 10.1.2.3, 10.200.0.1"]
    assert client_ip(scope("10.9.9.9", hops), trusted) == "198.51.100.9"
    assert client_ip(scope("fd00::1", ["2001:db8::5"]), trusted) == "2001:db8::5"
    # outside the range: the header is ignored
    assert client_ip(scope("11.0.0.1", hops), trusted) == "11.0.0.1"


def test_star_trusts_every_hop_and_the_left_most_is_the_client():
    hops = ["198.51.100.9, 10.0.0.5"]
    assert client_ip(scope("203.0.113.7", hops), ("*",)) == "198.51.100.9"


def test_all_hops_trusted_falls_back_to_the_first():
    trusted = ("127.0.0.1", "10.0.0.0/8")
    assert client_ip(scope("127.0.0.1", ["10.0.0.1, 10.0.0.2"]), trusted) == "10.0.0.1"


def test_non_utf8_forwarded_header_from_trusted_peer_does_not_crash():
    # Header bytes are latin-1 per ASGI; a garbage first hop must not raise UnicodeDecodeError.
    raw = scope("127.0.0.1")
    raw["headers"].append((b"x-forwarded-for", b"\xe9t\xe9, 198.51.100.9"))
    assert client_ip(raw, LOOPBACK) == "198.51.100.9"


def test_missing_client_is_reported_as_unknown():
    assert client_ip(scope(None), LOOPBACK) == "unknown"


def test_malformed_trusted_entries_are_skipped():
    trusted = ("not-an-ip/99", "127.0.0.1")
    assert client_ip(scope("127.0.0.1", ["198.51.100.9"]), trusted) == "198.51.100.9"
    assert client_ip(scope("203.0.113.7", ["1.2.3.4"]), trusted) == "203.0.113.7"


def _v1_event(source_ip: str) -> dict[str, Any]:
    return {"version": "1.0", "requestContext": {"identity": {"sourceIp": source_ip}}}


def _v2_event(source_ip: str) -> dict[str, Any]:
    return {"version": "2.0", "requestContext": {"http": {"sourceIp": source_ip}}}


@pytest.mark.parametrize("make_event", [_v1_event, _v2_event], ids=["rest-v1", "http-v2"])
@pytest.mark.parametrize("trusted", [LOOPBACK, ("*",)], ids=["loopback", "star"])
def test_api_gateway_source_ip_wins_over_headers(make_event, trusted):
    # GIVEN Mangum's scope: the peer is a placeholder and the client sent a forged header
    forged = scope("127.0.0.1", ["6.6.6.6"], event=make_event("198.51.100.42"))
    assert client_ip(forged, trusted) == "198.51.100.42"


def test_gateway_event_without_source_ip_falls_back_to_the_peer():
    event = {"requestContext": {"http": {"sourceIp": ""}}}
    assert client_ip(scope("203.0.113.7", ["6.6.6.6"], event=event), LOOPBACK) == "203.0.113.7"


ipv4 = st.ip_addresses(v=4).map(str)
# Header values are bytes; anything latin-1 can carry may arrive, not only addresses.
latin1_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=20)
hop_lists = st.lists(st.one_of(ipv4, latin1_text), max_size=5)


@given(
    peer=ipv4.filter(lambda ip: not ipaddress.ip_address(ip).is_loopback),
    hops=hop_lists,
)
def test_property_untrusted_peer_is_always_the_answer(peer, hops):
    headers = [", ".join(hops)] if hops else []
    assert client_ip(scope(peer, headers), LOOPBACK) == peer


def _address(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


@given(hops=st.lists(st.one_of(ipv4, latin1_text), max_size=5))
def test_property_trusted_peer_answer_is_an_address_from_the_header_or_the_peer(hops):
    header = ",".join(hops)
    answer = client_ip(scope("127.0.0.1", [header] if hops else []), LOOPBACK)
    addresses = {a for hop in header.split(",") if (a := _address(hop))}
    assert answer in addresses if addresses else answer == "127.0.0.1"


@pytest.mark.parametrize(
    "header",
    [
        "not-an-ip, 198.51.100.9",
        "198.51.100.9, not-an-ip",
        "198.51.100.9, 198.51.100.9:443",
        "198.51.100.9,unknown, ,",
    ],
)
def test_hops_that_are_not_addresses_are_ignored(header):
    # A trusted proxy never appends junk, so junk came from the client and must not key a limit.
    assert client_ip(scope("127.0.0.1", [header]), LOOPBACK) == "198.51.100.9"


def test_only_junk_hops_leave_the_peer():
    assert client_ip(scope("127.0.0.1", ["junk-1, junk-2"]), LOOPBACK) == "127.0.0.1"


def test_addresses_are_canonical_so_one_client_has_one_spelling():
    assert client_ip(scope("127.0.0.1", ["2001:DB8:0:0::7"]), LOOPBACK) == "2001:db8::7"


def test_nobody_is_trusted_with_an_empty_list():
    assert client_ip(scope("127.0.0.1", ["198.51.100.9"]), ()) == "127.0.0.1"


def _adapter_header(context: dict[str, Any]) -> Any:
    raw = scope("127.0.0.1", ["6.6.6.6"])
    raw["headers"].append((b"x-amzn-request-context", json.dumps(context).encode()))
    return raw


ADAPTER_CONTEXTS = [
    pytest.param({"requestId": "r", "http": {"sourceIp": "198.51.100.42"}}, id="http-api"),
    pytest.param({"requestId": "r", "identity": {"sourceIp": "198.51.100.42"}}, id="rest-api"),
]


@pytest.mark.parametrize("context", ADAPTER_CONTEXTS)
def test_under_the_web_adapter_in_lambda_the_request_context_header_wins(context):
    raw = _adapter_header(context)
    assert client_ip(raw, ("*",), trust_adapter_context=True) == "198.51.100.42"


@pytest.mark.parametrize("context", ADAPTER_CONTEXTS)
def test_outside_lambda_a_request_context_header_is_just_a_client_header(context):
    assert client_ip(_adapter_header(context), ()) == "127.0.0.1"


@pytest.mark.parametrize(
    "raw_header", [b"not json", b"[]", b'{"http": {"sourceIp": "evil"}}', b'{"http": 7}']
)
def test_a_malformed_adapter_header_falls_back_to_the_peer(raw_header):
    raw = scope("203.0.113.7")
    raw["headers"].append((b"x-amzn-request-context", raw_header))
    assert client_ip(raw, (), trust_adapter_context=True) == "203.0.113.7"


def test_mangum_event_wins_over_an_adapter_header():
    raw = _adapter_header({"http": {"sourceIp": "6.6.6.6"}})
    raw["aws.event"] = _v2_event("198.51.100.42")
    assert client_ip(raw, (), trust_adapter_context=True) == "198.51.100.42"


@pytest.mark.parametrize(
    ("function_name", "expected"),
    [("stratus-chat", "198.51.100.42"), (None, "127.0.0.1")],
    ids=["in-lambda", "local"],
)
def test_request_client_ip_trusts_the_adapter_header_only_in_lambda(
    monkeypatch, function_name, expected
):
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    if function_name:
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", function_name)
    else:
        monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    reset_settings()
    try:
        raw = _adapter_header({"http": {"sourceIp": "198.51.100.42"}})
        assert request_client_ip(raw) == expected
    finally:
        monkeypatch.undo()
        reset_settings()


# Through CloudFront: the viewer's address in a header, vouched for by CloudFront's secret.
CDN_SECRET = "cdn-origin-secret-0123456789abcdef"
CLOUDFRONT_SERVER = "130.176.0.10"  # what API Gateway sees as sourceIp through CloudFront
VIEWER = "198.51.100.42"


def _through_cdn(raw: Any, *, verify: str | None = CDN_SECRET, viewer: str | None = VIEWER) -> Any:
    if verify is not None:
        raw["headers"].append((b"x-stratus-origin-verify", verify.encode("latin-1")))
    if viewer is not None:
        raw["headers"].append((b"x-stratus-viewer-address", viewer.encode("latin-1")))
    return raw


def _mangum_scope(make_event: Any = _v1_event, **headers: Any) -> Any:
    return _through_cdn(scope("127.0.0.1", event=make_event(CLOUDFRONT_SERVER)), **headers)


def _adapter_scope(**headers: Any) -> Any:
    raw = scope("127.0.0.1")
    context = {"requestId": "r", "identity": {"sourceIp": CLOUDFRONT_SERVER}}
    raw["headers"].append((b"x-amzn-request-context", json.dumps(context).encode()))
    return _through_cdn(raw, **headers)


@pytest.mark.parametrize("make_event", [_v1_event, _v2_event], ids=["rest-v1", "http-v2"])
def test_through_cloudfront_a_vouched_viewer_address_wins_under_mangum(make_event):
    raw = _mangum_scope(make_event)
    assert client_ip(raw, (), trust_adapter_context=True, cdn_secret=CDN_SECRET) == VIEWER


def test_through_cloudfront_a_vouched_viewer_address_wins_under_the_web_adapter():
    raw = _adapter_scope()
    assert client_ip(raw, (), trust_adapter_context=True, cdn_secret=CDN_SECRET) == VIEWER


def test_the_viewer_address_is_canonical():
    raw = _mangum_scope(viewer="2001:DB8:0:0::7")
    assert client_ip(raw, (), trust_adapter_context=True, cdn_secret=CDN_SECRET) == "2001:db8::7"


UNVOUCHED = [
    pytest.param({"verify": "cdn-origin-secret-0123456789abcdeX"}, CDN_SECRET, id="wrong-secret"),
    pytest.param({"verify": CDN_SECRET[:-1]}, CDN_SECRET, id="secret-prefix"),
    pytest.param({"verify": ""}, CDN_SECRET, id="empty-verify"),
    pytest.param({"verify": None}, CDN_SECRET, id="no-verify-header"),
    pytest.param({"verify": "\xe9t\xe9"}, CDN_SECRET, id="non-ascii-verify"),
    pytest.param({}, None, id="no-secret-configured"),
    pytest.param({"viewer": "not-an-ip"}, CDN_SECRET, id="viewer-not-an-ip"),
    pytest.param({"viewer": "198.51.100.42:443"}, CDN_SECRET, id="viewer-with-port"),
    pytest.param({"viewer": "6.6.6.6, 198.51.100.42"}, CDN_SECRET, id="viewer-list"),
    pytest.param({"viewer": None}, CDN_SECRET, id="no-viewer-header"),
]


@pytest.mark.parametrize(("headers", "secret"), UNVOUCHED)
@pytest.mark.parametrize("path", ["mangum", "adapter"])
def test_without_cloudfronts_word_the_gateway_source_ip_stands(headers, secret, path):
    raw = _mangum_scope(**headers) if path == "mangum" else _adapter_scope(**headers)
    assert client_ip(raw, ("*",), trust_adapter_context=True, cdn_secret=secret) == (
        CLOUDFRONT_SERVER
    )


@pytest.mark.parametrize("path", ["mangum", "adapter"])
def test_a_client_sent_viewer_address_alone_changes_nothing(path):
    raw = _mangum_scope(verify=None) if path == "mangum" else _adapter_scope(verify=None)
    assert client_ip(raw, (), trust_adapter_context=True) == CLOUDFRONT_SERVER
    assert client_ip(raw, (), trust_adapter_context=True, cdn_secret=CDN_SECRET) == (
        CLOUDFRONT_SERVER
    )


def test_a_second_copy_of_either_header_voids_cloudfronts_word():
    # CloudFront sends each once; a repeated one was added on the way, so neither counts.
    repeated_viewer = _through_cdn(_mangum_scope(), verify=None, viewer="6.6.6.6")
    repeated_verify = _through_cdn(_mangum_scope(), viewer=None)
    for raw in (repeated_viewer, repeated_verify):
        assert client_ip(raw, (), cdn_secret=CDN_SECRET) == CLOUDFRONT_SERVER


def test_outside_lambda_cloudfronts_headers_are_ignored():
    # No gateway event and no trusted adapter context: the peer (or a trusted proxy) decides.
    raw = _through_cdn(scope("203.0.113.7"))
    assert client_ip(raw, (), cdn_secret=CDN_SECRET) == "203.0.113.7"


@pytest.mark.parametrize(
    ("function_name", "expected"),
    [("stratus-auth", VIEWER), (None, "127.0.0.1")],
    ids=["in-lambda", "local"],
)
def test_request_client_ip_takes_the_secret_from_secrets_manager_in_lambda(function_name, expected):
    with (
        patched_environ(
            {"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing"},
            remove=("AWS_ENDPOINT_URL", "FORWARDED_ALLOW_IPS", "AWS_LAMBDA_FUNCTION_NAME"),
        ),
        patched_environ({"AWS_SECRET_ACCESS_KEY": "testing"}),
        mock_aws(),
    ):
        client = boto3.client("secretsmanager", region_name="us-east-1")
        arn = client.create_secret(Name="stratus/cdn-origin", SecretString=CDN_SECRET)["ARN"]
        env = {"STRATUS_CDN_ORIGIN_SECRET_ARN": arn}
        if function_name:
            env["AWS_LAMBDA_FUNCTION_NAME"] = function_name
        with patched_environ(env):
            reset_runtime_secrets()
            try:
                # Outside Lambda no gateway context is trusted, so the peer (loopback) stands.
                assert request_client_ip(_adapter_scope()) == expected
                assert request_client_ip(_adapter_scope(verify="wrong")) == (
                    CLOUDFRONT_SERVER if function_name else "127.0.0.1"
                )
            finally:
                reset_runtime_secrets()
