#!/bin/sh
# Lambda entry point of the chat function, started by the AWS Lambda Web Adapter.
# The adapter (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap, AWS_LWA_INVOKE_MODE=response_stream) runs
# this script as the function's handler, waits for AWS_LWA_READINESS_CHECK_PATH to answer on
# AWS_LWA_PORT, then streams every response through API Gateway as it is written.
# Same command in tests: tests/handler/test_chat_web_adapter.py runs this script.
set -eu
PORT="${AWS_LWA_PORT:-${PORT:-8080}}"
# In Lambda this script runs as a new process: the function's code (LAMBDA_TASK_ROOT) and the
# layers (/opt/python) are not on its path unless we put them there.
if [ -n "${LAMBDA_TASK_ROOT:-}" ]; then
  export PYTHONPATH="${LAMBDA_TASK_ROOT}:/opt/python${PYTHONPATH:+:$PYTHONPATH}"
fi
# uvloop + httptools: measured to cost about two thirds of asyncio + h11's CPU per streamed token.
exec python -m uvicorn functions.chat.entry:create_entry_app --factory \
  --host 127.0.0.1 --port "$PORT" --loop uvloop --http httptools \
  --no-access-log --timeout-keep-alive 75 --lifespan on
