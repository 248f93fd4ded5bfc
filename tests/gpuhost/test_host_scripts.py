"""The GPU host's shell scripts, linted and then run against the emulator and the real proxy.

preload.sh and healthcheck.sh speak HTTP with curl; here they talk to the model-host emulator
(as Ollama on loopback) and to nginx with the committed proxy config, as on the host.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from local.children import free_port
from local.emulator.testing import EmulatorHandle
from tests.gpuhost.conftest import TOKEN
from tests.support.proxy import REPO, RunningProxy, running_proxy
from tests.support.system_deps import require

GPU_HOST = REPO / "gpu-host"
SCRIPTS = sorted(GPU_HOST.glob("*.sh"))
MODELS = "emulator-chat emulator-embed"


def run(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(GPU_HOST / script)],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_every_script_passes_shellcheck() -> None:
    shellcheck = require("shellcheck")
    assert SCRIPTS, "no scripts found"
    result = subprocess.run(
        [shellcheck, "--external-sources", *map(str, SCRIPTS)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_script_parses_and_is_executable(script: Path) -> None:
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    assert os.access(script, os.X_OK)


def test_preload_loads_every_model_on_the_volume_without_pulling_it(
    emulator: EmulatorHandle,
) -> None:
    """A host started from the warm pool: its models are on its volume, so a start is only a
    load (no registry, no download)."""
    env = {"OLLAMA_LOCAL_URL": emulator.base_url, "OLLAMA_PRELOAD_MODELS": MODELS}
    result = run("preload.sh", env)
    assert result.returncode == 0, result.stderr
    assert emulator.stats.management_counts == {}
    assert emulator.stats.requests("POST /api/show") == 2
    loaded = {entry.name for entry, _ in emulator.state.loaded_models()}
    assert loaded == {"emulator-chat:latest", "emulator-embed:latest"}


def test_preload_pulls_a_model_that_is_not_on_the_volume(emulator: EmulatorHandle) -> None:
    # The emulator answers /api/show with 404 for a name it does not know, as Ollama does for
    # a model it has not pulled (and, knowing no such model, cannot load it after the pull).
    env = {"OLLAMA_LOCAL_URL": emulator.base_url, "OLLAMA_PRELOAD_MODELS": "missing-model"}
    result = run("preload.sh", env)
    assert "preload: pulling missing-model" in result.stdout
    assert emulator.stats.management_counts == {"POST /api/pull": 1}


def test_preload_refuses_a_name_that_would_break_its_json(emulator: EmulatorHandle) -> None:
    result = run(
        "preload.sh",
        {"OLLAMA_LOCAL_URL": emulator.base_url, "OLLAMA_PRELOAD_MODELS": 'x","insecure":true'},
    )
    assert result.returncode == 1
    assert "refusing model name" in result.stderr
    assert emulator.stats.request_counts == {}


def _health_env(proxy: RunningProxy, emulator: EmulatorHandle, **extra: str) -> dict[str, str]:
    return {
        "OLLAMA_LOCAL_URL": emulator.base_url,
        "PROXY_URL": proxy.base_url,
        "OLLAMA_PRELOAD_MODELS": MODELS,
        "OLLAMA_API_KEY": TOKEN,
        **extra,
    }


def _preload(emulator: EmulatorHandle) -> None:
    preload = {"OLLAMA_LOCAL_URL": emulator.base_url, "OLLAMA_PRELOAD_MODELS": MODELS}
    assert run("preload.sh", preload).returncode == 0


def test_healthcheck_passes_on_a_healthy_host(
    proxy: RunningProxy, emulator: EmulatorHandle
) -> None:
    _preload(emulator)
    result = run("healthcheck.sh", _health_env(proxy, emulator))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "healthy"


def test_healthcheck_reads_the_token_from_the_env_file(
    proxy: RunningProxy, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    _preload(emulator)
    env_file = tmp_path / "proxy.env"
    env_file.write_text(f"OLLAMA_API_KEY={TOKEN}\n")
    env = _health_env(proxy, emulator, PROXY_ENV_FILE=str(env_file))
    del env["OLLAMA_API_KEY"]
    result = run("healthcheck.sh", env)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"OLLAMA_API_KEY": "wrong" * 8}, "with the token (want 200)"),
        ({"PROXY_URL": "EMULATOR"}, "without the token (want 401)"),
        ({"OLLAMA_LOCAL_URL": "http://127.0.0.1:9"}, "Ollama does not answer"),
        ({"OLLAMA_PRELOAD_MODELS": "emulator-chat other-model"}, "other-model:latest is not"),
    ],
)
def test_healthcheck_names_the_first_failure(
    proxy: RunningProxy, emulator: EmulatorHandle, change: dict[str, str], reason: str
) -> None:
    _preload(emulator)
    # An open Ollama (the emulator has no auth) in the proxy's place must not pass.
    change = {k: emulator.base_url if v == "EMULATOR" else v for k, v in change.items()}
    result = run("healthcheck.sh", _health_env(proxy, emulator, **change))
    assert result.returncode == 1
    assert reason in result.stderr, result.stderr


def test_healthcheck_fails_when_a_model_was_evicted(
    proxy: RunningProxy, emulator: EmulatorHandle
) -> None:
    _preload(emulator)
    emulator.reset()  # nothing loaded any more
    result = run("healthcheck.sh", _health_env(proxy, emulator))
    assert result.returncode == 1
    assert "is not loaded" in result.stderr


def test_healthcheck_fails_when_the_proxys_ollama_is_not_the_one_answering(
    emulator: EmulatorHandle,
) -> None:
    """Ollama answers on loopback, but the proxy's upstream is dead: the load balancer's view
    (the proxy's /healthz) is what fails."""
    _preload(emulator)
    with running_proxy(upstream=f"127.0.0.1:{free_port()}", token=TOKEN) as dead:
        result = run("healthcheck.sh", _health_env(dead, emulator))
    assert result.returncode == 1
    assert "/healthz answered 502" in result.stderr, result.stderr
