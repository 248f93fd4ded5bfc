"""The botocore clients behind the ephemeral table's pynamodb models, built at init.

Left to itself, pynamodb builds a model's botocore client on its first call, from a botocore
session of its own per thread, and every new session parses DynamoDB's service model and the
endpoint rules again (60-90 ms of CPU per client, measured). Here each model's client is built
at init, on one shared session, so the models are parsed once and no request waits for them.
Building a client makes no connection; the first call does.

The session's data loader knows that DynamoDB is the only service it serves: botocore's own
checks a service name by listing the data directory of every service it ships (about 400, once
per model type), about 20 ms of CPU at init, and more on Lambda's slower file system.

After a SnapStart restore every client is closed and the session replaced by one that shares the
parsed models but resolves credentials afresh (about 10 ms per restore).
"""

from __future__ import annotations

from typing import Any

from stratus.observability.tracing import instrument_botocore

_session: list[Any] = []
# Models whose clients are served here, so that a reset can close them.
_built: dict[int, type[Any]] = {}


SERVICES = ("dynamodb",)


def botocore_session() -> Any:
    if not _session:
        from botocore.session import get_session

        session = get_session()
        session.register_component("data_loader", _loader(session))
        instrument_botocore(session)
        _session.append(session)
    return _session[0]


def _loader(session: Any) -> Any:
    """botocore's loader (honouring ``AWS_DATA_PATH``), with the service list known."""
    import os

    from botocore.loaders import Loader

    class KnownServicesLoader(Loader):
        def list_available_services(self, type_name: str) -> list[str]:
            return list(SERVICES)

    data_path = session.get_config_variable("data_path")
    extra = [os.path.expanduser(p) for p in data_path.split(os.pathsep)] if data_path else None
    return KnownServicesLoader(extra_search_paths=extra)


def build_client(model: type[Any]) -> Any:
    """``model``'s botocore client, built now on the shared session if it has none yet."""
    connection = model._get_connection().connection
    if connection._client is None:
        # pynamodb reads its session from a thread-local on first use: give this thread ours.
        connection._local.session = botocore_session()
        _built[id(model)] = model
    elif id(model) not in _built:
        _built[id(model)] = model  # a client pynamodb built itself is closed by a reset too
    return connection.client


def drop_client(model: type[Any]) -> None:
    """Close ``model``'s client, if it has one, and forget its connection."""
    table = model.__dict__.get("_connection")
    if table is not None:
        client = table.connection._client
        if client is not None:
            client.close()
        model._connection = None
    _built.pop(id(model), None)


def reset_clients() -> None:
    """Close every client built here; the next ones come from a new session (new credentials)
    that reuses the parsed service models."""
    for model in list(_built.values()):
        drop_client(model)
    if _session:
        from botocore.session import Session

        fresh = Session()
        fresh.register_component("data_loader", _session[0].get_component("data_loader"))
        instrument_botocore(fresh)
        _session[0] = fresh
