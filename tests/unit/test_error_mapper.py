"""The one error mapper: status codes, the two body shapes, validation detail and no leaks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pytest
from litestar import Litestar, get, post
from litestar.params import FromPath, JSONBody
from litestar.testing import TestClient

from stratus import errors
from stratus.web.access import Access, access
from stratus.web.plugin import StratusPlugin

SECRET = "hunter2-s3cr3t"
LEAKY_MESSAGE = (
    f"could not open /var/task/functions/chat/service.py via "
    f"postgresql://admin:{SECRET}@db.internal.example:5432/stratus"
)

# kind -> (exception factory, status, OpenAI error type, code)
CASES: dict[str, tuple[Callable[[], Exception], int, str, str | None]] = {
    "bad_request": (
        lambda: errors.BadRequestError("bad thing"),
        400,
        "invalid_request_error",
        None,
    ),
    "validation": (
        lambda: errors.ValidationError("name is too long", param="name"),
        422,
        "invalid_request_error",
        None,
    ),
    "authentication": (
        lambda: errors.AuthenticationError("who are you"),
        401,
        "authentication_error",
        "invalid_api_key",
    ),
    "permission": (lambda: errors.PermissionDeniedError("no"), 403, "permission_error", None),
    "not_found": (lambda: errors.NotFoundError("no such chat"), 404, "not_found_error", None),
    "model_not_found": (
        lambda: errors.ModelNotFoundError("no such model"),
        404,
        "not_found_error",
        "model_not_found",
    ),
    "conflict": (lambda: errors.ConflictError("exists"), 409, "conflict_error", None),
    "too_large": (
        lambda: errors.PayloadTooLargeError("too big"),
        413,
        "invalid_request_error",
        None,
    ),
    "rate_limited": (
        lambda: errors.RateLimitedError("slow down", retry_after=30),
        429,
        "rate_limit_error",
        "rate_limit_exceeded",
    ),
    "upstream": (lambda: errors.UpstreamError("model host said no"), 502, "upstream_error", None),
    "unavailable": (
        lambda: errors.ServiceUnavailableError("db down", retry_after=2),
        503,
        "service_unavailable",
        None,
    ),
    "model_host_unavailable": (
        lambda: errors.ModelHostUnavailableError("gpu asleep"),
        503,
        "service_unavailable",
        "model_host_unavailable",
    ),
    "config": (lambda: errors.ConfigError("DATABASE_URL is not set"), 500, "server_error", None),
}


class Item(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    count: int


def _raise(kind: str) -> None:
    if kind == "runtime":
        raise RuntimeError(LEAKY_MESSAGE)
    factory = CASES[kind][0]
    raise factory()


@get("/v1/raise/{kind:str}", opt=access(Access.PUBLIC), sync_to_thread=False)
def v1_raise(kind: FromPath[str]) -> None:
    _raise(kind)


@get("/api/raise/{kind:str}", opt=access(Access.PUBLIC), sync_to_thread=False)
def api_raise(kind: FromPath[str]) -> None:
    _raise(kind)


@post("/v1/items", opt=access(Access.PUBLIC), sync_to_thread=False)
def v1_items(data: JSONBody[Item]) -> dict[str, Any]:
    return {"name": data.name, "count": data.count}


@post("/api/items", opt=access(Access.PUBLIC), sync_to_thread=False)
def api_items(data: JSONBody[Item]) -> dict[str, Any]:
    return {"name": data.name, "count": data.count}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient[Litestar]]:
    app = Litestar(
        [v1_raise, api_raise, v1_items, api_items],
        plugins=[StratusPlugin(service="t", readiness=())],
        request_max_body_size=1024,
    )
    with TestClient(app) as test_client:
        yield test_client


def _assert_json(response: Any) -> Any:
    assert response.headers["content-type"].startswith("application/json"), response.headers
    return response.json()


def _assert_openai_shape(body: Any) -> dict[str, Any]:
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str)
    assert error["message"]
    return error


def _assert_detail_shape(body: Any) -> str:
    assert set(body) == {"detail"}, body
    detail: str = body["detail"]
    assert isinstance(detail, str)
    assert detail
    return detail


@pytest.mark.parametrize("kind", sorted(CASES))
def test_v1_routes_answer_in_openai_shape(client, kind):
    _, status, error_type, code = CASES[kind]
    response = client.get(f"/v1/raise/{kind}")
    assert response.status_code == status
    error = _assert_openai_shape(_assert_json(response))
    assert error["type"] == error_type
    assert error["code"] == code
    assert error["message"] == CASES[kind][0]().args[0]


@pytest.mark.parametrize("kind", sorted(CASES))
def test_other_routes_answer_with_detail(client, kind):
    factory, status, _, _ = CASES[kind]
    response = client.get(f"/api/raise/{kind}")
    assert response.status_code == status
    assert _assert_detail_shape(_assert_json(response)) == factory().args[0]


def test_param_is_carried_in_openai_shape(client):
    error = _assert_openai_shape(client.get("/v1/raise/validation").json())
    assert error["param"] == "name"


@pytest.mark.parametrize("prefix", ["/v1", "/api"])
def test_rate_limit_and_unavailable_carry_retry_after(client, prefix):
    assert client.get(f"{prefix}/raise/rate_limited").headers["retry-after"] == "30"
    assert client.get(f"{prefix}/raise/unavailable").headers["retry-after"] == "2"


def test_retry_after_is_never_below_one_second():
    assert errors.RateLimitedError("x", retry_after=0).headers == {"Retry-After": "1"}


@pytest.mark.parametrize("prefix", ["/v1", "/api"])
def test_unexpected_error_is_a_generic_500_without_internals(client, prefix):
    # GIVEN a route that fails with a message full of internals (a path, a URL with a password)
    response = client.get(f"{prefix}/raise/runtime")
    # THEN the client learns only that it failed
    assert response.status_code == 500
    body = _assert_json(response)
    message = (
        _assert_openai_shape(body)["message"] if prefix == "/v1" else _assert_detail_shape(body)
    )
    assert message == "Internal server error."
    for leak in (SECRET, "/var/task", "service.py", "postgresql://", "db.internal", "Traceback"):
        assert leak not in response.text
    assert "RuntimeError" not in response.text


def _post_items(client: TestClient[Litestar], prefix: str, body: object) -> tuple[int, str, Any]:
    response = client.post(f"{prefix}/items", json=body)
    payload = _assert_json(response)
    if prefix == "/v1":
        return response.status_code, _assert_openai_shape(payload)["message"], payload
    return response.status_code, _assert_detail_shape(payload), payload


@pytest.mark.parametrize("prefix", ["/v1", "/api"])
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "a"}, "count"),  # missing field
        ({"name": "a", "count": 1, "surprise": True}, "surprise"),  # unknown field
        ({"name": "a", "count": "three"}, "count"),  # wrong type
    ],
    ids=["missing", "unknown", "wrong-type"],
)
def test_invalid_body_is_422_naming_the_field(client, prefix, body, field):
    status, message, _ = _post_items(client, prefix, body)
    assert status == 422
    assert field in message


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "a", "count": "three"}, "count"),
        ({"name": "a"}, "count"),
        ({"name": "a", "count": 1, "surprise": True}, "surprise"),
    ],
    ids=["wrong-type", "missing", "unknown"],
)
def test_openai_param_names_the_offending_field(client, body, field):
    _, _, payload = _post_items(client, "/v1", body)
    assert payload["error"]["param"] == field
    assert payload["error"]["type"] == "invalid_request_error"


def test_valid_body_passes_validation(client):
    response = client.post("/v1/items", json={"name": "a", "count": 2})
    assert response.status_code == 201
    assert response.json() == {"name": "a", "count": 2}


@pytest.mark.parametrize("prefix", ["/v1", "/api"])
def test_malformed_json_is_a_400(client, prefix):
    response = client.post(
        f"{prefix}/items", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert _assert_json(response)


@pytest.mark.parametrize("prefix", ["/v1", "/api"])
def test_body_over_the_limit_is_413_json(client, prefix):
    response = client.post(
        f"{prefix}/items", content=b"x" * 4096, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert _assert_json(response)


def test_unknown_route_is_404_json_in_both_shapes(client):
    v1 = client.get("/v1/no/such/route")
    assert v1.status_code == 404
    assert _assert_openai_shape(_assert_json(v1))["type"] == "not_found_error"
    other = client.get("/api/no/such/route")
    assert other.status_code == 404
    _assert_detail_shape(_assert_json(other))


def test_wrong_method_is_405_json(client):
    v1 = client.delete("/v1/items")
    assert v1.status_code == 405
    assert _assert_openai_shape(_assert_json(v1))["type"] == "invalid_request_error"
    assert "POST" in v1.headers["allow"]
    other = client.put("/api/items")
    assert other.status_code == 405
    _assert_detail_shape(_assert_json(other))


def test_v1_shape_applies_only_to_the_v1_prefix(client):
    # "/v1x" is not under /v1: Open WebUI's shape applies
    response = client.get("/v1x/anything")
    assert response.status_code == 404
    _assert_detail_shape(_assert_json(response))


@pytest.mark.parametrize("prefix", ["/v1", "/api"])
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "a", "count": "three"}, "Invalid request: count: must be an integer."),
        ({"name": 3, "count": 1}, "Invalid request: name: must be a string."),
        ({"name": "a"}, "Invalid request: count: is required."),
        ({"name": "a", "count": 1, "role": 1}, "Invalid request: role: is not an accepted field."),
        ([1], "Invalid request: the request body must be a JSON object."),
    ],
    ids=["wrong-type", "wrong-type-str", "missing", "unknown", "not-an-object"],
)
def test_validation_messages_are_plain_words(client, prefix, body, message):
    status, said, _ = _post_items(client, prefix, body)
    assert status == 422
    assert said == message


@pytest.mark.parametrize("prefix", ["/v1", "/api"])
@pytest.mark.parametrize("body", [b'{"name": "a"', b'{"name": "\\ud800", "count": 1}', b"{x"])
def test_malformed_json_message_has_no_decoder_internals(client, prefix, body):
    response = client.post(
        f"{prefix}/items", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    payload = _assert_json(response)
    message = payload["error"]["message"] if prefix == "/v1" else payload["detail"]
    assert message == "The request body is not valid JSON."
