#!/usr/bin/env bash
# Exit 0 when the host serves: Ollama answers on loopback, the proxy refuses a request without
# the token, its health path (the load balancer's) answers, it answers a request with the token,
# and every preloaded model is in memory. Otherwise print the first failure and exit 1.
set -euo pipefail

ollama=${OLLAMA_LOCAL_URL:-http://127.0.0.1:11434}
proxy=${PROXY_URL:-http://127.0.0.1:${PROXY_PORT:-8080}}
token_file=${PROXY_ENV_FILE:-/run/stratus-gpu-host/proxy.env}

fail() {
  echo "unhealthy: $*" >&2
  exit 1
}

if [[ -z ${OLLAMA_API_KEY:-} ]]; then
  [[ -r $token_file ]] || fail "no OLLAMA_API_KEY and cannot read $token_file"
  OLLAMA_API_KEY=$(sed -n 's/^OLLAMA_API_KEY=//p' "$token_file")
fi

curl -fsS --max-time 5 "$ollama/api/version" >/dev/null || fail "Ollama does not answer on $ollama"

status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$proxy/api/version" || true)
[[ $status == 401 ]] || fail "the proxy answered $status to a request without the token (want 401)"

# What the load balancer asks: the proxy's health path, which asks Ollama in turn.
status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$proxy/healthz" || true)
[[ $status == 200 ]] || fail "the proxy's /healthz answered $status (want 200)"

# The header goes through stdin, which keeps the token out of the process list.
status=$(printf 'Authorization: Bearer %s\n' "$OLLAMA_API_KEY" |
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H @- "$proxy/api/version" || true)
[[ $status == 200 ]] || fail "the proxy answered $status to a request with the token (want 200)"

loaded=$(curl -fsS --max-time 5 "$ollama/api/ps") || fail "Ollama does not list its loaded models"
for model in ${OLLAMA_PRELOAD_MODELS:-}; do
  [[ $model == *:* ]] || model="$model:latest"
  [[ $loaded == *"\"name\":\"$model\""* ]] || fail "model $model is not loaded"
done
echo "healthy"
