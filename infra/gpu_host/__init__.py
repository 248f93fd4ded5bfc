"""The GPU host's cloud-init user data, built from the files in ``gpu-host/``."""

from infra.gpu_host.user_data import HostParameters, build_user_data

__all__ = ["HostParameters", "build_user_data"]
