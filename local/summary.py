"""What the local stack prints once it is listening: where everything is and what answers."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from stratus import __version__


@dataclass
class StackFacts:
    data_dir: Path
    lambda_mode: bool
    postgres: str = ""
    dynamodb: str = ""
    model_host_url: str = ""
    model_host_status: str = ""
    emulated_model_host: bool = False
    migrations_applied: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    base_url: str = ""
    startup_seconds: float = 0.0


def probe_model_host(base_url: str) -> str:
    try:
        response = httpx.get(f"{base_url}/api/version", timeout=1.5)
        response.raise_for_status()
        return f"answering (version {response.json().get('version', '?')})"
    except (httpx.HTTPError, ValueError):
        return (
            "NOT answering: sign-in, accounts and saved chats still work; /readyz reports degraded"
        )


def summary_lines(facts: StackFacts) -> list[str]:
    url = facts.base_url
    model = facts.model_host_url + (
        "  [deterministic model-host emulator]" if facts.emulated_model_host else ""
    )
    applied = ", ".join(facts.migrations_applied) if facts.migrations_applied else "up to date"
    mode = (
        "Lambda mode: auth and rag through their Mangum handlers, chat as under the Web Adapter"
        if facts.lambda_mode
        else "in-process: all functions composed into one app"
    )
    # Only what this version serves: each feature gets its line when it lands (a test requests
    # every URL printed here from the composed app).
    lines = [
        f"Stratus {__version__} local stack ready in {facts.startup_seconds:.1f}s",
        f"  Web client   {url}/   (open it in a browser to chat)",
        f"  Accounts     {url}/api/v1/auths/   (sign-up, sign-in, API keys)",
        f"  Admin        {url}/api/v1/users/",
        f"  OpenAI API   {url}/v1/models   {url}/v1/chat/completions   {url}/v1/embeddings",
        f"  Chats        {url}/api/v1/chats/   {url}/api/chat/completions   {url}/api/models",
        f"  Ollama API   {url}/ollama/api/tags   (inference and read routes)",
        f"  Files        {url}/api/v1/files/   (upload, status, download)",
        f"  Knowledge    {url}/api/v1/knowledge/",
        f"  Retrieval    {url}/api/v1/retrieval/query/collection   (POST; hybrid search)",
        f"  API docs     {url}/docs",
        f"  Health       {url}/healthz   {url}/readyz",
        "  Functions    auth: accounts; chat: completions (grounded in files with their sources),"
        " chats, stop, models, embeddings; rag: files, knowledge, retrieval",
        "  Ingestion    small files within the upload; larger ones in the background (in AWS: "
        "the S3 event)",
        f"  Data         {facts.data_dir}",
        f"  Postgres     {facts.postgres}; migrations: {applied}",
        f"  DynamoDB     {facts.dynamodb}",
        f"  Object store {facts.data_dir / 'uploads'}",
        f"  Model host   {model}",
        f"               {facts.model_host_status}",
        f"  Mode         {mode}",
    ]
    lines.extend(f"  Note         {note}" for note in facts.notes)
    lines.append("Press Ctrl-C to stop.")
    return lines


def print_summary(facts: StackFacts) -> None:
    print("\n".join(summary_lines(facts)), file=sys.stderr, flush=True)
