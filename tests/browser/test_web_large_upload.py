"""A file over the API's payload limit goes from the page straight to the uploads bucket.

GIVEN the stack storing files in S3 (moto's server, as the local stack can) with the bucket's
CORS rule as the template builds it (``infra.cdk.profiles.uploads_cors_rule``) for the page's
origin, WHEN a user uploads a 5 MB file on the Files page, THEN the page asks the API for a
presigned POST, sends the bytes to the bucket (Chromium enforcing CORS on the way), and
follows the file's processing once its object exists.

Two things differ from AWS, and are checked elsewhere: the page's Content-Security-Policy here
is the local one, which does not list moto's address (the context bypasses it; the CloudFront
policy's connect-src naming the bucket is checked in tests/infra/test_web.py), and moto sends no
S3 event, so the test asks for the processing itself (``/api/v1/retrieval/process/file``), as
functions/rag/README.md says a local stack against moto must.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from playwright.sync_api import Browser, FilePayload, Page, expect

from infra.cdk.profiles import LARGE_UPLOAD_BYTES, uploads_cors_rule
from local.emulator.testing import EmulatorHandle
from tests.support.web import WebStack, serve_web_stack, sign_in

LARGE = (b"Stratus sends large files straight to S3 with a presigned POST.\n" * 90_000)[
    : 5 * 1024 * 1024
]


@pytest.fixture
def bucket(auth_env: dict[str, str]) -> str:
    name = f"stratus-uploads-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_stack(bucket: str, emulator: EmulatorHandle) -> Iterator[WebStack]:
    env = {
        "STORAGE_PROVIDER": "s3",
        "S3_BUCKET_NAME": bucket,
        # As in AWS: S3's object-created event starts processing a presigned upload.
        "STRATUS_RAG_ASYNC_INGEST": "s3-event",
    }
    with serve_web_stack(emulator, env=env) as stack:
        yield stack


def _allow_origin(bucket: str, origin: str) -> None:
    rule: dict[str, Any] = uploads_cors_rule([origin])
    client: Any = boto3.client("s3")
    client.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedMethods": rule["AllowedMethods"],
                    "AllowedOrigins": rule["AllowedOrigins"],
                    "MaxAgeSeconds": rule["MaxAge"],
                }
            ]
        },
    )


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()


def _upload(page: Page, content: bytes) -> list[tuple[str, str]]:
    sent: list[tuple[str, str]] = []
    page.on("request", lambda r: sent.append((r.method, r.url)))
    payload: FilePayload = {"name": "handbook.txt", "mimeType": "text/plain", "buffer": content}
    page.locator("input[type=file]").set_input_files(files=[payload])
    return sent


def _object(bucket: str) -> tuple[str, bytes]:
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket)
    (entry,) = listed.get("Contents", [])
    body = boto3.client("s3").get_object(Bucket=bucket, Key=entry["Key"])["Body"].read()
    return str(entry["Key"]), body


def test_a_large_file_goes_to_the_bucket_through_a_presigned_post(
    page: Page, s3_stack: WebStack, bucket: str
) -> None:
    assert len(LARGE) > LARGE_UPLOAD_BYTES
    _allow_origin(bucket, s3_stack.base_url)
    user = s3_stack.user()
    sign_in(page, s3_stack, user)
    page.get_by_role("link", name="Files and knowledge").click()
    sent = _upload(page, LARGE)
    uploads = page.locator(".uploads")
    expect(uploads.get_by_text("Waiting to be processed")).to_be_visible(timeout=60_000)
    posts = [url for method, url in sent if method == "POST"]
    assert f"{s3_stack.base_url}/api/v1/files/upload-url" in posts
    assert f"{s3_stack.base_url}/api/v1/files/" not in posts  # not through the API
    assert [u for u in posts if not u.startswith(s3_stack.base_url)]  # to the bucket
    key, body = _object(bucket)
    assert body == LARGE
    file_id = key.removeprefix("files/")
    # What S3's event would do in AWS.
    processed = s3_stack.http.post(
        "/api/v1/retrieval/process/file", json={"file_id": file_id}, headers=user.headers
    )
    assert processed.status_code == 200, processed.text
    # Ingestion read the object from the bucket, and the page follows it to its verdict: 5 MB
    # of text is more than the default STRATUS_RAG_MAX_TEXT_CHARS (a limit of processing, not
    # of uploads; embedding that much text would only make this test slow).
    expect(uploads.get_by_text("more text than STRATUS_RAG_MAX_TEXT_CHARS")).to_be_visible(
        timeout=60_000
    )


def test_a_small_file_still_goes_through_the_api(
    page: Page, s3_stack: WebStack, bucket: str
) -> None:
    sign_in(page, s3_stack, s3_stack.user())
    page.get_by_role("link", name="Files and knowledge").click()
    sent = _upload(page, LARGE[:1000])
    expect(page.locator(".uploads").get_by_text("Ready")).to_be_visible(timeout=30_000)
    posts = [url for method, url in sent if method == "POST"]
    assert f"{s3_stack.base_url}/api/v1/files/" in posts
    assert not any(url.endswith("/upload-url") for url in posts)


def test_the_bucket_refuses_a_page_from_another_origin(
    page: Page, s3_stack: WebStack, bucket: str
) -> None:
    """The CORS rule is what lets the page's upload through: for another origin only, the
    browser's preflight is refused and nothing lands in the bucket."""
    _allow_origin(bucket, "https://elsewhere.example")
    sign_in(page, s3_stack, s3_stack.user())
    page.get_by_role("link", name="Files and knowledge").click()
    _upload(page, LARGE)
    expect(page.locator(".uploads").get_by_text("Failed")).to_be_visible(timeout=60_000)
    assert boto3.client("s3").list_objects_v2(Bucket=bucket).get("KeyCount") == 0
