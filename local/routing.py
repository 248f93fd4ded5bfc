"""Which function serves which path, as API Gateway routes them in AWS.

Everything not listed goes to chat, whose catch-all route serves the OpenAI and Ollama APIs.
A test checks that every route of auth and rag falls under its prefixes here.
"""

from __future__ import annotations

MANGUM_FUNCTION_PREFIXES: dict[str, tuple[str, ...]] = {
    "auth": ("/api/v1/auths", "/api/v1/users", "/api/config"),
    "rag": ("/api/v1/files", "/api/v1/knowledge", "/api/v1/retrieval"),
}


def function_for(path: str) -> str:
    for function, prefixes in MANGUM_FUNCTION_PREFIXES.items():
        if any(path == prefix or path.startswith(prefix + "/") for prefix in prefixes):
            return function
    return "chat"
