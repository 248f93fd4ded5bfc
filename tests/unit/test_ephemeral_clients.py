"""The DynamoDB clients built at init: one botocore session, its models parsed once, no walk of
botocore's data directory, and a reset that closes them and resolves credentials afresh."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from stratus.ephemeral import clients
from stratus.ephemeral.table import ephemeral_model
from stratus.settings import AwsSettings

SETTINGS = AwsSettings(
    region="us-east-1",
    dynamodb_table="stratus-clients-test",
    dynamodb_endpoint="http://127.0.0.1:9",  # never contacted: building a client connects nothing
    s3_endpoint=None,
)


@pytest.fixture
def fresh_clients(monkeypatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "clients-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "clients-test")
    clients.reset_clients()
    clients._session.clear()
    yield
    clients.reset_clients()
    clients._session.clear()


def test_building_a_client_lists_no_service_directories(fresh_clients, monkeypatch):
    # botocore's stock loader lists every service's data directory (~900 listdir calls) to check
    # that "dynamodb" exists.
    listed: list[str] = []
    real = os.listdir

    def counting(path: str) -> list[str]:
        listed.append(path)
        return real(path)

    monkeypatch.setattr(os, "listdir", counting)
    client = clients.build_client(ephemeral_model(SETTINGS))
    assert client.meta.service_model.service_name == "dynamodb"
    assert len(listed) <= 5, listed[:10]


def test_models_share_one_session_and_a_reset_renews_it(fresh_clients):
    model = ephemeral_model(SETTINGS)
    first = clients.build_client(model)
    session = clients.botocore_session()
    loader = session.get_component("data_loader")
    assert clients.build_client(model) is first

    clients.reset_clients()

    renewed = clients.botocore_session()
    assert renewed is not session
    # The parsed models are kept; the credentials are resolved again.
    assert renewed.get_component("data_loader") is loader
    second = clients.build_client(model)
    assert second is not first
    assert second.meta.region_name == "us-east-1"
