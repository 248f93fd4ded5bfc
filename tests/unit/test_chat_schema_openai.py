"""The chat completions request schema: what it accepts, ignores and refuses, and how it says so.

Refusals go through the real error mapper (a one-route app with the shared plugin), so the
status, the OpenAI error shape and the named field are what a client would see.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from litestar import Litestar, post
from litestar.params import JSONBody
from litestar.testing import TestClient

from functions.chat.schemas import openai as schema
from functions.chat.schemas.messages import (
    AssistantMessage,
    DeveloperMessage,
    ImagePart,
    SystemMessage,
    TextPart,
    ToolMessage,
    UserMessage,
)
from functions.chat.schemas.openai import ChatCompletionRequest
from functions.chat.schemas.policy import ROUTING_FIELDS
from stratus.openapi.build import build_document
from stratus.web.access import Access, access
from stratus.web.plugin import StratusPlugin

PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
USER = {"role": "user", "content": "hello"}
BASE: dict[str, Any] = {"model": "llama3.2:3b", "messages": [USER]}


@post("/v1/chat/completions", opt=access(Access.PUBLIC), sync_to_thread=False)
def completions(data: JSONBody[ChatCompletionRequest]) -> dict[str, Any]:
    return {"model": data.model, "messages": len(data.messages)}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient[Litestar]]:
    app = Litestar([completions], plugins=[StratusPlugin(service="t", readiness=())])
    with TestClient(app) as test_client:
        yield test_client


def post_body(client: TestClient[Litestar], body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = client.post("/v1/chat/completions", json=body)
    return response.status_code, response.json()


def refusal(client: TestClient[Litestar], body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    status, payload = post_body(client, body)
    assert status in (400, 422), payload
    error: dict[str, Any] = payload["error"]
    assert error["type"] == "invalid_request_error"
    return status, error


def decode(body: dict[str, Any]) -> ChatCompletionRequest:
    return msgspec.json.decode(msgspec.json.encode(body), type=ChatCompletionRequest)


# What it accepts.


def test_a_full_request_decodes_every_field():
    request = decode(
        {
            "model": "llama3.2:3b",
            "messages": [
                {"role": "system", "content": "be terse"},
                {"role": "developer", "content": [{"type": "text", "text": "really"}]},
                {
                    "role": "user",
                    "name": "ann",
                    "content": [
                        {"type": "text", "text": "what is this?"},
                        {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}},
                    ],
                },
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "look", "arguments": '{"q": 1}'},
                        }
                    ],
                    # Copied back from a response: accepted, ignored.
                    "refusal": None,
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "a cat"},
            ],
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": 10,
            "max_completion_tokens": 20,
            "temperature": 0.2,
            "top_p": 0.9,
            "seed": 7,
            "stop": ["\n\n", "END"],
            "frequency_penalty": 0.5,
            "presence_penalty": -0.5,
            "n": 1,
            "tools": [{"type": "function", "function": {"name": "look", "parameters": {}}}],
            "tool_choice": {"type": "function", "function": {"name": "look"}},
            "parallel_tool_calls": False,
            "response_format": {"type": "json_schema", "json_schema": {"schema": {}}},
            "reasoning_effort": "low",
            "user": "ann@example.com",
            "think": "high",
            "chat_id": "c-1",
            "id": "m-2",
            "parent_id": "m-1",
            "user_message_id": "m-1b",
            "files": [{"type": "file", "id": "f-1"}, {"type": "collection", "id": "k-1"}],
        }
    )
    kinds = [type(message) for message in request.messages]
    assert kinds == [SystemMessage, DeveloperMessage, UserMessage, AssistantMessage, ToolMessage]
    user = request.messages[2]
    assert isinstance(user, UserMessage)
    assert isinstance(user.content, list)
    assert isinstance(user.content[0], TextPart)
    assert isinstance(user.content[1], ImagePart)
    assert request.stream_options is not None
    assert request.stream_options.include_usage is True
    assert (request.chat_id, request.id, request.parent_id) == ("c-1", "m-2", "m-1")
    assert request.user_message_id == "m-1b"
    assert [(ref.type, ref.id) for ref in request.files or []] == [
        ("file", "f-1"),
        ("collection", "k-1"),
    ]
    assert request.think == "high"


@pytest.mark.parametrize("field", schema.IGNORED_FIELDS)
def test_known_harmless_fields_are_accepted_and_ignored(client, field):
    status, payload = post_body(client, {**BASE, field: {"anything": [1, "two"]}})
    assert status == 201, payload


def test_ignored_fields_are_exactly_the_documented_list():
    declared = {
        name
        for name, field in zip(
            ChatCompletionRequest.__struct_fields__,
            msgspec.inspect.type_info(ChatCompletionRequest).fields,  # type: ignore[attr-defined]
            strict=True,
        )
        if isinstance(field.type, msgspec.inspect.Metadata)
        and "ignored" in str((field.type.extra_json_schema or {}).get("description", ""))
    }
    assert declared == set(schema.IGNORED_FIELDS)


@pytest.mark.parametrize(
    ("tab_or_newline", "expected"), [("a\tb", "a\tb"), ("line\r\nnext", "line\r\nnext")]
)
def test_tab_and_line_breaks_are_fine_in_content(tab_or_newline, expected):
    request = decode({**BASE, "messages": [{"role": "user", "content": tab_or_newline}]})
    assert request.messages[0].content == expected


# What it refuses, and how.


@pytest.mark.parametrize("field", ROUTING_FIELDS)
def test_client_supplied_routing_is_a_400_naming_the_field(client, field):
    status, error = refusal(client, {**BASE, field: "http://169.254.169.254/latest"})
    assert status == 400
    assert error["param"] == field
    assert error["message"].startswith(f"Invalid request: {field}: ")
    assert "routing is not accepted" in error["message"]


@pytest.mark.parametrize("field", ["functions", "function_call"])
def test_the_legacy_functions_form_is_refused(client, field):
    status, error = refusal(client, {**BASE, field: [{"name": "f"}]})
    assert (status, error["param"]) == (400, field)
    assert "send tools and tool_choice" in error["message"]


def test_an_unknown_field_is_a_422_naming_it(client):
    status, error = refusal(client, {**BASE, "max_token": 5})
    assert (status, error["param"]) == (422, "max_token")
    assert error["message"] == "Invalid request: max_token: is not an accepted field."


@pytest.mark.parametrize(
    "model",
    [
        "http://evil.example/llama3",
        "ollama://llama3",
        "llama 3",
        "llama3\n",
        "llama3\x00",
        "llama\u00a0three",  # a no-break space is whitespace too
        "llama3\x1b[31m",
    ],
)
def test_a_model_name_with_a_scheme_spaces_or_controls_is_refused(client, model):
    status, error = refusal(client, {**BASE, "model": model})
    assert (status, error["param"]) == (422, "model")
    assert error["message"] == (
        "Invalid request: model: must be a model name such as llama3.2:3b, without '://', "
        "spaces or control characters."
    )


@pytest.mark.parametrize("model", ["llama3.2:3b", "hf.co/org/model:Q4_K_M", "gpt-oss:20b"])
def test_ordinary_model_names_pass(model):
    assert decode({**BASE, "model": model}).model == model


# field, a value just out of range, a value just inside it, the rule in plain words
RANGES = [
    ("temperature", -0.01, 0.0, "must be at least 0.0"),
    ("temperature", 2.01, 2.0, "must be at most 2.0"),
    ("top_p", -0.01, 0.0, "must be at least 0.0"),
    ("top_p", 1.01, 1.0, "must be at most 1.0"),
    ("frequency_penalty", -2.01, -2.0, "must be at least -2.0"),
    ("frequency_penalty", 2.01, 2.0, "must be at most 2.0"),
    ("presence_penalty", -2.01, -2.0, "must be at least -2.0"),
    ("presence_penalty", 2.01, 2.0, "must be at most 2.0"),
    ("max_tokens", 0, 1, "must be at least 1"),
    ("max_completion_tokens", 0, 1, "must be at least 1"),
    ("n", 0, 1, "must be at least 1"),
]


@pytest.mark.parametrize(("field", "outside", "inside", "rule"), RANGES)
def test_ranges_are_enforced_in_plain_words(client, field, outside, inside, rule):
    status, error = refusal(client, {**BASE, field: outside})
    assert (status, error["param"]) == (422, field)
    assert error["message"] == f"Invalid request: {field}: {rule}."
    status, payload = post_body(client, {**BASE, field: inside})
    assert status == 201, payload


def test_more_than_one_choice_is_a_400(client):
    status, error = refusal(client, {**BASE, "n": 2})
    assert (status, error["param"]) == (400, "n")
    assert error["message"] == "Invalid request: n: only one choice (n=1) is supported."


def test_a_wrong_role_names_its_place(client):
    status, error = refusal(client, {**BASE, "messages": [{"role": "root", "content": "x"}]})
    assert (status, error["param"]) == (422, "messages[0].role")


def test_an_empty_conversation_is_refused(client):
    status, error = refusal(client, {**BASE, "messages": []})
    assert (status, error["param"]) == (422, "messages")


def tool_turn(**call: Any) -> list[dict[str, Any]]:
    function = {"name": "look", "arguments": "{}"} | call.pop("function", {})
    return [
        USER,
        {
            "role": "assistant",
            "tool_calls": [{"id": "call_1", "type": "function", "function": function} | call],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
    ]


# A NUL in every kind of text field: (body changes, the field the error must name)
NUL = "bad\x00text"
NUL_CASES = [
    ({"messages": [{"role": "user", "content": NUL}]}, "messages[0].content"),
    ({"messages": [{"role": "system", "content": NUL}, USER]}, "messages[0].content"),
    (
        {"messages": [{"role": "user", "content": [{"type": "text", "text": NUL}]}]},
        "messages[0].content[0].text",
    ),
    ({"messages": [{"role": "user", "name": NUL, "content": "x"}]}, "messages[0].name"),
    ({"messages": tool_turn(id=NUL)}, "messages[1].tool_calls[0].id"),
    ({"messages": tool_turn(function={"name": NUL})}, "messages[1].tool_calls[0].function.name"),
    (
        {"messages": tool_turn(function={"arguments": '{"q": "\x00"}'})},
        "messages[1].tool_calls[0].function.arguments",
    ),
    (
        {"messages": [*tool_turn()[:2], {"role": "tool", "tool_call_id": NUL, "content": "x"}]},
        "messages[2].tool_call_id",
    ),
    ({"stop": NUL}, "stop"),
    ({"stop": ["ok", NUL]}, "stop[1]"),
    ({"user": NUL}, "user"),
    ({"chat_id": NUL}, "chat_id"),
    ({"id": NUL}, "id"),
    ({"parent_id": NUL}, "parent_id"),
    ({"user_message_id": NUL}, "user_message_id"),
    ({"files": [{"type": "file", "id": NUL}]}, "files[0].id"),
    (
        {"tools": [{"type": "function", "function": {"name": "f", "description": NUL}}]},
        "tools[0].function.description",
    ),
]


@pytest.mark.parametrize(("changes", "field"), NUL_CASES, ids=[case[1] for case in NUL_CASES])
def test_nul_in_any_text_field_is_a_422_naming_it(client, changes, field):
    status, error = refusal(client, {**BASE, **changes})
    assert (status, error["param"]) == (422, field)
    assert error["message"].startswith(f"Invalid request: {field}: must not contain control")


def test_content_controls_other_than_nul_are_refused_in_plain_words(client):
    body = {**BASE, "messages": [{"role": "user", "content": "bell\x07"}]}
    status, error = refusal(client, body)
    assert (status, error["param"]) == (422, "messages[0].content")
    assert error["message"] == (
        "Invalid request: messages[0].content: must not contain control characters other than "
        "tab and line breaks."
    )


def image_message(url: str) -> dict[str, Any]:
    parts = [{"type": "text", "text": "see"}, {"type": "image_url", "image_url": {"url": url}}]
    return {**BASE, "messages": [USER, {"role": "user", "content": parts}]}


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "https://example.com/cat.png",
        "file:///etc/passwd",
        "data:text/plain;base64,aGVsbG8=",
        "data:image/png,rawbytes",
        "data:image/png;base64,not base64!",
        "data:image/png;base64,aGVsbG8",  # bad padding
        "data:image/png;base64,",
    ],
)
def test_anything_but_a_base64_image_data_url_is_refused(client, url):
    status, error = refusal(client, image_message(url))
    field = "messages[1].content[1].image_url.url"
    assert (status, error["param"]) == (400, field)
    assert "image links are never fetched" in error["message"]


@pytest.mark.parametrize("media", ["image/png", "image/jpeg", "image/jpg", "image/webp", ""])
def test_base64_image_data_urls_are_accepted(client, media):
    url = f"data:{media};base64," + base64.b64encode(b"pixels").decode()
    status, payload = post_body(client, image_message(url))
    assert status == 201, payload


def test_rules_hold_for_requests_built_in_code_too():
    with pytest.raises(Exception, match="routing is not accepted"):
        ChatCompletionRequest(
            model="m", messages=[UserMessage(content="x")], base_url="http://evil"
        )


# msgspec 0.22 frees a union's container node wrongly when the union also holds a
# pattern-constrained str, and the garbage collector later crashes the process (about one run
# in five). Keep such unions out of every type the chat function decodes.


def pattern_unions(info: Any, seen: set[int] | None = None) -> list[str]:
    seen = set() if seen is None else seen
    if id(info) in seen:
        return []
    seen.add(id(info))
    found: list[str] = []
    if isinstance(info, msgspec.inspect.Metadata):
        return pattern_unions(info.type, seen)
    if isinstance(info, msgspec.inspect.UnionType):
        members = [m.type if isinstance(m, msgspec.inspect.Metadata) else m for m in info.types]
        patterned = any(isinstance(m, msgspec.inspect.StrType) and m.pattern for m in members)
        containers = (
            msgspec.inspect.ListType,
            msgspec.inspect.DictType,
            msgspec.inspect.SetType,
            msgspec.inspect.FrozenSetType,
            msgspec.inspect.VarTupleType,
            msgspec.inspect.TupleType,
        )
        if patterned and any(isinstance(m, containers) for m in members):
            found.append(repr(info))
    for child in _children(info):
        found.extend(pattern_unions(child, seen))
    return found


def _children(info: Any) -> list[Any]:
    if isinstance(info, msgspec.inspect.StructType):
        return [field.type for field in info.fields]
    if isinstance(info, msgspec.inspect.UnionType):
        return list(info.types)
    if isinstance(info, msgspec.inspect.DictType):
        return [info.key_type, info.value_type]
    if isinstance(info, msgspec.inspect.TupleType):
        return list(info.item_types)
    item = getattr(info, "item_type", None)
    return [item] if item is not None else []


def test_no_union_mixes_a_patterned_string_with_a_container():
    assert pattern_unions(msgspec.inspect.type_info(ChatCompletionRequest)) == []


def test_the_guard_sees_a_bad_union():
    # Built by hand: inspecting a real bad union builds its type node, which is the crash.
    inspect = msgspec.inspect
    bad = inspect.UnionType(
        types=(inspect.StrType(pattern="^a*$"), inspect.ListType(item_type=inspect.StrType()))
    )
    nested = inspect.StructType(
        cls=ChatCompletionRequest,
        fields=(inspect.Field(name="content", encode_name="content", type=bad, required=True),),
    )
    assert pattern_unions(nested) == [repr(bad)]


def test_the_openapi_document_describes_the_request(client):
    from openapi_spec_validator import validate

    # Built the way `make spec` builds the API's document, from an app with this route.
    document = build_document(client.app)
    validate(document)
    schemas = document["components"]["schemas"]
    request_schema = schemas["ChatCompletionRequest"]
    properties = request_schema["properties"]
    assert request_schema["required"] == ["messages", "model"]
    assert len(properties["messages"]["items"]["oneOf"]) == 5
    assert properties["temperature"]["maximum"] == 2.0
    for field in ROUTING_FIELDS:
        assert properties[field]["description"].startswith("Refused with 400")
    for field in schema.IGNORED_FIELDS:
        assert properties[field]["description"] == "Accepted for compatibility and ignored."
