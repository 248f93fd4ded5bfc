"""The GPU host's user data (python -m infra.gpu_host): valid #cloud-config under EC2's size cap,
carrying the committed gpu-host/ files byte for byte, with its parameters."""

from __future__ import annotations

import base64
import gzip
import shlex
import subprocess
import sys
from typing import Any

import jsonschema
import pytest
import yaml

from infra.gpu_host.user_data import (
    CONFIG_PATH,
    GPU_HOST_DIR,
    HOST_FILES,
    INSTALL_DIR,
    USER_DATA_LIMIT,
    HostParameters,
    ParameterError,
    build_user_data,
)
from tests.support.cloud_init import cloud_config_schema, top_level_keys

ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:stratus/ollama-AbCdEf"
PARAMETERS = HostParameters(ollama_api_key_secret_arn=ARN, aws_region="eu-west-1")


def _config() -> dict[str, Any]:
    text = build_user_data(PARAMETERS)
    assert text.startswith("#cloud-config\n")
    config: dict[str, Any] = yaml.safe_load(text)
    return config


def test_user_data_fits_the_ec2_limit() -> None:
    assert len(build_user_data(PARAMETERS).encode()) <= USER_DATA_LIMIT


def test_user_data_validates_against_cloud_init_schema() -> None:
    schema = cloud_config_schema()
    config = _config()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class(schema).validate(config)
    # cloud-init ignores unknown keys with a warning; here they are a mistake.
    assert set(config) <= top_level_keys(schema)


def test_cloud_init_schema_catches_a_broken_config() -> None:
    schema = cloud_config_schema()
    broken = _config()
    broken["write_files"][0]["encoding"] = "zip"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validators.validator_for(schema)(schema).validate(broken)


def test_every_host_file_travels_byte_for_byte_with_its_mode() -> None:
    files = {entry["path"]: entry for entry in _config()["write_files"]}
    for name, mode in HOST_FILES:
        entry = files[f"{INSTALL_DIR}/{name}"]
        assert entry["encoding"] == "gz+b64"
        assert gzip.decompress(base64.b64decode(entry["content"])) == (
            (GPU_HOST_DIR / name).read_bytes()
        )
        assert entry["permissions"] == mode
    shipped = {name for name, _ in HOST_FILES}
    on_disk = {p.name for p in GPU_HOST_DIR.glob("*") if p.suffix in {".sh", ".py", ".service"}}
    assert on_disk <= shipped, "a host script is not shipped in the user data"


def test_install_runs_once_and_paths_agree_with_the_scripts() -> None:
    config = _config()
    assert config["runcmd"] == [[f"{INSTALL_DIR}/install.sh"]]
    for script in ("start.sh", "install.sh"):
        assert CONFIG_PATH in (GPU_HOST_DIR / script).read_text()
    unit = (GPU_HOST_DIR / "stratus-gpu-host.service").read_text()
    assert f"ExecStart={INSTALL_DIR}/start.sh start" in unit


def test_parameters_reach_the_host_env_file_as_bash_reads_them() -> None:
    files = {entry["path"]: entry for entry in _config()["write_files"]}
    entry = files[CONFIG_PATH]
    assert entry["permissions"] == "0600"
    script = entry["content"] + 'printf "%s\\n" "$OLLAMA_API_KEY_SECRET_ARN" '
    script += '"$OLLAMA_PRELOAD_MODELS" "$OLLAMA_KEEP_ALIVE" "$OLLAMA_NUM_PARALLEL"'
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [ARN, "llama3.2 nomic-embed-text", "-1", "4"]


@pytest.mark.parametrize("value", ['llama3"; rm -rf /', "$(reboot)", "a`b`", "a\nb", "a\\b"])
def test_a_parameter_that_would_escape_its_quotes_is_refused(value: str) -> None:
    with pytest.raises(ParameterError):
        build_user_data(HostParameters(ARN, "eu-west-1", ollama_preload_models=value))


def test_command_line_prints_the_user_data() -> None:
    command = f"{sys.executable} -m infra.gpu_host --secret-arn {ARN} --region eu-west-1"
    result = subprocess.run(shlex.split(command), capture_output=True, text=True, check=True)
    assert result.stdout == build_user_data(PARAMETERS)
