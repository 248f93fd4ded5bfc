"""API Gateway's resource tree, derived from the route table ``local/`` uses.

``local.routing`` says which function serves a path; this module turns that into REST API
resources so the cloud routes exactly as the local stack does. Every resource on the way to a
Mangum function's prefix gets its own ``ANY`` method and a greedy ``{proxy+}`` child, each sent
to whichever function ``local.routing.function_for`` names for it, so no request depends on API
Gateway falling back from a static resource to a greedy one higher up.
"""

from __future__ import annotations

from dataclasses import dataclass

from local import routing

GREEDY = "{proxy+}"


@dataclass(frozen=True)
class Route:
    """One method: ``ANY`` on ``path`` (a resource path, ``/`` for the root) -> ``function``."""

    path: str
    function: str


def _join(parent: str, part: str) -> str:
    return f"/{part}" if parent == "/" else f"{parent}/{part}"


def resource_paths() -> list[str]:
    """The static resources: the root, every prefix and every resource on the way to one."""
    paths = {"/"}
    for function_prefixes in routing.MANGUM_FUNCTION_PREFIXES.values():
        for prefix in function_prefixes:
            parts = [p for p in prefix.split("/") if p]
            current = "/"
            for part in parts:
                current = _join(current, part)
                paths.add(current)
    return sorted(paths, key=lambda p: (p.count("/") if p != "/" else 0, p))


def route_table() -> list[Route]:
    """``ANY`` on each static resource and on its ``{proxy+}`` child, with the owning function
    (both read from ``local.routing`` when called)."""
    routes: list[Route] = []
    for path in resource_paths():
        routes.append(Route(path, routing.function_for(path)))
        greedy = _join(path, GREEDY)
        # Any path under this resource that no deeper static resource takes: a segment that is
        # not one of the prefixes, so function_for's answer is the one for that whole subtree.
        routes.append(Route(greedy, routing.function_for(_join(path, "x"))))
    return routes


def api_paths() -> list[str]:
    """Every path the API serves, as templates: the committed OpenAPI document (which a test
    keeps equal to the composed app's routes), the docs the functions serve beside it, and the
    Mangum functions' prefixes."""
    import json

    from stratus.openapi import document_path
    from stratus.web.docs import DOCS_PATH

    document = json.loads(document_path().read_text(encoding="utf-8"))
    paths = set(document["paths"]) | {DOCS_PATH, f"{DOCS_PATH}/openapi.json"}
    for prefixes in routing.MANGUM_FUNCTION_PREFIXES.values():
        paths |= set(prefixes)
    return sorted(paths)


def api_path_patterns() -> list[str]:
    """CloudFront path patterns that send every API path to the API and nothing else there:
    for each first segment, ``/<segment>`` where the API serves that path itself and
    ``/<segment>/*`` where it serves paths below it. The web client's own paths (``/`` and
    ``/assets/...``) must not be among them."""
    from local.webclient.assets import ASSETS_PREFIX

    patterns: set[str] = set()
    for path in api_paths():
        segments = [s for s in path.split("/") if s]
        if not segments or f"/{segments[0]}" == ASSETS_PREFIX:
            raise ValueError(f"API path {path!r} would take the web client's own paths")
        top = f"/{segments[0]}"
        patterns.add(top if len(segments) == 1 else f"{top}/*")
    return sorted(patterns)
