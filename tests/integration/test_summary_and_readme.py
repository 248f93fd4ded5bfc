"""The start-up summary and the README's API overview name only what this version serves."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from litestar.testing import AsyncTestClient

from local.composed import create_local_app
from local.lambda_bridge import create_lambda_mode_app
from local.summary import StackFacts, probe_model_host, summary_lines
from tests.conftest import UNREACHABLE_MODEL_HOST

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[2]
BASE = "http://127.0.0.1:3000"
URL = re.compile(r"https?://[^\s)]+")


def _summary(*, lambda_mode: bool) -> str:
    facts = StackFacts(
        data_dir=Path("/srv/stratus/data"),
        lambda_mode=lambda_mode,
        postgres="embedded, data in /srv/stratus/data/postgres",
        dynamodb="emulated by moto on http://127.0.0.1:4566",
        model_host_url=UNREACHABLE_MODEL_HOST,
        model_host_status=probe_model_host(UNREACHABLE_MODEL_HOST),
        migrations_applied=["0001.baseline"],
        base_url=BASE,
        startup_seconds=1.0,
    )
    return "\n".join(summary_lines(facts))


def _own_paths(text: str) -> list[str]:
    return [urlsplit(url).path for url in URL.findall(text) if url.startswith(BASE)]


@pytest.mark.parametrize("lambda_mode", [False, True], ids=["in-process", "lambda-mode"])
async def test_every_url_in_the_summary_is_served(auth_env, lambda_mode):
    paths = _own_paths(_summary(lambda_mode=lambda_mode))
    assert {"/", "/api/v1/auths/", "/docs", "/healthz", "/readyz"} <= set(paths)
    bridge = create_lambda_mode_app() if lambda_mode else None
    try:
        async with AsyncTestClient(bridge or create_local_app()) as client:
            # POST-only paths answer 405 to a GET: served, just not by that method.
            answers = {path: (await client.get(path)).status_code for path in paths}
    finally:
        if bridge:
            bridge.shutdown()
    assert {path: code for path, code in answers.items() if code == 404} == {}


def test_the_summary_claims_no_feature_this_version_lacks():
    text = _summary(lambda_mode=False)
    # Grounded chat is served (tests/integration/test_chat_grounded.py), and the summary says so.
    assert "grounded in files" in text
    for path in ("/api/v1/files/", "/api/v1/knowledge/", "/api/v1/retrieval/"):
        assert path in text, path
    assert "/v1/chat/completions" in text
    assert "NOT answering: sign-in, accounts and saved chats still work" in text


def _overview_paths() -> list[str]:
    """The paths in the first column of the README's API overview table."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("## API overview", 1)[1].split("\n## ", 1)[0]
    first_cells = re.findall(r"^\| (`[^|]*`) \|", section, re.MULTILINE)
    paths = [p for cell in first_cells for p in re.findall(r"`(?:[A-Z]+ )?(/[^`]*)`", cell)]
    # Path parameters are filled with a dummy id: a route that exists answers 405 or 4xx, not 404.
    return [re.sub(r"\{[^}]+\}", "x", p.replace("...", "")) for p in paths]


async def test_every_path_in_the_readme_api_overview_is_served(auth_env):
    paths = _overview_paths()
    assert {"/healthz", "/readyz", "/api/v1/auths/", "/api/v1/users/", "/docs"} <= set(paths)
    async with AsyncTestClient(create_local_app()) as client:
        answers = {path: (await client.get(path)).status_code for path in paths}
    assert {path: code for path, code in answers.items() if code == 404} == {}
