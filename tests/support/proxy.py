"""Run the GPU host's authenticating proxy for real: Debian's nginx with the committed template.

The template is an http-context snippet, rendered the way the nginx image's entrypoint does
(envsubst of the named variables only). This module supplies what the image's own nginx.conf
would: the main context, and a private prefix for the pid, logs and temp files.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from local.children import free_port
from tests.support.system_deps import require

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "gpu-host" / "proxy" / "default.conf.template"
_PLACEHOLDER = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")
_STARTUP_TIMEOUT = 10.0

_MAIN_CONF = """\
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log notice;
events {{ worker_connections 256; }}
http {{
    access_log {prefix}/access.log;
    # The harshest surrounding configuration: compression on for the stream's media type,
    # which holds output back unless the proxy turns buffering off for the stream.
    gzip on;
    gzip_types application/json application/x-ndjson;
    gzip_min_length 1;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    include {prefix}/conf.d/*.conf;
}}
"""


def render(template: str, values: Mapping[str, str]) -> str:
    """envsubst restricted to `values`, as the image's NGINX_ENVSUBST_FILTER does."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def placeholders(template: str) -> set[str]:
    return set(_PLACEHOLDER.findall(template))


@dataclass(frozen=True)
class RunningProxy:
    host: str
    port: int
    prefix: Path

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


def write_config(prefix: Path, *, upstream: str, token: str, listen: str) -> Path:
    values = {"OLLAMA_API_KEY": token, "OLLAMA_UPSTREAM": upstream, "PROXY_LISTEN": listen}
    (prefix / "conf.d").mkdir(parents=True)
    (prefix / "tmp").mkdir()
    (prefix / "conf.d" / "ollama-proxy.conf").write_text(render(TEMPLATE.read_text(), values))
    main = prefix / "nginx.conf"
    main.write_text(_MAIN_CONF.format(prefix=prefix))
    return main


@contextmanager
def running_proxy(*, upstream: str, token: str) -> Iterator[RunningProxy]:
    """nginx in the foreground (not a daemon) on a free loopback port, stopped on exit."""
    nginx = require("nginx")
    prefix = Path(tempfile.mkdtemp(prefix="stratus-nginx-"))
    # Run as root, nginx's workers drop to an unprivileged user that must reach the prefix.
    prefix.chmod(0o755)
    port = free_port()
    main = write_config(prefix, upstream=upstream, token=token, listen=f"127.0.0.1:{port}")
    command = [nginx, "-p", str(prefix), "-c", str(main), "-e", str(prefix / "error.log")]
    process = subprocess.Popen(
        [*command, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    proxy = RunningProxy("127.0.0.1", port, prefix)
    try:
        _wait_listening(process, proxy)
        yield proxy
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        if process.stderr:
            process.stderr.close()
        shutil.rmtree(prefix, ignore_errors=True)


def _wait_listening(process: subprocess.Popen[bytes], proxy: RunningProxy) -> None:
    deadline = time.monotonic() + _STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise RuntimeError(f"nginx exited at start-up:\n{stderr}\n{proxy.error_log()}")
        try:
            with socket.create_connection((proxy.host, proxy.port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nginx did not listen within {_STARTUP_TIMEOUT}s:\n{proxy.error_log()}")
