"""Every function runs from the zips ``make package`` built, laid out as Lambda lays them out.

GIVEN the built layers unpacked into /opt/python and each function's zip into its task root
(tests/support/lambda_layout.py), and an interpreter with nothing installed,
WHEN each function's every module is imported, and each function is started as Lambda starts
it (the Mangum handlers' init and one real event; chat's run.sh and one streamed completion),
THEN everything loads from the zips alone and answers, against the real services.

What this proves: the function zips and the layers hold all the Python code the functions
import (theirs, the stratus package's and every dependency's pure-Python files, as shipped),
the native modules sit where their packages import them from, nothing comes from the checkout
or the test virtualenv, and the trimmed layer lacks nothing the functions load.

What it cannot prove, and why: the interpreter is this machine's CPython 3.11 on x86-64, not
Lambda's 3.12 on arm64, so the layer's arm64 extensions are not what runs. Each is replaced by
this machine's build of the same distribution at the same version (the list is asserted
below); the arm64 wheels are proven only by their tags and ELF headers
(tests/deploy/test_package.py). Behaviour that differs between 3.11 and 3.12 is not exercised;
the modules 3.12 removed from the standard library are checked for by name. infra/README.md
lists what stays unverified.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.packaging.wheels import _elf_machine
from local.children import free_port
from tests.support.chat import ChatStack, chat_body
from tests.support.cold_start import (
    function_env,
    recorded_event,
    run_handler,
    server_process,
    with_path,
    with_token,
)
from tests.support.lambda_layout import FUNCTIONS, LambdaLayout, lay_out
from tests.support.services import server_data_dir

# Standard-library modules that Python 3.12 removed (PEP 594, PEP 632 and the imp module): an
# import of one works on this machine's 3.11 and fails on Lambda's 3.12.
REMOVED_IN_312 = ("distutils", "imp", "asynchat", "asyncore", "smtpd")
# The distributions whose arm64 native files are replaced by this machine's for these tests.
NATIVE = {
    "aiohttp", "argon2-cffi-bindings", "cffi", "charset-normalizer", "frozenlist", "httptools",
    "lxml", "markupsafe", "msgspec", "multidict", "propcache", "protobuf", "psycopg-binary",
    "pyyaml", "uvloop", "yarl",
}  # fmt: skip

IMPORT_EVERYTHING = r"""
import importlib, json, pkgutil, sys, sysconfig

allowed = [*sys.argv[2:], sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]]
failed = {}
for package in ("functions", "stratus"):
    for info in pkgutil.walk_packages(importlib.import_module(package).__path__, package + "."):
        if info.name.endswith(".__main__"):
            continue
        try:
            importlib.import_module(info.name)
        except Exception as error:
            failed[info.name] = f"{type(error).__name__}: {error}"
modules = dict(sys.modules)
elsewhere = sorted(
    f"{name}: {module.__file__}"
    for name, module in modules.items()
    if getattr(module, "__file__", None)
    and not any(module.__file__.startswith(root + "/") for root in allowed)
)
report = {
    "version": list(sys.version_info[:2]),
    "path": sys.path,
    "modules": sorted(modules),
    "failed": failed,
    "elsewhere": elsewhere,
}
with open(sys.argv[1], "w") as out:
    json.dump(report, out)
