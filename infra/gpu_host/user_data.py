"""Build the GPU host's user data: a ``#cloud-config`` that writes the committed ``gpu-host/``
files onto the instance, with its parameters, and runs ``install.sh`` once.

The files travel verbatim (compressed: EC2 caps user data at 16 KiB), so what the tests check
in ``gpu-host/`` is exactly what boots.
"""

from __future__ import annotations

import base64
import gzip
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

GPU_HOST_DIR = Path(__file__).resolve().parents[2] / "gpu-host"
INSTALL_DIR = "/opt/stratus-gpu-host"
CONFIG_PATH = "/etc/stratus-gpu-host/host.env"
USER_DATA_LIMIT = 16 * 1024

# (file in gpu-host/, mode on the host)
HOST_FILES: tuple[tuple[str, str], ...] = (
    ("compose.yaml", "0644"),
    ("proxy/default.conf.template", "0644"),
    ("stratus-gpu-host.service", "0644"),
    ("install.sh", "0755"),
    ("start.sh", "0755"),
    ("preload.sh", "0755"),
    ("healthcheck.sh", "0755"),
    ("fetch_token.py", "0755"),
    ("host_ready.py", "0755"),
)

# host.env is sourced by bash and read by docker compose: values stay inside double quotes,
# so they may hold no quote, dollar, backslash or backtick.
_SAFE_VALUE = re.compile(r"[A-Za-z0-9 _.:/@+=,-]*")


class ParameterError(ValueError):
    pass


@dataclass(frozen=True)
class HostParameters:
    ollama_api_key_secret_arn: str
    aws_region: str
    ollama_preload_models: str = "llama3.2 nomic-embed-text"
    ollama_keep_alive: str = "-1"
    ollama_num_parallel: int = 4
    ollama_max_loaded_models: int = 2
    ollama_max_queue: int = 128
    proxy_port: int = 8080
    nvidia_driver_branch: str = "570"
    # The Auto Scaling group's launch hook that host_ready.py completes (infra/cdk/gpu.py).
    lifecycle_hook_name: str = "stratus-gpu-host-ready"

    def env_file(self) -> str:
        lines = []
        for name, value in asdict(self).items():
            text = str(value)
            if not _SAFE_VALUE.fullmatch(text):
                raise ParameterError(f"{name} may hold only letters, digits and {_SAFE_VALUE}")
            lines.append(f'{name.upper()}="{text}"')
        return "\n".join(lines) + "\n"


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks, readable in the EC2 console."""


def _literal_blocks(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _literal_blocks)


def _gzip_b64(data: bytes) -> str:
    # mtime=0: the same files give the same user data, so a redeploy replaces no instance.
    return base64.b64encode(gzip.compress(data, compresslevel=9, mtime=0)).decode("ascii")


def build_user_data(parameters: HostParameters) -> str:
    files = [
        {
            "path": f"{INSTALL_DIR}/{name}",
            "permissions": mode,
            "owner": "root:root",
            "encoding": "gz+b64",
            "content": _gzip_b64((GPU_HOST_DIR / name).read_bytes()),
        }
        for name, mode in HOST_FILES
    ]
    files.append(
        {
            "path": CONFIG_PATH,
            "permissions": "0600",
            "owner": "root:root",
            "content": parameters.env_file(),
        }
    )
    config = {"write_files": files, "runcmd": [[f"{INSTALL_DIR}/install.sh"]]}
    text = "#cloud-config\n" + yaml.dump(config, Dumper=_Dumper, sort_keys=False, width=1000)
    if len(text.encode()) > USER_DATA_LIMIT:
        raise ParameterError(f"user data is {len(text.encode())} bytes; EC2 allows 16 KiB")
    return text
