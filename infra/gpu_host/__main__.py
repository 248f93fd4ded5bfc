"""``python -m infra.gpu_host``: print the GPU host's cloud-init user data."""

from __future__ import annotations

import argparse
import sys

from infra.gpu_host.user_data import HostParameters, ParameterError, build_user_data


def main(argv: list[str] | None = None) -> int:
    defaults = HostParameters("", "")
    parser = argparse.ArgumentParser(prog="python -m infra.gpu_host", description=__doc__)
    parser.add_argument("--secret-arn", required=True, help="Secrets Manager ARN of the token")
    parser.add_argument("--region", required=True, help="AWS region of the secret")
    parser.add_argument("--models", default=defaults.ollama_preload_models)
    parser.add_argument("--keep-alive", default=defaults.ollama_keep_alive)
    parser.add_argument("--num-parallel", type=int, default=defaults.ollama_num_parallel)
    parser.add_argument("--max-loaded", type=int, default=defaults.ollama_max_loaded_models)
    parser.add_argument("--max-queue", type=int, default=defaults.ollama_max_queue)
    parser.add_argument("--proxy-port", type=int, default=defaults.proxy_port)
    parser.add_argument("--driver-branch", default=defaults.nvidia_driver_branch)
    args = parser.parse_args(argv)
    parameters = HostParameters(
        ollama_api_key_secret_arn=args.secret_arn,
        aws_region=args.region,
        ollama_preload_models=args.models,
        ollama_keep_alive=args.keep_alive,
        ollama_num_parallel=args.num_parallel,
        ollama_max_loaded_models=args.max_loaded,
        ollama_max_queue=args.max_queue,
        proxy_port=args.proxy_port,
        nvidia_driver_branch=args.driver_branch,
    )
    try:
        sys.stdout.write(build_user_data(parameters))
    except ParameterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
