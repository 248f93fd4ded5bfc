"""Architecture rules as tests: who may import whom, and what importing a handler may cost."""

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

# Built lazily on first use, never at import or create_app().
HEAVY = ("boto3", "pynamodb", "psycopg", "psycopg_pool", "yoyo", "httpx")


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


IMPORT_PROBE = textwrap.dedent(
    """
    import json, socket, sys

    attempts = []

    def refuse(self, address, *args, **kwargs):
        attempts.append(repr(address))
        raise OSError("network access while importing or building an app")

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse

    import functions.auth.handler
    import functions.rag.handler
    import functions.chat.app
    from functions.auth.app import create_app as auth_app
    from functions.rag.app import create_app as rag_app

    apps = [auth_app(), rag_app(), functions.chat.app.create_app()]
    loaded = sorted(name for name in HEAVY if name in sys.modules)
    botocore = sorted(m for m in sys.modules if m == "botocore" or m.startswith("botocore."))

    # Prove the harness works: a real connect attempt is caught.
    try:
        socket.create_connection(("127.0.0.1", 9), timeout=1)
    except OSError:
        pass
    print(json.dumps(
        {"loaded": loaded, "botocore": botocore, "attempts": attempts, "apps": len(apps)}
    ))
    """
)


def _clean_env() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "DATABASE_", "OLLAMA_", "OPENAI_", "S3_", "STORAGE_"))
    }
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(SHARED.parent)])
    return env


def _run_probe(extra: str = "") -> dict[str, Any]:
    script = f"HEAVY = {HEAVY!r}\n{extra}\n{IMPORT_PROBE}"
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


@pytest.fixture(scope="module")
def import_report() -> dict[str, Any]:
    return _run_probe()


def test_handlers_import_and_build_without_heavy_clients(import_report):
    assert import_report["apps"] == 3
    assert import_report["loaded"] == []


def test_only_the_botocore_package_root_is_imported(import_report):
    # aws_lambda_powertools/__init__ runs ``import botocore`` (shared/user_agent.py) to decide
    # whether to tag SDK calls; that loads only botocore/__init__ (well under 1 ms). Sessions,
    # clients and service models must stay unloaded until first use.
    assert import_report["botocore"] in ([], ["botocore"])


def test_handlers_import_and_build_without_network(import_report):
    # Only the harness's own deliberate probe (port 9) may appear.
    assert import_report["attempts"] == [repr(("127.0.0.1", 9))]


def test_probe_detects_an_eager_import():
    # The same probe flags a module that is imported eagerly, so a pass above means something.
    report = _run_probe(extra="import httpx\nimport botocore.session")
    assert "httpx" in report["loaded"]
    assert "botocore.session" in report["botocore"]
