"""A measuring device, not a DynamoDB: chat's per-user state items answered in parallel.

moto applies one request at a time (``local.atomic_moto``) at 10-20 ms of CPU each, so on this
machine the local stack tops out near 20 chat completions per second, whatever the app does.
To make the app's own overhead visible, the benchmarks can put this in front of moto: the
calls chat's hot path makes on its ``chat-state`` items (``UpdateItem``, ``GetItem``,
``BatchGetItem``, ``PutItem``) are applied here, in memory, under a lock held for microseconds;
every other request (table creation, auth's limiter, ...) is forwarded to moto unchanged.

It implements only the expressions ``functions.chat.generation.registry`` writes (``SET`` of
values, ``if_not_exists(...) + :v`` and ``path - :v``; ``REMOVE``; ``ADD``; the conditions
``attribute_exists``, ``attribute_not_exists``, ``=`` and ``>``), answers anything else on those
items with a 500, and knows nothing of capacity, limits or persistence. Figures measured
against it are labelled as such; they are not DynamoDB's.

``python -m tests.benchmarks.dynamodb_standin --port N --moto URL`` serves until terminated.
"""

from __future__ import annotations

import argparse
import copy
import re
import threading
from collections.abc import Callable
from typing import Any

import msgspec

from tests.support.asgi import read_body

SORT_KEY = "chat-state"
_json = msgspec.json.Decoder()
_encode = msgspec.json.Encoder().encode

Item = dict[str, Any]
Values = dict[str, Any]


