"""Architecture rules as tests: who may import whom, and that a function's init touches no network.

Which modules each function loads at init and per request is guarded in
``tests/handler/test_import_guard.py``, with real services.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "layers" / "stratus" / "python" / "stratus"
FUNCTIONS = ROOT / "functions"


def _module_name(path: Path, package_root: Path) -> list[str]:
    parts = list(path.relative_to(package_root).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def imported_modules(path: Path, package_root: Path) -> Iterator[str]:
    """Every absolute module name ``path`` imports, anywhere in the file (lazy imports too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = _module_name(path, package_root)
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # Relative: resolve against this module's package.
                package = here if is_package else here[:-1]
                base = package[: len(package) - (node.level - 1)]
                prefix = ".".join([*base, *([node.module] if node.module else [])])
            else:
                prefix = node.module or ""
            yield prefix
            # "from functions import chat" imports the module functions.chat
            yield from (f"{prefix}.{alias.name}" for alias in node.names)


def _python_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*.py") if "__pycache__" not in p.parts)


def _top(module: str) -> str:
    return module.split(".", 1)[0]


def test_walker_sees_the_code_it_checks():
    # Guard against a vacuous pass: the scanned trees exist and contain modules.
    assert len(_python_files(SHARED)) >= 15
    assert {p.name for p in FUNCTIONS.iterdir() if p.is_dir()} >= {"auth", "chat", "rag"}
    imports = set(imported_modules(FUNCTIONS / "auth" / "handler.py", ROOT))
    assert "functions.auth.app" in imports
    assert "stratus.lambda_http" in imports


def test_relative_imports_are_resolved(tmp_path):
    pkg = tmp_path / "functions" / "chat"
    pkg.mkdir(parents=True)
    module = pkg / "routes.py"
    module.write_text("from ..rag import service\nfrom . import schemas\n")
    found = set(imported_modules(module, tmp_path))
    assert "functions.rag.service" in found
    assert "functions.chat.schemas" in found


def shared_layer_offenders(shared: Path, root: Path) -> list[str]:
    return [
        f"{path.relative_to(root)} imports {module}"
        for path in _python_files(shared)
        for module in imported_modules(path, shared.parent)
        if _top(module) in {"functions", "local"}
    ]


def function_offenders(functions_dir: Path, root: Path) -> list[str]:
    """Imports of ``local`` or of another function, from any module under ``functions/<name>``."""
    offenders = []
    for function_dir in sorted(p for p in functions_dir.iterdir() if p.is_dir()):
        for path in _python_files(function_dir):
            for module in imported_modules(path, root):
                parts = module.split(".")
                other_function = parts[0] == "functions" and parts[1:2] not in (
                    [],
                    [function_dir.name],
                )
                if parts[0] == "local" or other_function:
                    offenders.append(f"{path.relative_to(root)} imports {module}")
    return offenders


def test_shared_layer_never_imports_functions_or_local():
    assert shared_layer_offenders(SHARED, ROOT) == []


def test_functions_never_import_each_other_or_local():
    assert function_offenders(FUNCTIONS, ROOT) == []


def test_rules_catch_violations(tmp_path):
    # GIVEN a small tree that breaks every rule, including through lazy and relative imports
    shared = tmp_path / "layers" / "stratus"
    shared.mkdir(parents=True)
    (shared / "bad.py").write_text("def f():\n    import local.composed\n")
    (shared / "worse.py").write_text("from functions.chat import app\n")
    chat, rag = tmp_path / "functions" / "chat", tmp_path / "functions" / "rag"
    chat.mkdir(parents=True)
    rag.mkdir(parents=True)
    (chat / "service.py").write_text("from ..rag import service\nfrom . import schemas\n")
    (rag / "routes.py").write_text("from functions import chat\nfrom local import composed\n")
    (rag / "ok.py").write_text("from functions.rag import service\nimport stratus\n")

    assert sorted(shared_layer_offenders(shared, tmp_path)) == [
        "layers/stratus/bad.py imports local.composed",
        "layers/stratus/worse.py imports functions.chat",
        "layers/stratus/worse.py imports functions.chat.app",
    ]
    assert sorted(function_offenders(tmp_path / "functions", tmp_path)) == [
        "functions/chat/service.py imports functions.rag",
        "functions/chat/service.py imports functions.rag.service",
        "functions/rag/routes.py imports functions.chat",
        "functions/rag/routes.py imports local",
        "functions/rag/routes.py imports local.composed",
    ]


INIT_PROBE = textwrap.dedent(
    """
    import asyncio, json, socket, sys

    attempts = []

    def refuse(self, address, *args, **kwargs):
        attempts.append(repr(address))
        raise OSError("network access during a function's init")

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse

    # Lambda's init for each function: the Mangum handlers' imports, and chat's start-up under
    # uvicorn (its app factory, then the app's start-up hooks on a loop).
    import functions.auth.handler
    import functions.rag.handler
    from functions.chat.entry import create_entry_app

    chat = create_entry_app().app

    async def start_up():
        for hook in chat.on_startup:
            await hook()
        from stratus.db.pool import _pool
        from stratus.modelhost.http import _http

        pool = _pool.built_for(asyncio.get_running_loop())
        session = _http.built_for(asyncio.get_running_loop()).session
        return {"pool_built": pool is not None, "pool_open": not pool.closed,
                "session_open": not session.closed}

    built = asyncio.run(start_up())
    from stratus.ephemeral import clients
    from functions.chat.generation.user_state import state_table
    built["dynamodb_clients"] = len(clients._built)
    # Chat's hot-path table: credentials resolved at init, no HTTP session opened yet.
    built["state_table_ready"] = state_table()._credentials is not None
    built["state_table_sessions"] = len(state_table()._sessions)

    # Prove the harness works: a real connect attempt is caught.
    try:
        socket.create_connection(("127.0.0.1", 9), timeout=1)
    except OSError:
        pass
    print(json.dumps({"attempts": attempts, "built": built}))
    """
)


def _init_env() -> dict[str, str]:
    """A deployed function's settings, every endpoint a closed port: init must not notice."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "DATABASE_", "OLLAMA_", "OPENAI_", "S3_", "STORAGE_"))
    }
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(SHARED.parent)])
    env.update(
        {
            "DATABASE_URL": "postgresql://stratus@127.0.0.1:9/stratus",
            "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9",
            "AWS_ACCESS_KEY_ID": "init-probe",
            "AWS_SECRET_ACCESS_KEY": "init-probe",
            "AWS_REGION": "us-east-1",
            "OLLAMA_BASE_URL": "http://127.0.0.1:9",
            "WEBUI_SECRET_KEY": "init-probe-signing-key-5c1e9a7b3d2f4e6a8b0c",
            "STRATUS_DATA_DIR": str(ROOT / "build" / "init-probe"),
        }
    )
    return env


@pytest.fixture(scope="module")
def init_report() -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", INIT_PROBE],
        cwd=ROOT,
        env=_init_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def test_init_builds_the_pool_and_clients(init_report):
    # Not vacuous: init really built what the functions use...
    assert init_report["built"]["pool_built"]
    assert init_report["built"]["dynamodb_clients"] >= 1  # the table's (pynamodb, botocore)
    assert init_report["built"]["state_table_ready"]  # chat's (aiodynamo)
    assert init_report["built"]["state_table_sessions"] == 0
    assert init_report["built"]["session_open"]
    # ...and connected nothing: the pool opens on first use (libpq connects outside Python's
    # socket module, so its state is the evidence).
    assert not init_report["built"]["pool_open"]


def test_init_makes_no_network_connection(init_report):
    # Only the harness's own deliberate probe (port 9) may appear.
    assert init_report["attempts"] == [repr(("127.0.0.1", 9))]