"""


@pytest.fixture(scope="module")
def layout(built: tuple[Path, str]) -> Iterator[LambdaLayout]:
    dist, _ = built
    # Outside pytest's temp root: run as root, chat's server reads it as another user too.
    with server_data_dir("stratus-lambda-layout-") as root:
        yield lay_out(dist, root)


def _import_everything(layout: LambdaLayout, function: str) -> dict[str, Any]:
    output = layout.root / f"import-{function}.json"
    task, opt = layout.code(function)
    result = subprocess.run(
        [str(layout.python), "-c", IMPORT_EVERYTHING, str(output), str(task), str(opt)],
        cwd=task,
        env=function_env(dict(os.environ), layout.python, layout.code(function)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    report: dict[str, Any] = json.loads(output.read_text())
    return report


def test_the_layout_holds_only_the_zips_and_stands_in_for_every_native_file(
    layout: LambdaLayout,
) -> None:
    assert set(layout.stand_ins) == NATIVE, layout.stand_ins
    assert all(count > 0 for count in layout.stand_ins.values())
    # No arm64 library is left to be loaded by mistake, nor would one load here.
    machines = {_elf_machine(p) for p in layout.opt_python.rglob("*.so*") if p.is_file()}
    assert machines == {62}, machines  # x86-64: the stand-ins
    for function in FUNCTIONS:
        assert (layout.task_roots[function] / "functions" / function / "__init__.py").is_file()
        others = {p.name for p in (layout.task_roots[function] / "functions").iterdir()}
        assert others <= {function, "__init__.py"}, others


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_module_of_a_function_imports_from_the_zips_alone(
    layout: LambdaLayout, auth_env: dict[str, str], function: str
) -> None:
    report = _import_everything(layout, function)
    assert report["failed"] == {}
    assert report["elsewhere"] == [], "loaded from outside the zips and the standard library"
    modules = set(report["modules"])
    assert f"functions.{function}.app" in modules
    assert "stratus.settings" in modules
    assert not [m for m in modules if m.split(".")[0] in REMOVED_IN_312]
    assert not [m for m in modules if m.split(".")[0] in {"local", "tests", "pytest"}]
    # The import path: the working directory (the task root), the zips, the stdlib, and the
    # interpreter's empty site-packages (lay_out checks it is empty).
    runtime = str(layout.python.parent.parent)
    path = [p for p in report["path"] if p and not p.startswith((sys.base_prefix, runtime))]
    assert path == [str(p) for p in layout.code(function)], report["path"]


def _signed_up_token(layout: LambdaLayout, env: dict[str, str]) -> str:
    event = recorded_event("auth_signin_http_v2")
    body = json.loads(event["body"]) | {"name": "Zip User"}
    run = run_handler(
        layout.python,
        "functions.auth.handler",
        with_path(event, "/api/v1/auths/signup", json.dumps(body)),
        env,
        code=layout.code("auth"),
        cwd=layout.task_roots["auth"],
    )
    assert run["first_status"] == 200, run["first_body"]
    token: str = run.body()["token"]
    return token


def test_auth_and_rag_handlers_serve_events_from_the_zips(
    layout: LambdaLayout, auth_env: dict[str, str]
) -> None:
    env = dict(os.environ)
    token = _signed_up_token(layout, env)  # argon2, Postgres, DynamoDB: all from the layout
    me = run_handler(
        layout.python,
        "functions.auth.handler",
        with_token(recorded_event("auth_me_http_v2"), token),
        env,
        code=layout.code("auth"),
        cwd=layout.task_roots["auth"],
    )
    assert me["first_status"] == 200, me["first_body"]
    assert me.body()["name"] == "Zip User"
    files = run_handler(
        layout.python,
        "functions.rag.handler",
        with_path(with_token(recorded_event("auth_me_http_v2"), token), "/api/v1/files/"),
        env,
        code=layout.code("rag"),
        cwd=layout.task_roots["rag"],
    )
    assert files["first_status"] == 200, files["first_body"]
    assert files.body() == []


def _run_sh(task: Path) -> Path:
    run_sh = task / "functions" / "chat" / "run.sh"
    assert os.access(run_sh, os.X_OK), "Lambda executes run.sh: its mode must say so"
    # run.sh puts LAMBDA_TASK_ROOT and /opt/python on the import path, as in Lambda; this
    # machine has no /opt/python, so the layers' folder is passed on PYTHONPATH after them.
    assert not os.path.exists("/opt/python")
    return run_sh


@pytest.mark.anyio
async def test_chat_run_sh_streams_a_completion_from_the_zips(
    layout: LambdaLayout, chat_stack: ChatStack, tmp_path: Path
) -> None:
    task = layout.task_roots["chat"]
    run_sh = _run_sh(task)
    env = {
        **os.environ,
        "AWS_LAMBDA_FUNCTION_NAME": "stratus-chat",
        "LAMBDA_TASK_ROOT": str(task),
    }
    port = free_port()
    with server_process(
        [str(run_sh)],
        function_env(env, layout.python, [layout.opt_python]),
        port,
        log=tmp_path / "run-sh.log",
        cwd=task,
    ) as server:
        server.wait_ready()
        body = json.dumps(chat_body("hello there", stream=True)).encode()
        headers = {**chat_stack.user.headers, "content-type": "application/json"}
        answer = server.request("POST", "/v1/chat/completions", body, headers)
    assert answer.status == 200, answer.body
    assert b"[DONE]" in answer.body
