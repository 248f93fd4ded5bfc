"""Each Lambda function's size, time limit and entry point, with the reason for each choice.

Lambda gives a function CPU in proportion to its memory: one full vCPU at 1,769 MB, less below.
The figures below are the ones ``infra/README.md`` explains; tests read them from the template.
"""

from __future__ import annotations

from dataclasses import dataclass

# API Gateway's limits for a REST API. A buffered (proxy) integration answers within 29 s; a
# streamed one may run 15 minutes, which is also Lambda's longest timeout.
BUFFERED_INTEGRATION_SECONDS = 29
STREAMED_INTEGRATION_SECONDS = 15 * 60

# CloudFront in front of the API: how long it waits for the first byte of an answer and then
# between bytes (its "response timeout"; 30 s by default, 60 s at most unless AWS raises the
# account's quota, up to 180 s). Chat sends nothing until the model's first output (or a 503),
# so a model that takes longer than this to start answering ends in CloudFront's 504; the API's
# own URL has no such limit. No response completion timeout is set: a stream may last as long
# as API Gateway allows (15 minutes).
CDN_API_READ_TIMEOUT_SECONDS = 60
CDN_API_READ_TIMEOUT_MAX_SECONDS = 180

# The largest request body a function receives. API Gateway takes up to 10 MB, but a synchronous
# Lambda invocation carries at most 6 MB of event, and API Gateway base64-encodes a body it
# treats as binary (every body, here), so about 4.4 MB of raw body fits. Larger files go straight
# to S3 through the rag function's presigned upload (POST /api/v1/files/upload-url).
LAMBDA_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024
MAX_INLINE_BODY_BYTES = LAMBDA_SYNC_PAYLOAD_BYTES * 3 // 4 - 64 * 1024

# The web client sends a file larger than this through the presigned upload (web/assets/app/
# api.js, LARGE_UPLOAD_BYTES): under MAX_INLINE_BODY_BYTES, with room for the form's framing.
LARGE_UPLOAD_BYTES = 4 * 1024 * 1024
# How long a browser may keep the answer to the uploads bucket's CORS preflight.
UPLOAD_CORS_MAX_AGE_SECONDS = 3000


def uploads_cors_rule(origins: list[object]) -> dict[str, object]:
    """The uploads bucket's one CORS rule: the web client's origins may POST a presigned
    upload (the form's fields and the file), and nothing else."""
    return {
        "AllowedMethods": ["POST"],
        "AllowedOrigins": origins,
        "MaxAge": UPLOAD_CORS_MAX_AGE_SECONDS,
    }


# The rag function's ingest handler. The rag branch names it functions.rag.handler.ingest_handler;
# this is the one place to change if it moves.
RAG_INGEST_HANDLER = "functions.rag.handler.ingest_handler"
# Objects the ingest handler is told about: what the rag function writes (files/<id>).
RAG_UPLOAD_PREFIX = "files/"

# argon2id for sign-in in Lambda: RFC 9106's low-memory parameters (64 MiB, t=3) with one lane.
# Below 1,769 MB a function has less than one vCPU and at 1,769 MB exactly one, so argon2's four
# lanes (the default p=4) run one after the other anyway: p=1 costs the same time, without the
# threads. Measured on one core (README): p=1 and p=4 take the same time within noise.
AUTH_ARGON2_PARALLELISM = 1


@dataclass(frozen=True)
class Profile:
    name: str  # the function's name in this stack, also POWERTOOLS_SERVICE_NAME
    zip_name: str  # which dist/functions/<zip_name>.zip holds its code
    handler: str
    memory_mb: int
    timeout_seconds: int
    why: str


AUTH = Profile(
    name="auth",
    zip_name="auth",
    handler="functions.auth.handler.handler",
    # Sign-in is one argon2 hash (64 MiB, CPU-bound). Billing is memory x time, and below one
    # vCPU the hash's time shrinks in proportion to memory, so every size up to 1,769 MB costs
    # the same per sign-in and the largest is the fastest. Peak memory is ~135 MB (measured).
    memory_mb=1769,
    timeout_seconds=BUFFERED_INTEGRATION_SECONDS,
    why="argon2 is CPU-bound: one full vCPU costs the same per sign-in as less, and is fastest",
)

CHAT = Profile(
    name="chat",
    zip_name="chat",
    handler="functions/chat/run.sh",
    # A generation mostly waits on the model host while it relays tokens, and it is billed for
    # its whole duration (minutes), so memory is kept small; 512 MB (~0.3 vCPU) still parses
    # and re-frames a fast model's stream with room to spare.
    memory_mb=512,
    # Lambda's longest run, equal to API Gateway's streaming limit; the function itself stops a
    # generation at STRATUS_CHAT_MAX_SECONDS (870 s) and saves it before the deadline.
    timeout_seconds=STREAMED_INTEGRATION_SECONDS,
    why="waits on the GPU while streaming and is billed for it; long generations need 15 min",
)

RAG = Profile(
    name="rag",
    zip_name="rag",
    handler="functions.rag.handler.handler",
    # Uploads up to ~4.4 MB in memory, small inline extractions, and retrieval.
    memory_mb=1024,
    timeout_seconds=BUFFERED_INTEGRATION_SECONDS,
    why="holds an upload in memory and runs small extractions inline",
)

RAG_INGEST = Profile(
    name="rag-ingest",
    zip_name="rag",
    handler=RAG_INGEST_HANDLER,
    # Extraction runs in a sandboxed child capped at STRATUS_RAG_EXTRACT_MEMORY_MB (512) beside
    # the parent and its batches of embeddings: 2 GB (just over one vCPU) for parsing speed.
    memory_mb=2048,
    # A large PDF's extraction and embedding; a claim older than 15 minutes counts as dead.
    timeout_seconds=15 * 60,
    why="parses documents (CPU) in a 512 MB sandboxed child and embeds them in batches",
)

MIGRATE = Profile(
    name="migrate",
    zip_name="",
    handler="index.handler",
    memory_mb=512,
    timeout_seconds=5 * 60,
    why="applies SQL migrations once per deploy",
)

HTTP_PROFILES = (AUTH, CHAT, RAG)

# At most this many chat generations at once by default (a parameter): the GPU host serves
# OLLAMA_NUM_PARALLEL requests per model and queues OLLAMA_MAX_QUEUE more before it answers 503
# (4 + 128 by default), so a burst of chat requests queues on the host, never overflows it,
# with room left for rag's embedding calls.
CHAT_RESERVED_CONCURRENCY = 64
# Ingestion embeds in batches on the same GPU: a bulk upload must not crowd out chat.
RAG_INGEST_RESERVED_CONCURRENCY = 4
# Lambda's own retries of an S3 event (2 = three attempts in all, STRATUS_RAG_INGEST_MAX_ATTEMPTS).
RAG_INGEST_RETRY_ATTEMPTS = 2
# An event that could not be processed within this long goes to the dead-letter queue.
RAG_INGEST_MAX_EVENT_AGE_SECONDS = 6 * 3600

LOG_RETENTION_DAYS = 30