class Refused(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class ChatStateTable:
    """The chat-state items, keyed by ``pk``, changed one call at a time under one lock."""

    def __init__(self) -> None:
        self.items: dict[str, Item] = {}
        self.lock = threading.Lock()

    def handle(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        handler: Callable[[dict[str, Any]], dict[str, Any]] = getattr(self, f"_{operation}")
        with self.lock:
            return handler(request)

    def _UpdateItem(self, request: dict[str, Any]) -> dict[str, Any]:
        pk = request["Key"]["pk"]["S"]
        names = request.get("ExpressionAttributeNames", {})
        values = request.get("ExpressionAttributeValues", {})
        existing = self.items.get(pk)
        item = copy.deepcopy(existing) if existing is not None else dict(request["Key"])
        condition = request.get("ConditionExpression")
        if condition and not _condition(condition, existing or {}, names, values):
            raise Refused("ConditionalCheckFailedException", "The conditional request failed")
        _update(request["UpdateExpression"], item, names, values)
        self.items[pk] = item
        if request.get("ReturnValues") == "ALL_NEW":
            return {"Attributes": item}
        return {}

    def _PutItem(self, request: dict[str, Any]) -> dict[str, Any]:
        item = request["Item"]
        pk = item["pk"]["S"]
        condition = request.get("ConditionExpression")
        names = request.get("ExpressionAttributeNames", {})
        values = request.get("ExpressionAttributeValues", {})
        if condition and not _condition(condition, self.items.get(pk) or {}, names, values):
            raise Refused("ConditionalCheckFailedException", "The conditional request failed")
        self.items[pk] = copy.deepcopy(item)
        return {}

    def _GetItem(self, request: dict[str, Any]) -> dict[str, Any]:
        item = self.items.get(request["Key"]["pk"]["S"])
        if item is None:
            return {}
        return {"Item": _project(item, request)}

    def _BatchGetItem(self, request: dict[str, Any]) -> dict[str, Any]:
        responses: dict[str, list[Item]] = {}
        for table, spec in request["RequestItems"].items():
            found = responses.setdefault(table, [])
            for key in spec["Keys"]:
                item = self.items.get(key["pk"]["S"])
                if item is not None:
                    found.append(_project(item, spec))
        return {"Responses": responses, "UnprocessedKeys": {}}


def ours(operation: str, request: dict[str, Any]) -> bool:
    """Whether a request touches only chat-state items (the rest goes to moto)."""
    if operation in ("UpdateItem", "GetItem"):
        return bool(request["Key"].get("sk", {}).get("S") == SORT_KEY)
    if operation == "PutItem":
        return bool(request["Item"].get("sk", {}).get("S") == SORT_KEY)
    if operation == "BatchGetItem":
        keys = [k for spec in request["RequestItems"].values() for k in spec["Keys"]]
        return all(k.get("sk", {}).get("S") == SORT_KEY for k in keys)
    return False


# -- expressions -----------------------------------------------------------------------------

_PATH = r"#\w+(?:\.#\w+)?"


def _path(text: str, names: dict[str, str]) -> list[str]:
    """A document path: placeholders resolved, plain names (``pk``) as they are."""
    return [names[part] if part.startswith("#") else part for part in text.strip().split(".")]


def _get(item: Item, path: list[str]) -> Any:
    value: Any = item.get(path[0])
    for part in path[1:]:
        if value is None:
            return None
        value = value.get("M", {}).get(part)
    return value


def _set(item: Item, path: list[str], value: Any) -> None:
    if len(path) == 1:
        item[path[0]] = value
        return
    container = item.get(path[0])
    if container is None or "M" not in container:
        # DynamoDB refuses to set an entry inside a map that does not exist.
        raise Refused("ValidationException", "The document path provided is invalid for update")
    container["M"][path[1]] = value


def _remove(item: Item, path: list[str]) -> None:
    if len(path) == 1:
        item.pop(path[0], None)
    elif path[0] in item and "M" in item[path[0]]:
        item[path[0]]["M"].pop(path[1], None)


def _number(value: Any) -> int:
    return int(value["N"])


def _operand(text: str, item: Item, names: dict[str, str], values: Values) -> Any:
    text = text.strip()
    found = re.fullmatch(rf"if_not_exists\(\s*({_PATH})\s*,\s*(:\w+)\s*\)\s*\+\s*(:\w+)", text)
    if found:
        current = _get(item, _path(found[1], names)) or values[found[2]]
        return {"N": str(_number(current) + _number(values[found[3]]))}
    found = re.fullmatch(rf"({_PATH})\s*([-+])\s*(:\w+)", text)
    if found:
        current = _get(item, _path(found[1], names))
        if current is None:
            raise Refused("ValidationException", "An operand in the update expression is missing")
        sign = 1 if found[2] == "+" else -1
        return {"N": str(_number(current) + sign * _number(values[found[3]]))}
    if text.startswith(":"):
        return values[text]
    raise Refused("InternalFailure", f"stand-in: unsupported operand {text!r}", 500)


def _update(expression: str, item: Item, names: dict[str, str], values: Values) -> None:
    clauses = re.split(r"\b(SET|REMOVE|ADD)\b", expression)
    for keyword, body in zip(clauses[1::2], clauses[2::2], strict=True):
        for part in (p.strip() for p in _split_top(body)):
            if keyword == "SET":
                target, _, operand = part.partition("=")
                _set(item, _path(target, names), _operand(operand, item, names, values))
            elif keyword == "REMOVE":
                _remove(item, _path(part, names))
            else:
                target, value = part.split()
                current = _get(item, _path(target, names))
                added = _number(values[value]) + (_number(current) if current else 0)
                _set(item, _path(target, names), {"N": str(added)})


def _split_top(body: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(body):
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(body[start:i])
            start = i + 1
    parts.append(body[start:])
    return [p for p in parts if p.strip()]


def _condition(expression: str, item: Item, names: dict[str, str], values: Values) -> bool:
    text = expression.strip()
    found = re.fullmatch(rf"attribute_(not_)?exists\(\s*({_PATH}|pk)\s*\)", text)
    if found:
        path = ["pk"] if found[2] == "pk" else _path(found[2], names)
        exists = _get(item, path) is not None
        return not exists if found[1] else exists
    found = re.fullmatch(rf"({_PATH})\s*(=|>)\s*(:\w+)", text)
    if found:
        current = _get(item, _path(found[1], names))
        if current is None:
            return False
        if found[2] == "=":
            return bool(current == values[found[3]])
        return _number(current) > _number(values[found[3]])
    raise Refused("InternalFailure", f"stand-in: unsupported condition {text!r}", 500)


def _project(item: Item, request: dict[str, Any]) -> Item:
    projection = request.get("ProjectionExpression")
    if not projection:
        return item
    names = request.get("ExpressionAttributeNames", {})
    out: Item = {}
    for part in projection.split(","):
        path = _path(part, names)
        value = _get(item, path)
        if value is None:
            continue
        if len(path) == 1:
            out[path[0]] = value
        else:
            out.setdefault(path[0], {"M": {}})["M"][path[1]] = value
    return out


# -- the server ------------------------------------------------------------------------------


def standin_app(moto_url: str) -> Any:
    import httpx

    table = ChatStateTable()
    forward = httpx.AsyncClient(base_url=moto_url, timeout=30)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        operation = headers.get("x-amz-target", "").rpartition(".")[2]
        request = _json.decode(body) if body and operation else {}
        if operation and ours(operation, request):
            try:
                status, out = 200, _encode(table.handle(operation, request))
            except Refused as refused:
                status = refused.status
                out = _encode(
                    {"__type": f"com.amazonaws.dynamodb.v20120810#{refused.code}",
                     "message": refused.message}
                )  # fmt: skip
            content_type = b"application/x-amz-json-1.0"
        else:
            headers.pop("host", None)
            response = await forward.request(
                scope["method"], scope["path"], content=body, headers=headers,
                params=scope.get("query_string", b"").decode() or None,
            )  # fmt: skip
            status, out = response.status_code, response.content
            content_type = response.headers.get("content-type", "application/json").encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", content_type)],
            }
        )
        await send({"type": "http.response.body", "body": out})

    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--moto", required=True, help="moto's URL, for everything else")
    args = parser.parse_args(argv)
    uvicorn.run(
        standin_app(args.moto),
        host=args.host,
        port=args.port,
        lifespan="off",
        access_log=False,
        log_level="warning",
        loop="uvloop",
        http="httptools",
    )


if __name__ == "__main__":
    main()
