"""A deterministic model host speaking Ollama's wire protocol (native and OpenAI-compatible),
with fault injection, for the local stack's `--emulate-model-host` and for tests.

    with running_emulator() as emulator:
        ollama.Client(host=emulator.base_url).chat(model="emulator-chat", messages=[...])
"""

from local.emulator.app import EmulatorApp, create_app
from local.emulator.config import (
    DEFAULT_CHAT_MODEL,
    DEFAULT_EMBED_MODEL,
    DEFAULT_THINK_MODEL,
    NOMIC_DIMENSIONS,
    NOMIC_EMBED_MODEL,
    EmulatorConfig,
)
from local.emulator.content import (
    EMBEDDING_DIM,
    embed_text,
    expected_generate_reply,
    expected_reply,
)
from local.emulator.faults import FAULT_HEADER, HUGE_CHUNK_BYTES, UNKNOWN_FIELD, Faults
from local.emulator.replies import (
    ToolCall,
    expected_json,
    expected_thinking,
    expected_tool_call,
)
from local.emulator.stats import EmulatorStats, RequestRecord
from local.emulator.testing import EmulatorHandle, running_emulator

__all__ = [
    "DEFAULT_CHAT_MODEL",
    "DEFAULT_EMBED_MODEL",
    "DEFAULT_THINK_MODEL",
    "EMBEDDING_DIM",
    "FAULT_HEADER",
    "HUGE_CHUNK_BYTES",
    "NOMIC_DIMENSIONS",
    "NOMIC_EMBED_MODEL",
    "UNKNOWN_FIELD",
    "EmulatorApp",
    "EmulatorConfig",
    "EmulatorHandle",
    "EmulatorStats",
    "Faults",
    "RequestRecord",
    "ToolCall",
    "create_app",
    "embed_text",
    "expected_generate_reply",
    "expected_json",
    "expected_reply",
    "expected_thinking",
    "expected_tool_call",
    "running_emulator",
]
