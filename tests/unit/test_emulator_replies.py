"""What the emulated chat models do with tools, formats, thinking and images (pure parts), and
the new fault settings and CLI flags."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.emulator.__main__ import build_config, build_parser
from local.emulator.catalog import ModelCatalog
from local.emulator.content import (
    count_images,
    embed_text,
    expected_reply,
    tool_result_text,
)
from local.emulator.faults import Faults, parse_fault_header
from local.emulator.replies import (
    ToolCall,
    json_text,
    plan_chat,
    planned_tool_call,
    thinking_text,
    tool_arguments,
)

TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {}}},
    {"type": "function", "function": {"name": "lookup"}},
]


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


# Tools


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call get_weather Paris", "get_weather"),
        ("Please USE lookup now", "lookup"),
        ("call get_time then call lookup", "lookup"),  # the first offered one named
        ("what is the weather", None),
        ("call get_time", None),  # not offered
        ("recall get_weather", None),  # a word boundary, not a substring
    ],
)
def test_the_trigger(text, expected):
    call = planned_tool_call([user(text)], TOOLS)
    assert (call.name if call else None) == expected


def test_no_call_without_tools_or_after_a_tool_answer():
    assert planned_tool_call([user("call lookup")], []) is None
    answered = [user("call lookup"), {"role": "tool", "content": "42"}]
    assert planned_tool_call(answered, TOOLS) is None


def test_arguments_follow_the_declared_types():
    parameters = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "count": {"type": "integer"},
            "ratio": {"type": "number"},
            "exact": {"type": "boolean"},
            "words": {"type": "array", "items": {"type": "string"}},
            "unit": {"type": "string", "enum": ["C", "F"]},
            "nested": {"type": "object", "properties": {"name": {"type": "string"}}},
            "maybe": {"type": ["null", "string"]},
        },
    }
    assert tool_arguments(parameters, ["new", "york"]) == {
        "city": "new york",
        "count": 2,
        "ratio": 2,
        "exact": True,
        "words": ["new", "york"],
        "unit": "C",
        "nested": {"name": "new york"},
        "maybe": "new york",
    }
    # Nothing after the name: strings fall back to the property's name.
    assert tool_arguments(parameters, [])["city"] == "city"
    assert tool_arguments(None, ["x"]) == {}


def test_a_tool_result_is_attributed_by_name_or_by_call_id():
    by_name = [user("x"), {"role": "tool", "tool_name": "lookup", "content": "  42  "}]
    assert tool_result_text(by_name) == "Tool lookup said: 42"
    by_id = [
        user("x"),
        {
            "role": "assistant",
            "tool_calls": [{"id": "c9", "function": {"name": "get_weather", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c9", "content": [{"type": "text", "text": "rain"}]},
    ]
    assert tool_result_text(by_id) == "Tool get_weather said: rain"
    unknown = [user("x"), {"role": "tool", "tool_call_id": "nope", "content": ""}]
    assert tool_result_text(unknown) == "Tool unknown said nothing."
    assert "".join(expected_reply(by_id)) == "Tool get_weather said: rain"


# Formats


def test_json_mode_and_schemas():
    assert json.loads(json_text("  a  b ", None)) == {"text": "a b"}
    schema = {
        "type": "object",
        "properties": {"title": {"type": "string"}, "n": {"type": "integer"}},
        "required": ["title"],
    }
    assert json.loads(json_text("one two three", schema)) == {"title": "one two three", "n": 3}
    assert json.loads(json_text("x", {"type": "string"})) == "x"


def test_a_self_referencing_schema_still_ends():
    schema: dict[str, object] = {"type": "object"}
    schema["properties"] = {"child": schema}
    assert json.loads(json_text("x", schema))


# Thinking and plans


def test_thinking_text_names_the_level():
    assert thinking_text("a b c", "high") == "Thinking (high) about 3 words."
    assert thinking_text("a", "default") == "Thinking (default) about 1 word."


def test_a_plan_thinks_first_and_the_limit_counts_thinking_too():
    messages = [user("one two")]
    plan = plan_chat(messages, think="low")
    assert "".join(plan.thinking) == "Thinking (low) about 2 words."
    assert "".join(plan.content) == "You said: one two"
    assert plan.eval_count == len(plan.thinking) + len(plan.content)
    cut = plan_chat(messages, think="low", limit=6)
    assert (len(cut.thinking), len(cut.content), cut.truncated) == (5, 1, True)


def test_a_tool_call_plan_has_no_content_and_counts_one():
    plan = plan_chat([user("use lookup it")], tools=TOOLS, format_="json")
    assert plan.tool_call == ToolCall("lookup", {})
    assert plan.content == []
    assert plan.units == 1


# Images


def test_images_are_counted_in_both_shapes():
    assert count_images({"role": "user", "content": "x", "images": ["a", "b"]}) == 2
    parts = [{"type": "text", "text": "x"}, {"type": "image_url", "image_url": {"url": "d"}}]
    assert count_images({"role": "user", "content": parts}) == 1
    assert "".join(expected_reply([{"role": "user", "content": "hi", "images": ["a"]}])) == (
        "You said: hi (1 image)"
    )


# Embedding sizes


def test_a_768_dimension_model():
    vector = embed_text("hello", model_dimensions=768)
    assert len(vector) == 768
    assert len(embed_text("hello", 100, model_dimensions=768)) == 100
    with pytest.raises(ValueError, match="768"):
        embed_text("hello", 769, model_dimensions=768)
    catalog = ModelCatalog(["c"], ["e", "big"], ["t"], {"big": 768})
    sizes = {entry.name: entry.dimensions for entry in catalog.entries if entry.kind == "embed"}
    assert sizes == {"e:latest": 384, "big:latest": 768}
    think = catalog.resolve("t")
    assert think is not None
    assert think.thinking is True


# Fault settings and CLI flags


@pytest.mark.parametrize(
    ("raw", "value"), [("true", True), ("1", True), ("yes", True), ("false", False), ("", False)]
)
def test_flag_faults_parse_from_the_header(raw, value):
    faults = Faults().with_changes(parse_fault_header(f"unknown_fields={raw}, endless={raw}"))
    assert (faults.unknown_fields, faults.endless) == (value, value)


def test_bad_flag_and_count_values_are_refused():
    with pytest.raises(ValueError, match="true or false"):
        Faults().with_changes({"endless": "maybe"})
    with pytest.raises(ValueError, match=">= 0"):
        Faults().with_changes({"huge_chunk_after": -1})
    assert Faults().with_changes({"huge_chunk_after": "3"}).huge_chunk_after == 3


def test_cli_flags_for_models_and_hostile_faults():
    args = build_parser().parse_args(
        [
            "--model",
            "extra",
            "--think-model",
            "deep",
            "--embed-model",
            "wide=1024",
            "--embed-model",
            "plain",
            "--huge-chunk-after",
            "4",
            "--unknown-fields",
            "--endless",
        ]
    )
    config = build_config(args)
    assert config.chat_models == ("emulator-chat:latest", "extra")
    assert config.thinking_models == ("emulator-think:latest", "deep")
    assert config.embed_models[-2:] == ("wide", "plain")
    assert ("wide", 1024) in config.embed_dimensions
    assert ("nomic-embed-text:latest", 768) in config.embed_dimensions
    assert (config.faults.huge_chunk_after, config.faults.unknown_fields) == (4, True)
    assert config.faults.endless is True


def test_cli_refuses_a_bad_embedding_size():
    args = build_parser().parse_args(["--embed-model", "wide=big"])
    with pytest.raises(ValueError, match="positive integer"):
        build_config(args)


# echo:


def test_an_echo_message_is_answered_verbatim_with_newlines_and_markup():
    text = "echo: # Title\n\n```python\nprint('hi')\n```\n<img src=x onerror=alert(1)>"
    tokens = expected_reply([user("earlier"), {"role": "assistant", "content": "x"}, user(text)])
    assert "".join(tokens) == "# Title\n\n```python\nprint('hi')\n```\n<img src=x onerror=alert(1)>"
    assert tokens[0] == "#"
    assert tokens[2] == "\n\n```python"


def test_echo_counts_only_at_the_start_and_other_replies_are_unchanged():
    assert "".join(expected_reply([user("say echo: this")])) == "You said: say echo: this"
    assert "".join(expected_reply([user("echo:")])) == ""
    plan = plan_chat([user("echo: a  b")], format_="json")
    assert json.loads("".join(plan.content)) == {"text": "echo: a b"}


# Grounded prompts: answered like a model would, from the numbered sources.


def grounded_prompt(question: str, *texts: str) -> str:
    from stratus.retrieval.context import render_context
    from stratus.retrieval.types import Source
    from stratus.settings import DEFAULT_RAG_TEMPLATE

    sources = [
        Source(f"c{n}", "f1", f"notes-{n}.txt", n, 1.0, 1.0, text)
        for n, text in enumerate(texts, start=1)
    ]
    return render_context(DEFAULT_RAG_TEMPLATE, sources, question)


def test_a_grounded_question_is_answered_with_its_best_source_sentence_and_marker():
    prompt = grounded_prompt(
        "Where are the stop flags kept?",
        "The moon orbits the earth every month. Tides follow it.",
        "Stratus is a chat backend. Stratus keeps its stop flags in DynamoDB.\n\nIt is fast.",
    )
    reply = "".join(expected_reply([user(prompt)]))
    assert reply == "Stratus keeps its stop flags in DynamoDB. [2]"
    # The plan streams it word by word, like every other reply.
    assert plan_chat([user(prompt)]).content == expected_reply([user(prompt)])


def test_a_grounded_question_the_sources_do_not_answer_says_so():
    prompt = grounded_prompt("Who painted the ceiling?", "Herons eat fish.")
    assert "".join(expected_reply([user(prompt)])) == "I do not know: the sources do not say."


def test_ties_go_to_the_first_source_and_a_custom_template_still_finds_the_question():
    prompt = grounded_prompt("herons fish", "Herons eat fish.", "Herons like fish too.")
    assert "".join(expected_reply([user(prompt)])) == "Herons eat fish. [1]"
    custom = (
        '<source id="1" name="a">Cats sleep a lot.</source>\n'
        '<source id="2" name="b">Dogs bark.</source> dogs?'
    )
    assert "".join(expected_reply([user(custom)])) == "Dogs bark. [2]"


def test_echo_grounded_keeps_the_old_echo_for_tests_that_read_the_prompt_back():
    prompt = grounded_prompt("Where are the stop flags kept?", "Stop flags live in DynamoDB.")
    echoed = "".join(expected_reply([user(prompt)], echo_grounded=True))
    assert echoed.startswith("You said: Answer the question using the numbered sources")
    assert "".join(plan_chat([user(prompt)], echo_grounded=True).content) == echoed
    faults = Faults().with_changes(parse_fault_header("echo_grounded=true"))
    assert faults.echo_grounded is True
    config = build_config(build_parser().parse_args(["--echo-grounded"]))
    assert config.faults.echo_grounded is True
