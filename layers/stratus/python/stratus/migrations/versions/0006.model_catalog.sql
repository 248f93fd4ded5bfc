-- The last model list each model upstream answered with, so that every instance can still list
-- (and route to) a host's models while it sleeps, wakes or is down.
-- depends: 0005.rag

CREATE TABLE model_catalog (
    -- "<kind> <base URL>": the upstream as configured (never its API key).
    upstream text PRIMARY KEY,
    -- The upstream's own entries: Ollama's /api/tags models or an OpenAI /v1/models data list.
    models jsonb NOT NULL,
    seen_at timestamptz NOT NULL DEFAULT now()
);
