#!/usr/bin/env bash
# Start (or stop) the GPU host: at every boot, systemd runs `start.sh start`.
# Reads its parameters from host.env (see README.md): fetches the proxy's token from Secrets
# Manager onto tmpfs, starts Ollama and the proxy, preloads the models, checks health, and tells
# the Auto Scaling group the host is ready (host_ready.py).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
config=${STRATUS_GPU_HOST_CONFIG:-/etc/stratus-gpu-host/host.env}
run_dir=/run/stratus-gpu-host

# shellcheck source=/dev/null
source "$config"
export OLLAMA_PRELOAD_MODELS PROXY_PORT AWS_REGION LIFECYCLE_HOOK_NAME

compose() {
  docker compose --project-directory "$here" -f "$here/compose.yaml" --env-file "$config" "$@"
}

case "${1:-start}" in
  start)
    : "${OLLAMA_API_KEY_SECRET_ARN:?must be set in $config}" "${AWS_REGION:?must be set in $config}"
    install -d -m 0700 "$run_dir"
    python3 "$here/fetch_token.py" "$OLLAMA_API_KEY_SECRET_ARN" "$run_dir/proxy.env"
    compose up --detach --wait
    "$here/preload.sh"
    "$here/healthcheck.sh"
    # Only now may the group stop it into its warm pool, or put it in service.
    python3 "$here/host_ready.py"
    ;;
  stop)
    compose down
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
