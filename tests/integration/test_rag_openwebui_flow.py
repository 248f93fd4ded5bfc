"""Open WebUI's documented RAG flow, unchanged, over real HTTP: upload, wait for processing,
add to a knowledge collection, query it. (Chatting with the collection comes with chat.)

Each step is written as the API page's Python examples write it, so a script built from them
works against Stratus as it is.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from local.composed import create_local_app
from tests.support.auth import unique_email
from tests.support.documents import make_pdf
from tests.support.live_server import live_server
from tests.support.log_capture import remember
from tests.support.rag import rag_env

__all__ = ["rag_env"]

GUIDE = (
    b"Onboarding guide.\n\nNew staff receive a laptop on their first day.\n\n"
    b"The cafeteria serves lunch from noon until two o'clock."
)


@pytest.fixture
def webui(rag_env) -> Iterator[tuple[str, str]]:
    with live_server(create_local_app()) as server:
        email, password = unique_email(), remember("flow-user-password-1")
        signed = httpx.post(
            server.base_url + "/api/v1/auths/signup",
            json={"name": "Flow", "email": email, "password": password},
        )
        assert signed.status_code == 200
        yield server.base_url, remember(signed.json()["token"])


def upload_file(url: str, token: str, file_path: Path) -> Any:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    with file_path.open("rb") as f:
        return httpx.post(f"{url}/api/v1/files/", headers=headers, files={"file": f})


def wait_for_file_processing(url: str, token: str, file_id: str, timeout: float = 30) -> Any:
    endpoint = f"{url}/api/v1/files/{file_id}/process/status"
    headers = {"Authorization": f"Bearer {token}"}
    start_time = time.time()
    while time.time() - start_time < timeout:
        result = httpx.get(endpoint, headers=headers).json()
        status = result.get("status")
        if status == "completed":
            return result
        if status == "failed":
            raise AssertionError(f"File processing failed: {result.get('error')}")
        time.sleep(0.1)
    raise TimeoutError("File processing did not complete")


def test_upload_wait_add_to_knowledge_and_query(webui, tmp_path):
    url, token = webui
    guide = tmp_path / "onboarding.txt"
    guide.write_bytes(GUIDE)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    response = upload_file(url, token, guide)
    assert response.status_code == 200, response.text
    file_id = response.json()["id"]

    wait_for_file_processing(url, token, file_id)

    created = httpx.post(
        f"{url}/api/v1/knowledge/create",
        headers={**headers, "Content-Type": "application/json"},
        json={"name": "Handbook", "description": "Staff handbook"},
    )
    assert created.status_code == 200, created.text
    knowledge_id = created.json()["id"]
    listed = httpx.get(f"{url}/api/v1/knowledge/", headers=headers).json()
    assert knowledge_id in [k["id"] for k in listed["items"]]

    add_response = httpx.post(
        f"{url}/api/v1/knowledge/{knowledge_id}/file/add",
        headers={**headers, "Content-Type": "application/json"},
        json={"file_id": file_id},
    )
    assert add_response.status_code == 200, add_response.text

    query = httpx.post(
        f"{url}/api/v1/retrieval/query/collection",
        headers=headers,
        json={"collection_names": [knowledge_id], "query": "when is lunch served", "k": 1},
    )
    assert query.status_code == 200, query.text
    assert "cafeteria serves lunch" in query.json()["documents"][0][0]


def test_the_status_stream_ends_when_processing_does(webui, tmp_path):
    url, token = webui
    manual = tmp_path / "manual.pdf"
    manual.write_bytes(make_pdf([["Press the green button to start."]]))
    file_id = upload_file(url, token, manual).json()["id"]
    events = []
    with httpx.stream(
        "GET",
        f"{url}/api/v1/files/{file_id}/process/status?stream=true",
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    assert events[-1] == {"status": "completed", "state": "ready"}
