#!/usr/bin/env bash
# Pull every model in OLLAMA_PRELOAD_MODELS (space-separated) that is not on the volume yet, and
# load each into GPU memory, so the first user request pays for neither a download nor a cold
# load. Talks to Ollama directly on loopback: the proxy refuses pulls by design.
set -euo pipefail

ollama=${OLLAMA_LOCAL_URL:-http://127.0.0.1:11434}

for model in ${OLLAMA_PRELOAD_MODELS:-}; do
  # Names go into JSON by hand below: allow only what Ollama's model names use.
  if [[ ! $model =~ ^[A-Za-z0-9._:/-]+$ ]]; then
    echo "preload: refusing model name '$model'" >&2
    exit 1
  fi
  # A model already on the volume is not pulled again: a host started from the warm pool
  # (stopped, its volume kept) only loads its models, and needs no registry to do it.
  if curl -fsS --max-time 30 "$ollama/api/show" -d "{\"model\":\"$model\"}" >/dev/null 2>&1; then
    echo "preload: $model is on the volume"
  else
    echo "preload: pulling $model"
    curl -fsS --max-time 3600 "$ollama/api/pull" -d "{\"model\":\"$model\",\"stream\":false}" >/dev/null
  fi
  # A generate request without a prompt loads a chat model; an embedding model refuses it and
  # is loaded by embedding a word instead. The server's OLLAMA_KEEP_ALIVE keeps either loaded.
  if ! curl -fsS --max-time 900 "$ollama/api/generate" -d "{\"model\":\"$model\"}" >/dev/null 2>&1; then
    curl -fsS --max-time 900 "$ollama/api/embed" -d "{\"model\":\"$model\",\"input\":\"warm-up\"}" >/dev/null
  fi
  echo "preload: $model loaded"
done
