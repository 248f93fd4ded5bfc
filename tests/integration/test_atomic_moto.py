"""The local stack's moto applies one request at a time, as DynamoDB applies one write per item.

moto's items are plain dicts: from parallel threads, concurrent increments of one item lose
updates. The limits' guarantees (count first, then judge) rest on atomic updates, so the server
the local stack and the tests use must not lose any.
"""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Iterator

import pytest

from tests.support.services import MotoServer

WRITERS = 8
EACH = 10


@pytest.fixture
def preemptive() -> Iterator[None]:
    """Threads switch often (moto serves from a thread of this process): a server that let
    two updates interleave would lose increments here on most runs, not one in five."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(before)


@pytest.mark.usefixtures("preemptive")
def test_concurrent_increments_of_one_item_are_all_kept(moto: MotoServer) -> None:
    client = moto.client("dynamodb")
    table = f"atomic-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    start = threading.Barrier(WRITERS)

    def writer() -> None:
        mine = moto.client("dynamodb")  # a client of its own: one connection per writer
        start.wait()
        for _ in range(EACH):
            mine.update_item(
                TableName=table,
                Key={"pk": {"S": "counter"}},
                UpdateExpression="ADD n :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )

    threads = [threading.Thread(target=writer) for _ in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    item = client.get_item(TableName=table, Key={"pk": {"S": "counter"}}, ConsistentRead=True)
    assert int(item["Item"]["n"]["N"]) == WRITERS * EACH
