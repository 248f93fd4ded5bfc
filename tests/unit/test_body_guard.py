"""Each route takes the body media type it declares (415 otherwise), and JSON must be UTF-8 (400).

A small app with the shared plugin: a JSON route and a multipart route (as rag's upload will be),
under /v1 and elsewhere, so both error shapes are checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import msgspec
import pytest
from litestar import Litestar, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, JSONBody, RawBody
from litestar.testing import TestClient

from stratus.web.access import Access, access
from stratus.web.body import accepts
from stratus.web.plugin import StratusPlugin

PUBLIC = access(Access.PUBLIC)


class Item(msgspec.Struct):
    name: str


class Upload(msgspec.Struct):
    file: UploadFile


@post("/api/items", opt=PUBLIC, sync_to_thread=False)
def api_items(data: JSONBody[Item]) -> dict[str, str]:
    return {"name": data.name}


@post("/v1/items", opt=PUBLIC, sync_to_thread=False)
def v1_items(data: JSONBody[Item]) -> dict[str, str]:
    return {"name": data.name}


@post("/api/files", opt=PUBLIC)
async def upload(
    data: Annotated[Upload, Body(media_type=RequestEncodingType.MULTI_PART)],
) -> dict[str, Any]:
    content = await data.file.read()
    return {"filename": data.file.filename, "size": len(content)}


@post("/api/raw", opt=PUBLIC, sync_to_thread=False)
def raw(body: RawBody) -> dict[str, int]:
    return {"size": len(body)}


@post("/api/csv", opt={**PUBLIC, **accepts("text/csv")}, sync_to_thread=False)
def csv(body: RawBody) -> dict[str, int]:
    return {"size": len(body)}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient[Litestar]]:
    app = Litestar(
        [api_items, v1_items, upload, raw, csv],
        plugins=[StratusPlugin(service="t", readiness=())],
    )
    with TestClient(app) as test_client:
        yield test_client


def _message(response: Any) -> str:
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    if "error" in body:
        return str(body["error"]["message"])
    return str(body["detail"])


@pytest.mark.parametrize("prefix", ["/api", "/v1"])
@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_json_route_refuses_other_media_types_with_415(client, prefix, content_type):
    response = client.post(
        f"{prefix}/items", content=b'{"name": "a"}', headers={"content-type": content_type}
    )
    assert response.status_code == 415, response.text
    assert "application/json" in _message(response)


def test_form_post_is_415_not_a_json_parse_error(client):
    response = client.post("/api/items", data={"name": "a"})
    assert response.status_code == 415
    assert "JSON is malformed" not in response.text


def test_body_without_content_type_is_415(client):
    response = client.post("/api/items", content=b'{"name": "a"}')
    assert response.status_code == 415
    assert "Content-Type" in _message(response)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
        "Application/JSON",
        "application/merge-patch+json",
        "application/vnd.stratus+json; charset=utf8",
    ],
)
def test_json_route_accepts_json_and_its_variants(client, content_type):
    response = client.post(
        "/api/items", content=b'{"name": "a"}', headers={"content-type": content_type}
    )
    assert response.status_code == 201, response.text
    assert response.json() == {"name": "a"}


def test_json_in_another_charset_is_415(client):
    response = client.post(
        "/api/items",
        content='{"name": "é"}'.encode("latin-1"),
        headers={"content-type": "application/json; charset=latin-1"},
    )
    assert response.status_code == 415
    assert "UTF-8" in _message(response)


@pytest.mark.parametrize("prefix", ["/api", "/v1"])
@pytest.mark.parametrize(
    "body", [b'{"name": "\xff"}', b'{"name": "\xc3"}', b'{"name": "\xed\xa0\x80"}']
)
def test_invalid_utf8_is_400_json(client, prefix, body):
    response = client.post(
        f"{prefix}/items", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert _message(response) == "The request body is not valid UTF-8."


@pytest.mark.parametrize(
    "body",
    [b'{"name": "a"', b'{"name": "\\ud800"}', b"\x00", b'{"name": "a\x00"}', b"{'name': 1}"],
)
def test_malformed_json_says_so_in_plain_words(client, body):
    response = client.post("/api/items", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert _message(response) == "The request body is not valid JSON."


def test_multipart_route_takes_an_upload(client):
    response = client.post("/api/files", files={"file": ("notes.txt", b"hello", "text/plain")})
    assert response.status_code == 201, response.text
    assert response.json() == {"filename": "notes.txt", "size": 5}


def test_multipart_route_refuses_json_with_415(client):
    response = client.post("/api/files", json={"file": "x"})
    assert response.status_code == 415
    assert "multipart/form-data" in _message(response)


def test_bytes_route_takes_any_media_type(client):
    response = client.post(
        "/api/raw", content=b"\xff\x00", headers={"content-type": "application/octet-stream"}
    )
    assert response.status_code == 201
    assert response.json() == {"size": 2}


def test_route_can_list_its_media_types_in_opt(client):
    ok = client.post("/api/csv", content=b"a,b\n", headers={"content-type": "text/csv"})
    assert ok.status_code == 201
    refused = client.post("/api/csv", content=b"a,b\n", headers={"content-type": "text/plain"})
    assert refused.status_code == 415


def test_empty_post_without_content_type_is_not_415(client):
    # No body, nothing to judge: validation says what is missing.
    response = client.post("/api/items")
    assert response.status_code in (400, 422)
    assert response.status_code != 415
