"""``make spec``: writes the API's OpenAPI document, built from the composed app, into the shared
layer, where every function serves it (``stratus.openapi``).

``python -m local.spec --check`` exits 1 when the committed document is stale.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from stratus.openapi import document_path


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def current_document() -> str:
    from local.composed import create_local_app
    from stratus.openapi.build import build_document

    return render(build_document(create_local_app()))


def main(argv: list[str]) -> int:
    fresh = current_document()
    path = document_path()
    if "--check" in argv:
        if not path.exists() or path.read_text(encoding="utf-8") != fresh:
            print(f"{path} is stale: run make spec", file=sys.stderr)
            return 1
        return 0
    path.write_text(fresh, encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
