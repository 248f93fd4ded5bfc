"""compose/: every compose file (and each base+variant merge) is valid under the Compose
specification's JSON schema, .env.example documents every variable, and the API image installs
what make venv installs, as a non-root user."""

from __future__ import annotations

import copy
import json
import re
import shlex
import tomllib
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from packaging.specifiers import SpecifierSet

from tests.support.proxy import REPO

COMPOSE = REPO / "compose"
BASE = COMPOSE / "docker-compose.yaml"
VARIANTS = [COMPOSE / "docker-compose.gpu.yaml", COMPOSE / "docker-compose.otel.yaml"]
GPU_HOST = REPO / "gpu-host" / "compose.yaml"
_VARIABLE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)")


def compose_schema() -> dict[str, Any]:
    # Vendored by check-jsonschema, pinned exactly in pyproject.toml.
    resource = files("check_jsonschema") / "builtin_schemas" / "vendor" / "compose-spec.json"
    schema: dict[str, Any] = json.loads(resource.read_text())
    return schema


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def merge(base: Any, override: Any) -> Any:
    """Compose's merge for what these files use: mappings merge key by key, the rest replaces."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = copy.deepcopy(base)
        for key, value in override.items():
            merged[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(override)


def validate(document: dict[str, Any]) -> None:
    schema = compose_schema()
    jsonschema.validators.validator_for(schema)(schema).validate(document)


MERGES = {
    "base": [BASE],
    "base+gpu": [BASE, VARIANTS[0]],
    "base+otel": [BASE, VARIANTS[1]],
    "base+gpu+otel": [BASE, *VARIANTS],
}


@pytest.mark.parametrize("path", [BASE, *VARIANTS, GPU_HOST], ids=lambda p: p.name)
def test_compose_file_is_valid(path: Path) -> None:
    validate(load(path))


@pytest.mark.parametrize("name", MERGES)
def test_merged_compose_files_are_valid(name: str) -> None:
    merged: dict[str, Any] = {}
    for path in MERGES[name]:
        merged = merge(merged, load(path))
    validate(merged)
    # A variant adds to a service; it never defines one the base lacks by accident.
    assert set(merged["services"]) >= set(load(BASE)["services"])


def test_schema_rejects_a_broken_compose_file() -> None:
    broken = load(BASE)
    broken["services"]["api"]["ports"] = "3000:8080"  # must be a list
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


def test_gpu_variant_reserves_nvidia_gpus_for_ollama() -> None:
    devices = load(VARIANTS[0])["services"]["ollama"]["deploy"]["resources"]["reservations"]
    assert devices["devices"] == [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]


def test_every_variable_is_documented_in_env_example() -> None:
    used = set()
    for path in [BASE, *VARIANTS]:
        used |= set(_VARIABLE.findall(path.read_text()))
    documented = {
        line.split("=", 1)[0]
        for line in (COMPOSE / ".env.example").read_text().splitlines()
        if re.match(r"[A-Z_][A-Z0-9_]*=", line)
    }
    assert used == documented


def test_api_service_matches_the_image() -> None:
    api = load(BASE)["services"]["api"]
    assert api["ports"] == ["${OPEN_WEBUI_PORT:-3000}:8080"]
    assert "FORWARDED_ALLOW_IPS" not in api["environment"]
    assert "127.0.0.1:8080/readyz" in " ".join(api["healthcheck"]["test"])
    assert api["volumes"] == ["api-data:/data"]
    assert api["build"] == {"context": "..", "dockerfile": "compose/Dockerfile"}
    for service in load(BASE)["services"].values():
        assert "healthcheck" in service


def test_otel_collector_pipeline_uses_only_defined_components() -> None:
    config = load(COMPOSE / "otel-collector.yaml")
    for pipeline in config["service"]["pipelines"].values():
        for kind in ("receivers", "processors", "exporters"):
            assert set(pipeline.get(kind, [])) <= set(config[kind]), kind
    otel = load(VARIANTS[1])["services"]
    port = otel["otel-collector"]["ports"][0]
    assert port.endswith(":24224")
    assert config["receivers"]["fluentforward"]["endpoint"].endswith(":24224")


def test_otel_variant_sends_the_apis_traces_to_the_collectors_otlp_receiver() -> None:
    """The same spans the tests receive over OTLP/HTTP (tests/integration/test_tracing.py)."""
    config = load(COMPOSE / "otel-collector.yaml")
    assert config["service"]["pipelines"]["traces"]["receivers"] == ["otlp"]
    port = config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].rsplit(":", 1)[1]
    merged = merge(load(BASE), load(VARIANTS[1]))
    environment = merged["services"]["api"]["environment"]
    assert environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://otel-collector:{port}"
    # The base's own settings survive the merge.
    assert set(load(BASE)["services"]["api"]["environment"]) < set(environment)


def test_dynamodb_is_amazons_dynamodb_local_pinned_by_tag_in_memory() -> None:
    services = load(BASE)["services"]
    dynamodb = services["dynamodb"]
    image = dynamodb["image"]
    assert image.startswith("${DYNAMODB_IMAGE:-amazon/dynamodb-local:")
    tag = image.removeprefix("${DYNAMODB_IMAGE:-amazon/dynamodb-local:").rstrip("}").split("@")[0]
    assert tag
    assert tag != "latest"
    assert dynamodb["command"] == ["-jar", "DynamoDBLocal.jar", "-sharedDb", "-inMemory"]
    assert dynamodb["environment"]["DDB_LOCAL_TELEMETRY"] == "0"
    # The API talks to it on DynamoDB Local's port, and waits until it answers.
    assert services["api"]["environment"]["AWS_ENDPOINT_URL_DYNAMODB"] == "http://dynamodb:8000"
    assert services["api"]["depends_on"]["dynamodb"] == {"condition": "service_healthy"}
    assert "8000" in " ".join(dynamodb["healthcheck"]["test"])
    env_example = (COMPOSE / ".env.example").read_text()
    assert f"DYNAMODB_IMAGE=amazon/dynamodb-local:{tag}" in env_example


# The Dockerfile.


def _instructions() -> list[tuple[str, str]]:
    text = (COMPOSE / "Dockerfile").read_text().replace("\\\n", " ")
    result = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def test_image_installs_the_layer_pins_which_match_what_make_venv_installs() -> None:
    runs = [rest for keyword, rest in _instructions() if keyword == "RUN"]
    install = next(shlex.split(run) for run in runs if "pip install" in run)
    assert "--no-deps" in install
    assert "--only-binary=:all:" in install
    assert install[install.index("--requirement") + 1] == "layers/deps/requirements.txt"
    layer = _pins(REPO / "layers" / "deps" / "requirements.txt")
    venv = _pins(REPO / "requirements" / "dev.lock")  # what make venv / make up install
    assert layer
    assert {name: venv.get(name) for name in layer} == layer


def test_image_lays_out_first_party_code_like_make_venv() -> None:
    instructions = _instructions()
    workdir = next(rest for keyword, rest in instructions if keyword == "WORKDIR")
    copies = {rest.split()[0] for keyword, rest in instructions if keyword == "COPY"}
    assert {"layers/stratus/python", "functions", "local"} <= copies
    # make venv writes a .pth with these two folders of the checkout.
    makefile = (REPO / "Makefile").read_text()
    assert '"$(CURDIR)" "$(CURDIR)/layers/stratus/python"' in makefile
    env = " ".join(rest for keyword, rest in instructions if keyword == "ENV")
    assert f"PYTHONPATH={workdir}:{workdir}/layers/stratus/python" in env


def test_image_runs_as_a_non_root_user() -> None:
    instructions = _instructions()
    users = [i for i, (keyword, _) in enumerate(instructions) if keyword == "USER"]
    assert users, "no USER instruction: the container would run as root"
    user = instructions[users[-1]][1].split(":")[0]
    assert user not in {"root", "0"}
    last_run = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "RUN")
    assert users[-1] > last_run


def test_image_python_and_command_fit_the_project() -> None:
    instructions = _instructions()
    base = next(rest for keyword, rest in instructions if keyword == "FROM")
    assert base.startswith("python:3.11-")
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert "3.11" in SpecifierSet(requires)
    entrypoint = json.loads(next(rest for keyword, rest in instructions if keyword == "ENTRYPOINT"))
    command = json.loads(next(rest for keyword, rest in instructions if keyword == "CMD"))
    assert entrypoint == ["python", "-m", "local"]
    assert command == ["--host", "0.0.0.0", "--port", "8080"]


# Images pinned by tag and digest (matrix row 32: supply chain): a tag can be moved to other
# bytes; the digest cannot. The tag stays for people, and so Renovate-style tools can read it.
_PINNED = re.compile(r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*:[\w][\w.-]*@sha256:[0-9a-f]{64}$")
_DEFAULT = re.compile(r"^\$\{(?P<name>[A-Z_][A-Z0-9_]*):-(?P<default>[^}]*)\}$")
# Images whose digest no public source gave (compose/README.md, "Image digests"): none now.
TAG_ONLY: set[str] = set()


def _images() -> list[tuple[str, str, str | None]]:
    """(file: service, image reference, its variable) for every image a compose file pulls."""
    found = []
    for path in [BASE, *VARIANTS, GPU_HOST]:
        for name, service in load(path)["services"].items():
            if "image" not in service or "build" in service:  # built here: stratus-local
                continue
            image = service["image"]
            default = _DEFAULT.match(image)
            reference = default["default"] if default else image
            found.append((f"{path.name}: {name}", reference, default["name"] if default else None))
    return found


def test_every_image_is_pinned_by_tag_and_digest() -> None:
    images = _images()
    assert len(images) == 6  # postgres, dynamodb, ollama, otel-collector; gpu host: ollama, proxy
    for where, reference, _ in images:
        if reference.split(":")[0] in TAG_ONLY:
            assert "@" not in reference, f"{where}: pinned now; take it off TAG_ONLY"
            continue
        assert _PINNED.match(reference), f"{where}: {reference} is not name:tag@sha256:digest"
    base = next(rest for keyword, rest in _instructions() if keyword == "FROM")
    assert _PINNED.match(base), f"Dockerfile: FROM {base}"


def test_env_example_pins_the_same_images_as_the_compose_files() -> None:
    example = dict(
        line.split("=", 1)
        for line in (COMPOSE / ".env.example").read_text().splitlines()
        if re.match(r"[A-Z_][A-Z0-9_]*=", line)
    )
    for where, reference, variable in _images():
        if where.startswith("compose.yaml"):  # the GPU host's own file: gpu-host/README.md
            continue
        assert variable is not None, where
        assert example[variable] == reference, where


def test_api_passes_cors_and_the_telemetry_opt_outs_with_the_apps_defaults() -> None:
    from stratus.settings import TelemetrySettings, WebSettings

    environment = load(BASE)["services"]["api"]["environment"]
    defaults = {}
    for name in ("CORS_ALLOW_ORIGIN", "DO_NOT_TRACK", "ANONYMIZED_TELEMETRY"):
        value = _DEFAULT.match(environment[name])
        assert value is not None, f"{name} is not passed as ${{{name}:-default}}"
        assert value["name"] == name
        defaults[name] = value["default"]
    # An unset variable in .env changes nothing: the container sees the app's own defaults.
    assert WebSettings.from_env(defaults).cors_allow_origins == (
        WebSettings.from_env({}).cors_allow_origins
    )
    assert TelemetrySettings.from_env(defaults) == TelemetrySettings.from_env({})
    # A value set in .env reaches the app.
    origin = WebSettings.from_env({"CORS_ALLOW_ORIGIN": "https://chat.example"})
    assert origin.cors_allow_origins == ("https://chat.example",)
